from django.db import migrations

from events import counts

# Each source's number of citations, kept by triggers on the citations (events/counts.py)
# and counted here for the citations already stored.


def install(apps, schema_editor):
    counts.install(schema_editor)


def uninstall(apps, schema_editor):
    counts.uninstall(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0006_full_text_search"),
    ]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
