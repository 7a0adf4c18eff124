from django.db import migrations, models

# Boxes and circles are answered from B-tree indexes that hold the coordinates (see
# Event.Meta.indexes), which the planner chooses between by the coordinates' statistics. The
# GiST index of points from 0003 is dropped: its containment test has a fixed selectivity, so
# with it the planner read every event of a large box by point before sorting them by date.
POINT_INDEX = "event_point_gist"


def drop_point_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {POINT_INDEX}")


def create_point_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {POINT_INDEX} ON events_event USING gist (point(longitude, latitude))"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0004_consensus"),
    ]

    operations = [
        migrations.RunPython(drop_point_index, create_point_index),
        migrations.RemoveIndex(model_name="event", name="event_coordinates_idx"),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["latitude", "longitude", "start_date", "id"], name="event_place_date_idx"),
        ),
        migrations.RemoveIndex(model_name="event", name="event_start_id_idx"),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["start_date", "id", "latitude", "longitude"], name="event_start_place_idx"),
        ),
    ]
