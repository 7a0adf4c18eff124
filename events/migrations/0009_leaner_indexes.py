# Indexes that only slowed writes: the varchar_pattern_ops copies PostgreSQL gets of indexed
# text columns (no filter of these uses LIKE), single-column indexes that a composite index
# beginning with the same column already serves, and the history tables' copies of the
# records' indexes (history is read by record, never filtered by these columns).
#
# The fields' db_index goes in the migration state only: on SQLite, Django alters a field by
# remaking its table, which would drop the triggers of events.search, events.counts and
# events.known. The indexes are dropped by name instead, found by introspection.

import django.core.validators
import django.db.models.deletion
import django_countries.fields
from django.db import migrations, models

# (table, column) of the indexes dropped.
DROPPED = [
    ("events_event", "type"),
    ("events_event", "date_precision"),
    ("events_event", "admin1"),
    ("events_event", "country"),
    ("events_casualtyreport", "country"),
    ("events_casualtyreport", "unit_id"),
    ("events_casualtyreport", "category"),
    ("events_casualtyreport", "kind"),
    ("events_citation", "event_id"),
    ("events_citation", "casualty_report_id"),
    *(("events_historicalevent", column) for column in ("type", "date_precision", "admin1", "country", "updated_at")),
    *(
        ("events_historicalcasualtyreport", column)
        for column in (
            "country",
            "unit_id",
            "category",
            "low",
            "best",
            "high",
            "kind",
            "as_of_date",
            "credibility",
            "updated_at",
        )
    ),
    *(("events_historicalcitation", column) for column in ("source_id", "published_date", "updated_at")),
]


