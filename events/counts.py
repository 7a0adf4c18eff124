"""Each source's number of citations, kept by the database: the sources list and admin read it.

A source may be cited millions of times, so counting its citations for each page (a
subquery over ``events_citation`` per source) took half a second for a page of the API's
sources list, and the admin's changelist, sorted by that count, counted them all. The count
is kept instead in the table ``events_source_citations`` (``source_id``, ``citations``) by
triggers on ``events_citation``, so every write path keeps it exact: the API, the admin, the
importers, a bulk ``UPDATE`` or ``DELETE``, a curator's SQL.

- **PostgreSQL**: statement-level triggers with transition tables, so one bulk insert adds
  to each of its sources once. Each statement applies its changes with one
  ``INSERT ... ON CONFLICT DO UPDATE`` in the order of the sources' ids, so that two
  transactions counting citations of the same sources wait for each other, never deadlock.
  ``TRUNCATE`` of the citations empties the counts too.
- **SQLite**: row triggers.

The table is not a model: Django never writes it, and it is in no fixture, dump or form. A
source's row stays when the source is deleted (its citations are gone first, so it counts
none): the count is always that of the citations with its ``source_id``.
"""

from django.db.models import BigIntegerField

from .expressions import OwnRowExpression

TABLE = "events_source_citations"
CITATIONS = "events_citation"


class CitationCount(OwnRowExpression):
    """The number of citations of the source on the row, from the kept counts."""

    output_field = BigIntegerField()

    def as_sql(self, compiler, connection):
        return f"coalesce((SELECT citations FROM {TABLE} WHERE source_id = {self.column(compiler, 'id')}), 0)", []


def install(schema_editor) -> None:
    """Create (or replace) the table and its triggers, and count the citations there are."""
    vendor = schema_editor.connection.vendor
    setup = {"postgresql": postgres_setup, "sqlite": sqlite_setup}[vendor]
    for statement in teardown(vendor) + setup() + rebuild_sql(vendor):
        schema_editor.execute(statement)


def uninstall(schema_editor) -> None:
    for statement in teardown(schema_editor.connection.vendor):
        schema_editor.execute(statement)
    schema_editor.execute(f"DROP TABLE IF EXISTS {TABLE}")


def rebuild_sql(vendor: str) -> list[str]:
    """Statements that count every source's citations again (e.g. after a load with the triggers off)."""
    return [
        f"DELETE FROM {TABLE}",
        f"INSERT INTO {TABLE} (source_id, citations) SELECT source_id, count(*) FROM {CITATIONS} GROUP BY source_id",
    ]


def table_sql() -> str:
    return f"CREATE TABLE IF NOT EXISTS {TABLE} (source_id bigint PRIMARY KEY, citations bigint NOT NULL)"


# (operation, transition tables, the (source_id, change) rows of a statement)
POSTGRES_CHANGES = (
    ("insert", "NEW TABLE AS new_rows", "SELECT source_id, 1 FROM new_rows"),
    ("delete", "OLD TABLE AS old_rows", "SELECT source_id, -1 FROM old_rows"),
    (
        "update",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "SELECT moved.source_id, moved.change FROM old_rows o JOIN new_rows n USING (id) "
        "CROSS JOIN LATERAL (VALUES (o.source_id, -1), (n.source_id, 1)) AS moved (source_id, change) "
        "WHERE o.source_id <> n.source_id",
    ),
)


def postgres_setup() -> list[str]:
    statements = [table_sql()]
    for operation, transition, changes in POSTGRES_CHANGES:
        name = f"{CITATIONS}_count_{operation}"
        statements += [
            f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO {TABLE} AS kept (source_id, citations)
                SELECT source_id, sum(change) FROM ({changes}) AS changes (source_id, change)
                GROUP BY source_id ORDER BY source_id
                ON CONFLICT (source_id) DO UPDATE SET citations = kept.citations + EXCLUDED.citations;
                RETURN NULL;
            END $$""",
            f"CREATE TRIGGER {name} AFTER {operation.upper()} ON {CITATIONS} "
            f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
        ]
    name = f"{CITATIONS}_count_truncate"
    statements += [
        f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            TRUNCATE {TABLE};
            RETURN NULL;
        END $$""",
        f"CREATE TRIGGER {name} AFTER TRUNCATE ON {CITATIONS} FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
    ]
    return statements


def sqlite_setup() -> list[str]:
    def add(row: str, change: int) -> str:
        return (
            f"INSERT INTO {TABLE} (source_id, citations) VALUES ({row}.source_id, {change}) "
            f"ON CONFLICT (source_id) DO UPDATE SET citations = citations + {change};"
        )

    return [
        table_sql(),
        f"CREATE TRIGGER {CITATIONS}_count_insert AFTER INSERT ON {CITATIONS} BEGIN {add('NEW', 1)} END",
        f"CREATE TRIGGER {CITATIONS}_count_delete AFTER DELETE ON {CITATIONS} BEGIN {add('OLD', -1)} END",
        f"CREATE TRIGGER {CITATIONS}_count_update AFTER UPDATE OF source_id ON {CITATIONS} "
        f"WHEN OLD.source_id IS NOT NEW.source_id BEGIN {add('OLD', -1)} {add('NEW', 1)} END",
    ]


def teardown(vendor: str) -> list[str]:
    operations = ("insert", "delete", "update") + (("truncate",) if vendor == "postgresql" else ())
    statements = []
    for operation in operations:
        name = f"{CITATIONS}_count_{operation}"
        statements.append(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {CITATIONS}" if vendor == "postgresql" else ""))
        if vendor == "postgresql":
            statements.append(f"DROP FUNCTION IF EXISTS {name}()")
    return statements
