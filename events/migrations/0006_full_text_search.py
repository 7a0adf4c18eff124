from django.db import migrations

from events import search

# Full-text search (events/search.py): on PostgreSQL a tsvector column with a GIN index on
# events and casualty reports, kept by triggers; on SQLite FTS5 tables kept by triggers. The
# documents of the rows already there are computed here. ``search.install`` is idempotent, and
# a later change to the documents comes with a migration that installs them again.
#
# The trigram indexes that ``q`` used on events and reports (0003) go: the search index
# answers ``q`` and the admin's search. The citations' quote index stays for the citations'
# own admin search.
TRIGRAM_INDEXES = {
    "events_event": ["title", "description", "place_name", "admin1", "date_text"],
    "events_casualtyreport": ["description", "date_text"],
}


def install_search(apps, schema_editor):
    search.install(schema_editor)
    if schema_editor.connection.vendor == "postgresql":
        for table, columns in TRIGRAM_INDEXES.items():
            for column in columns:
                schema_editor.execute(f"DROP INDEX IF EXISTS {table}_{column}_trgm")


def uninstall_search(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table, columns in TRIGRAM_INDEXES.items():
            for column in columns:
                schema_editor.execute(
                    f"CREATE INDEX IF NOT EXISTS {table}_{column}_trgm ON {table} "
                    f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
                )
    search.uninstall(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0005_map_indexes"),
    ]

    operations = [
        migrations.RunPython(install_search, uninstall_search),
    ]
