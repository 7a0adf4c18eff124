from django.db import migrations

from events import known

# The day each claim became known (its earliest citation's), kept by triggers on the
# citations (events/known.py) and computed here for the claims already stored.


def install(apps, schema_editor):
    known.install(schema_editor)


def uninstall(apps, schema_editor):
    known.uninstall(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0007_source_citation_counts"),
    ]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
