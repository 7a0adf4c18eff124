# Equipment losses: a casualty report's equipment type and system name, the new categories of
# losses only equipment suffers, the rule tying them together, and a citation's visual evidence.
# The consensus subject index gains the equipment type.
#
# The columns are added with ALTER TABLE ... ADD COLUMN on SQLite: Django would remake the
# tables (a NOT NULL column with a default), which drops the triggers of events.search,
# events.counts, events.known and events.imported. For the same reason the rule is a check
# constraint on PostgreSQL and a pair of triggers on SQLite, which cannot add a constraint to a
# table in place; the model's constraint validates every write through Django on both.

from django.db import migrations, models

COLUMNS = [
    ("casualtyreport", "equipment_type", 20),
    ("casualtyreport", "equipment_name", 200),
    ("citation", "evidence_url", 500),
]
EQUIPMENT_RULE = (
    "(equipment_type = '' AND equipment_name = '' AND category NOT IN ('destroyed', 'damaged', 'abandoned')) "
    "OR (equipment_type <> '' AND category NOT IN ('killed', 'wounded', 'missing', 'casualties'))"
)
CONSTRAINT = "casualtyreport_equipment_category"


def add_columns(apps, schema_editor):
    """What Django's AddField does on PostgreSQL; on SQLite the default stays (it cannot be dropped)."""
    for model_name, column, length in COLUMNS:
        for name in (model_name, f"historical{model_name}"):
            table = apps.get_model("events", name)._meta.db_table
            schema_editor.execute(f"ALTER TABLE {table} ADD COLUMN {column} varchar({length}) NOT NULL DEFAULT ''")
            if schema_editor.connection.vendor != "sqlite":
                schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT")


def remove_columns(apps, schema_editor):
    for model_name, column, _length in COLUMNS:
        for name in (model_name, f"historical{model_name}"):
            table = apps.get_model("events", name)._meta.db_table
            schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


