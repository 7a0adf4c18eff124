# Unit positions: where a source placed a unit on a date (a unit's track), with their history.
# New tables only, with their indexes and constraints in CreateModel: no existing table is remade.

import django.core.validators
import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0011_equipment_losses"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="HistoricalUnitPosition",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                (
                    "created_at",
                    models.DateTimeField(blank=True, editable=False, help_text="When this record was created."),
                ),
                (
                    "updated_at",
                    models.DateTimeField(blank=True, editable=False, help_text="When this record was last changed."),
                ),
                ("date", models.DateField(help_text="The day the unit was reported there.")),
                (
                    "date_precision",
                    models.CharField(
                        choices=[
                            ("day", "Day"),
                            ("week", "Week"),
                            ("month", "Month"),
                            ("year", "Year"),
                            ("approximate", "Approximate"),
                        ],
                        default="day",
                        help_text="How exactly the date is known.",
                        max_length=20,
                    ),
                ),
                (
                    "latitude",
                    models.FloatField(
                        help_text="WGS 84 latitude in decimal degrees.",
                        validators=[
                            django.core.validators.MinValueValidator(-90),
                            django.core.validators.MaxValueValidator(90),
                        ],
                    ),
                ),
                (
                    "longitude",
                    models.FloatField(
                        help_text="WGS 84 longitude in decimal degrees.",
                        validators=[
                            django.core.validators.MinValueValidator(-180),
                            django.core.validators.MaxValueValidator(180),
                        ],
                    ),
                ),
                (
                    "location_precision",
                    models.CharField(
                        choices=[
                            ("exact", "Exact location"),
                            ("near", "Within about 25 km"),
                            ("admin2", "Second-order administrative unit"),
                            ("admin1", "First-order administrative unit"),
                            ("region", "Larger than a first-order unit"),
                            ("country", "Country"),
                            ("international", "International waters or airspace"),
                        ],
                        default="exact",
                        help_text="How exactly the coordinates locate the unit.",
                        max_length=20,
                    ),
                ),
                (
                    "strength",
                    models.CharField(
                        blank=True,
                        help_text="The unit's strength there as the source wrote it, e.g. “2 BTGs”.",
                        max_length=100,
                    ),
                ),
                ("source_url", models.URLField(blank=True, help_text="Where the source reported it.", max_length=500)),
                ("source_date", models.DateField(blank=True, help_text="When the source published it.", null=True)),
                ("notes", models.TextField(blank=True, help_text="Anything else the source says about the position.")),
                (
                    "external_id",
                    models.CharField(
                        blank=True,
                        help_text="Id in the dataset this record was imported from; blank if entered here.",
                        max_length=100,
                    ),
                ),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "source",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        help_text="Who reported the position.",
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="events.source",
                    ),
                ),
                (
                    "unit",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        help_text="The unit reported at this place.",
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="events.unit",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical unit position",
                "verbose_name_plural": "historical unit positions",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="UnitPosition",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(auto_now_add=True, help_text="When this record was created.")),
                (
                    "updated_at",
                    models.DateTimeField(auto_now=True, db_index=True, help_text="When this record was last changed."),
                ),
                ("date", models.DateField(help_text="The day the unit was reported there.")),
                (
                    "date_precision",
                    models.CharField(
                        choices=[
                            ("day", "Day"),
                            ("week", "Week"),
                            ("month", "Month"),
                            ("year", "Year"),
                            ("approximate", "Approximate"),
                        ],
                        default="day",
                        help_text="How exactly the date is known.",
                        max_length=20,
                    ),
                ),
                (
                    "latitude",
                    models.FloatField(
                        help_text="WGS 84 latitude in decimal degrees.",
                        validators=[
                            django.core.validators.MinValueValidator(-90),
                            django.core.validators.MaxValueValidator(90),
                        ],
                    ),
                ),
                (
                    "longitude",
                    models.FloatField(
                        help_text="WGS 84 longitude in decimal degrees.",
                        validators=[
                            django.core.validators.MinValueValidator(-180),
                            django.core.validators.MaxValueValidator(180),
                        ],
                    ),
                ),
                (
                    "location_precision",
                    models.CharField(
                        choices=[
                            ("exact", "Exact location"),
                            ("near", "Within about 25 km"),
                            ("admin2", "Second-order administrative unit"),
                            ("admin1", "First-order administrative unit"),
                            ("region", "Larger than a first-order unit"),
                            ("country", "Country"),
                            ("international", "International waters or airspace"),
                        ],
                        default="exact",
                        help_text="How exactly the coordinates locate the unit.",
                        max_length=20,
                    ),
                ),
                (
                    "strength",
                    models.CharField(
                        blank=True,
                        help_text="The unit's strength there as the source wrote it, e.g. “2 BTGs”.",
                        max_length=100,
                    ),
                ),
                ("source_url", models.URLField(blank=True, help_text="Where the source reported it.", max_length=500)),
                ("source_date", models.DateField(blank=True, help_text="When the source published it.", null=True)),
                ("notes", models.TextField(blank=True, help_text="Anything else the source says about the position.")),
                (
                    "external_id",
                    models.CharField(
                        blank=True,
                        help_text="Id in the dataset this record was imported from; blank if entered here.",
                        max_length=100,
                    ),
                ),
                (
                    "source",
                    models.ForeignKey(
                        blank=True,
                        help_text="Who reported the position.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="unit_positions",
                        to="events.source",
                    ),
                ),
                (
                    "unit",
                    models.ForeignKey(
                        db_index=False,
                        help_text="The unit reported at this place.",
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="positions",
                        to="events.unit",
                    ),
                ),
            ],
            options={
                "ordering": ["unit_id", "date", "id"],
                "indexes": [
                    models.Index(fields=["unit", "date", "id"], name="unitposition_unit_date_idx"),
                    models.Index(fields=["latitude", "longitude", "date"], name="unitposition_place_date_idx"),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("latitude__gte", -90), ("latitude__lte", 90)),
                        name="unitposition_latitude_range",
                        violation_error_message="Latitude must be between -90 and 90.",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("longitude__gte", -180), ("longitude__lte", 180)),
                        name="unitposition_longitude_range",
                        violation_error_message="Longitude must be between -180 and 180.",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("external_id", ""), _negated=True),
                        fields=("external_id",),
                        name="unitposition_unique_external_id",
                        violation_error_message="Another record was already imported with this external id.",
                    ),
                ],
            },
        ),
    ]
