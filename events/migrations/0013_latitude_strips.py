from django.db import migrations

# SQLite only (see events/geo.py): events by strip of a quarter degree of latitude, then
# longitude, so that a box or a circle reads only its own longitudes in each strip of its band.
# PostgreSQL's statistics of the coordinates serve it with the indexes it has. The expression
# must stay what geo.LatitudeStrip writes. Partial, for events with coordinates, and written
# with the strip so that only a query with a condition on the strip can use it: SQLite would
# otherwise scan it whole for a query with none that it answers better by another index (a
# count of a box walking the date order would start at the South Pole).
INDEX = "event_strip_place_idx"


def create_strip_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON events_event "
            "(CAST(latitude * 4 AS INTEGER), longitude, latitude, start_date) "
            "WHERE CAST(latitude * 4 AS INTEGER) IS NOT NULL"
        )


def drop_strip_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0012_unit_positions"),
    ]

    operations = [migrations.RunPython(create_strip_index, drop_strip_index, elidable=False)]