def add_rule(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for operation, when in (("insert", "INSERT"), ("update", "UPDATE OF category, equipment_type, equipment_name")):
            schema_editor.execute(
                f"CREATE TRIGGER {CONSTRAINT}_{operation} BEFORE {when} ON events_casualtyreport "
                f"WHEN NOT ({EQUIPMENT_RULE.replace('equipment_', 'NEW.equipment_').replace('category', 'NEW.category')}) "
                f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {CONSTRAINT}'); END"
            )
    else:
        schema_editor.execute(f"ALTER TABLE events_casualtyreport ADD CONSTRAINT {CONSTRAINT} CHECK ({EQUIPMENT_RULE})")


def remove_rule(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for operation in ("insert", "update"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {CONSTRAINT}_{operation}")
    else:
        schema_editor.execute(f"ALTER TABLE events_casualtyreport DROP CONSTRAINT IF EXISTS {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0010_import_row_digests"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name='casualtyreport',
                    name='equipment_name',
                    field=models.CharField(blank=True, help_text='For losses of equipment: the system as the source names it, e.g. “T-72B3 obr. 2016”.', max_length=200),
                ),
                migrations.AddField(
                    model_name='casualtyreport',
                    name='equipment_type',
                    field=models.CharField(blank=True, choices=[('tank', 'Tank'), ('afv', 'Armoured fighting vehicle'), ('ifv', 'Infantry fighting vehicle'), ('apc', 'Armoured personnel carrier'), ('artillery', 'Artillery'), ('mrl', 'Multiple rocket launcher'), ('air_defence', 'Air defence'), ('aircraft', 'Aircraft'), ('helicopter', 'Helicopter'), ('drone', 'Drone'), ('naval_vessel', 'Naval vessel'), ('vehicle', 'Vehicle'), ('other', 'Other')], help_text='For losses of equipment: what kind of materiel; blank for losses of personnel.', max_length=20),
                ),
                migrations.AddField(
                    model_name='citation',
                    name='evidence_url',
                    field=models.URLField(blank=True, help_text='An image or video that shows what the claim says (e.g. the photograph confirming a loss).', max_length=500),
                ),
                migrations.AddField(
                    model_name='historicalcasualtyreport',
                    name='equipment_name',
                    field=models.CharField(blank=True, help_text='For losses of equipment: the system as the source names it, e.g. “T-72B3 obr. 2016”.', max_length=200),
                ),
                migrations.AddField(
                    model_name='historicalcasualtyreport',
                    name='equipment_type',
                    field=models.CharField(blank=True, choices=[('tank', 'Tank'), ('afv', 'Armoured fighting vehicle'), ('ifv', 'Infantry fighting vehicle'), ('apc', 'Armoured personnel carrier'), ('artillery', 'Artillery'), ('mrl', 'Multiple rocket launcher'), ('air_defence', 'Air defence'), ('aircraft', 'Aircraft'), ('helicopter', 'Helicopter'), ('drone', 'Drone'), ('naval_vessel', 'Naval vessel'), ('vehicle', 'Vehicle'), ('other', 'Other')], help_text='For losses of equipment: what kind of materiel; blank for losses of personnel.', max_length=20),
                ),
                migrations.AddField(
                    model_name='historicalcitation',
                    name='evidence_url',
                    field=models.URLField(blank=True, help_text='An image or video that shows what the claim says (e.g. the photograph confirming a loss).', max_length=500),
                ),
                migrations.AlterField(
                    model_name='casualtyreport',
                    name='category',
                    field=models.CharField(choices=[('killed', 'Killed'), ('wounded', 'Wounded'), ('captured', 'Captured'), ('missing', 'Missing'), ('casualties', 'Casualties (killed and wounded)'), ('destroyed', 'Destroyed (equipment)'), ('damaged', 'Damaged (equipment)'), ('abandoned', 'Abandoned (equipment)'), ('unspecified', 'Mixed or unspecified losses')], help_text='What kind of losses: of personnel (killed, wounded, missing, casualties), of equipment (destroyed, damaged, abandoned), or either (captured, unspecified).', max_length=20),
                ),
                migrations.AlterField(
                    model_name='historicalcasualtyreport',
                    name='category',
                    field=models.CharField(choices=[('killed', 'Killed'), ('wounded', 'Wounded'), ('captured', 'Captured'), ('missing', 'Missing'), ('casualties', 'Casualties (killed and wounded)'), ('destroyed', 'Destroyed (equipment)'), ('damaged', 'Damaged (equipment)'), ('abandoned', 'Abandoned (equipment)'), ('unspecified', 'Mixed or unspecified losses')], help_text='What kind of losses: of personnel (killed, wounded, missing, casualties), of equipment (destroyed, damaged, abandoned), or either (captured, unspecified).', max_length=20),
                ),
                migrations.AddConstraint(
                    model_name='casualtyreport',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('equipment_name', ''), ('equipment_type', ''), models.Q(('category__in', ('destroyed', 'damaged', 'abandoned')), _negated=True)), models.Q(models.Q(('equipment_type', ''), _negated=True), models.Q(('category__in', ('killed', 'wounded', 'missing', 'casualties')), _negated=True)), _connector='OR'), name='casualtyreport_equipment_category', violation_error_message='Losses of equipment (destroyed, damaged, abandoned) need an equipment type; losses of personnel (killed, wounded, missing, casualties) have none; an equipment name needs a type.'),
                ),
            ],
            database_operations=[
                migrations.RunPython(add_columns, remove_columns),
                migrations.RunPython(add_rule, remove_rule),
            ],
        ),
        # Indexes are created and dropped in place on both databases.
        migrations.RemoveIndex(model_name="casualtyreport", name="report_subject_idx"),
        migrations.AddIndex(
            model_name="casualtyreport",
            index=models.Index(
                fields=["country", "category", "equipment_type", "unit", "event"],
                include=(
                    "id",
                    "kind",
                    "low",
                    "best",
                    "high",
                    "as_of_date",
                    "period_start",
                    "horizon_date",
                    "date_precision",
                    "date_text",
                    "credibility",
                    "equipment_name",
                ),
                name="report_subject_idx",
            ),
        ),
    ]