def drop_indexes(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for table, column in DROPPED:
            for name, constraint in connection.introspection.get_constraints(cursor, table).items():
                single = constraint["columns"] == [column] and constraint["index"]
                if single and not (constraint["unique"] or constraint["primary_key"]):
                    schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def restore_indexes(apps, schema_editor):
    for table, column in DROPPED:
        name = schema_editor._create_index_name(table, [column], suffix="")
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})")


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0008_known_since"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="casualtyreport",
                    name="category",
                    field=models.CharField(
                        choices=[
                            ("killed", "Killed"),
                            ("wounded", "Wounded"),
                            ("captured", "Captured"),
                            ("missing", "Missing"),
                            ("casualties", "Casualties (killed and wounded)"),
                            ("unspecified", "Mixed or unspecified losses"),
                        ],
                        help_text="What kind of losses.",
                        max_length=20,
                    ),
                ),
                migrations.AlterField(
                    model_name="casualtyreport",
                    name="country",
                    field=django_countries.fields.CountryField(
                        blank=True,
                        help_text="ISO 3166-1 alpha-2 code of the country whose losses these are; blank when several (see text).",
                        max_length=2,
                    ),
                ),
                migrations.AlterField(
                    model_name="casualtyreport",
                    name="kind",
                    field=models.CharField(
                        choices=[
                            ("count", "Count"),
                            ("estimate", "Estimate"),
                            ("projection", "Projection"),
                            ("denial", "Denial"),
                        ],
                        help_text="Whether the figure is a count, an estimate, a projection or a denial.",
                        max_length=20,
                    ),
                ),
                migrations.AlterField(
                    model_name="casualtyreport",
                    name="unit",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        help_text="The unit that suffered the losses, if known.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="casualty_reports",
                        to="events.unit",
                    ),
                ),
                migrations.AlterField(
                    model_name="citation",
                    name="casualty_report",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="citations",
                        to="events.casualtyreport",
                    ),
                ),
                migrations.AlterField(
                    model_name="citation",
                    name="event",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="citations",
                        to="events.event",
                    ),
                ),
                migrations.AlterField(
                    model_name="event",
                    name="admin1",
                    field=models.CharField(
                        blank=True, help_text="First-level administrative region, e.g. “Kursk Oblast”.", max_length=200
                    ),
                ),
                migrations.AlterField(
                    model_name="event",
                    name="country",
                    field=django_countries.fields.CountryField(
                        blank=True,
                        help_text="ISO 3166-1 alpha-2 code of the country where the event happened.",
                        max_length=2,
                    ),
                ),
                migrations.AlterField(
                    model_name="event",
                    name="date_precision",
                    field=models.CharField(
                        choices=[
                            ("day", "Day"),
                            ("week", "Week"),
                            ("month", "Month"),
                            ("year", "Year"),
                            ("approximate", "Approximate"),
                        ],
                        default="day",
                        help_text="How exactly the interval is known.",
                        max_length=20,
                    ),
                ),
                migrations.AlterField(
                    model_name="event",
                    name="type",
                    field=models.CharField(
                        choices=[
                            ("deployment", "Deployment"),
                            ("withdrawal", "Withdrawal"),
                            ("combat", "Combat"),
                            ("strike", "Strike"),
                            ("capture", "Capture"),
                            ("statement", "Statement"),
                            ("training", "Training"),
                            ("other", "Other"),
                        ],
                        help_text="What kind of event this is.",
                        max_length=20,
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalcasualtyreport",
                    name="as_of_date",
                    field=models.DateField(blank=True, help_text="Date the figure is as of.", null=True),
                ),
                migrations.AlterField(
                    model_name="historicalcasualtyreport",
                    name="best",
                    field=models.PositiveIntegerField(blank=True, help_text="Best figure.", null=True),
                ),
                migrations.AlterField(
                    model_name="historicalcasualtyreport",
                    name="category",
                    field=models.CharField(
                        choices=[
                            ("killed", "Killed"),
                            ("wounded", "Wounded"),
                            ("captured", "Captured"),
                            ("missing", "Missing"),
                            ("casualties", "Casualties (killed and wounded)"),
                            ("unspecified", "Mixed or unspecified losses"),
                        ],
                        help_text="What kind of losses.",
                        max_length=20,
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalcasualtyreport",
                    name="country",
                    field=django_countries.fields.CountryField(
                        blank=True,
                        help_text="ISO 3166-1 alpha-2 code of the country whose losses these are; blank when several (see text).",
                        max_length=2,
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalcasualtyreport",
                    name="credibility",
                    field=models.PositiveSmallIntegerField(
                        choices=[
                            (1, "1: confirmed by other sources"),
                            (2, "2: probably true"),
                            (3, "3: possibly true"),
                            (4, "4: doubtful"),
                            (5, "5: improbable"),
                            (6, "6: truth cannot be judged"),
                        ],
                        default=6,
                        help_text="Credibility on the NATO Admiralty scale, 1 (confirmed by other sources) to 6 (cannot be judged).",
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(6),
                        ],
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalcasualtyreport",
                    name="high",
                    field=models.PositiveIntegerField(blank=True, help_text="Highest figure.", null=True),
                ),
                migrations.AlterField(
                    model_name="historicalcasualtyreport",
                    name="kind",
                    field=models.CharField(
                        choices=[
                            ("count", "Count"),
                            ("estimate", "Estimate"),
                            ("projection", "Projection"),
                            ("denial", "Denial"),
                        ],
                        help_text="Whether the figure is a count, an estimate, a projection or a denial.",
                        max_length=20,
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalcasualtyreport",
                    name="low",
                    field=models.PositiveIntegerField(
                        blank=True, help_text="Lowest figure; “over 4,000” has low 4,000.", null=True
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalcasualtyreport",
                    name="unit",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        help_text="The unit that suffered the losses, if known.",
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="events.unit",
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalcasualtyreport",
                    name="updated_at",
                    field=models.DateTimeField(
                        blank=True, editable=False, help_text="When this record was last changed."
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalcitation",
                    name="published_date",
                    field=models.DateField(blank=True, help_text="When the source published it.", null=True),
                ),
                migrations.AlterField(
                    model_name="historicalcitation",
                    name="source",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        help_text="The source cited.",
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="events.source",
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalcitation",
                    name="updated_at",
                    field=models.DateTimeField(
                        blank=True, editable=False, help_text="When this record was last changed."
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalevent",
                    name="admin1",
                    field=models.CharField(
                        blank=True, help_text="First-level administrative region, e.g. “Kursk Oblast”.", max_length=200
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalevent",
                    name="country",
                    field=django_countries.fields.CountryField(
                        blank=True,
                        help_text="ISO 3166-1 alpha-2 code of the country where the event happened.",
                        max_length=2,
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalevent",
                    name="date_precision",
                    field=models.CharField(
                        choices=[
                            ("day", "Day"),
                            ("week", "Week"),
                            ("month", "Month"),
                            ("year", "Year"),
                            ("approximate", "Approximate"),
                        ],
                        default="day",
                        help_text="How exactly the interval is known.",
                        max_length=20,
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalevent",
                    name="type",
                    field=models.CharField(
                        choices=[
                            ("deployment", "Deployment"),
                            ("withdrawal", "Withdrawal"),
                            ("combat", "Combat"),
                            ("strike", "Strike"),
                            ("capture", "Capture"),
                            ("statement", "Statement"),
                            ("training", "Training"),
                            ("other", "Other"),
                        ],
                        help_text="What kind of event this is.",
                        max_length=20,
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalevent",
                    name="updated_at",
                    field=models.DateTimeField(
                        blank=True, editable=False, help_text="When this record was last changed."
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, restore_indexes)],
        ),
        migrations.AddIndex(
            model_name="casualtyreport",
            index=models.Index(fields=["category"], name="report_category_idx"),
        ),
        migrations.AddIndex(
            model_name="casualtyreport",
            index=models.Index(fields=["country", "as_of_date", "id"], name="report_country_asof_idx"),
        ),
        migrations.AddIndex(
            model_name="casualtyreport",
            index=models.Index(fields=["kind"], name="report_kind_idx"),
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["type"], name="event_type_idx"),
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["date_precision"], name="event_date_precision_idx"),
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["admin1"], name="event_admin1_idx"),
        ),
    ]
