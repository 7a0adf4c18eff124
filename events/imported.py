"""The rows an import wrote, by digest, kept valid by the database: re-importing them is a lookup.

Re-importing a file most of whose rows have not changed (a dataset's next release) read, checked
and compared every row, at a few thousand rows a second. Each row an import accepts is therefore
kept in ``events_import_row`` by a digest of its text (of its fields, in a file read by
``csv`` itself; keyed with the file's header and the importer's own code,
:func:`events.importers.base.row_salt`), with the ids of the event and the report it stands
for, and what the checks for repeated keys need (the event's key and fingerprint, the
reports' keys). A later import finds a row's digest there and counts it unchanged without
parsing it. One row is kept per (event, report): a newer version of the row replaces it.

That is right only while the records are as the import left them: a curator's edit since then
must be undone by a re-import, as it was when every row was compared. So the database drops a
row's digest whenever anything the row stands for changes, on every write path (the API, the
admin, another import, a curator's SQL), by triggers:

- an event updated or deleted drops the digests of its rows;
- a casualty report created, updated or deleted drops those of its rows and its event's (a
  report added to an event may be one a re-import would delete);
- a citation created, updated or deleted drops those of its event's, or its report's and that
  report's event's;
- a unit created, renamed or deleted drops every digest of a row that named a unit (claims
  files name units, which the import looks up by name);
- a source created by anything but an import, or whose slug, name or aliases change, or deleted,
  drops every digest: rows name sources by slug and name. A source an import creates cannot
  change how an earlier row was read (that row would have created it), so the import marks its
  own transaction in ``events_import_writing`` and those inserts keep the digests;
- ``TRUNCATE`` of any of these tables empties the digests (PostgreSQL).

The import writes a batch's digests after its records, in the same transaction, so its own
writes (which drop digests through the same triggers) leave the digests of what it just wrote.
A row with warnings (a value cut to fit), or rejected, is never kept: it is read again each time.

On PostgreSQL the triggers are statement-level, with transition tables, so a bulk write drops
digests with one statement; on SQLite they are row triggers. The tables are not models: they are
in no fixture, dump or form.
"""

TABLE = "events_import_row"
WRITING = "events_import_writing"
EVENTS, REPORTS, CITATIONS = "events_event", "events_casualtyreport", "events_citation"
UNITS, SOURCES = "events_unit", "events_source"
# The records a kept row stands for, as one value per column (ids are positive): one row per pair.
RECORDS = "coalesce(event_id, 0), coalesce(report_id, 0)"


def columns(vendor: str) -> list[tuple[str, str]]:
    """(name, type) of the table's columns, which the import's staging table has too.

    PostgreSQL keeps a digest as 16 bytes (a ``uuid``), which it compares faster than their hex text.
    """
    flag = "boolean" if vendor == "postgresql" else "bool"
    return [
        ("digest", "uuid" if vendor == "postgresql" else "text"),
        ("event_id", "bigint"),
        ("report_id", "bigint"),
        ("named_unit", flag),
        ("event_key", "text"),
        ("fingerprint", "text"),
        ("report_keys", "text"),
    ]


def digest_text(vendor: str) -> str:
    """The digest column read as the hex text the importer makes (see ``row_digest``)."""
    return "replace(digest::text, '-', '')" if vendor == "postgresql" else "digest"


def tables_sql(vendor: str) -> list[str]:
    required = {"digest": " PRIMARY KEY", "named_unit": " NOT NULL", "report_keys": " NOT NULL"}
    definition = ", ".join(f"{name} {kind}{required.get(name, '')}" for name, kind in columns(vendor))
    return [
        f"CREATE TABLE IF NOT EXISTS {TABLE} ({definition})",
        f"CREATE UNIQUE INDEX IF NOT EXISTS {TABLE}_records_idx ON {TABLE} ({RECORDS})",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_event_idx ON {TABLE} (event_id) WHERE event_id IS NOT NULL",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_report_idx ON {TABLE} (report_id) WHERE report_id IS NOT NULL",
        f"CREATE TABLE IF NOT EXISTS {WRITING} (writing integer NOT NULL)",
    ]


def install(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    setup = {"postgresql": postgres_setup, "sqlite": sqlite_setup}[vendor]
    for statement in teardown(vendor) + tables_sql(vendor) + setup():
        schema_editor.execute(statement)


def uninstall(schema_editor) -> None:
    for statement in teardown(schema_editor.connection.vendor):
        schema_editor.execute(statement)
    schema_editor.execute(f"DROP TABLE IF EXISTS {TABLE}")
    schema_editor.execute(f"DROP TABLE IF EXISTS {WRITING}")


def clear_sql() -> list[str]:
    """Statements that forget every digest (e.g. after a load with the triggers off)."""
    return [f"DELETE FROM {TABLE}"]


def drop(events: str = "", reports: str = "", *, lists: bool = False) -> list[str]:
    """Statements dropping the digests of the events and reports these subqueries give.

    With ``lists``, they are lists of values (a SQLite row trigger's). A subquery is read into an
    array, which PostgreSQL looks up through the index whatever it knows of the table.
    """
    statements = []
    for column, ids in (("event_id", events), ("report_id", reports)):
        if ids:
            statements.append(
                f"DELETE FROM {TABLE} WHERE {column} " + (f"IN ({ids})" if lists else f"= ANY(ARRAY({ids}))")
            )
    return statements


def citation_subjects(rows: str) -> tuple[str, str]:
    """(events, reports) that the citations in ``rows`` belong to, as subqueries."""
    events = (
        f"SELECT event_id FROM {rows} WHERE event_id IS NOT NULL UNION "
        f"SELECT r.event_id FROM {REPORTS} r WHERE r.id IN (SELECT casualty_report_id FROM {rows})"
    )
    return events, f"SELECT casualty_report_id FROM {rows} WHERE casualty_report_id IS NOT NULL"


# --- PostgreSQL ---------------------------------------------------------------------------

TRANSITIONS = {
    "insert": "NEW TABLE AS new_rows",
    "delete": "OLD TABLE AS old_rows",
    "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
}


def postgres_changes() -> list[tuple[str, str, list[str]]]:
    """(table, operation, statements) of the statement-level triggers with transition tables."""
    changes = [
        (EVENTS, "update", drop(events="SELECT id FROM old_rows")),
        (EVENTS, "delete", drop(events="SELECT id FROM old_rows")),
        (REPORTS, "insert", drop(events="SELECT event_id FROM new_rows")),
        (
            REPORTS,
            "update",
            drop(
                events="SELECT event_id FROM old_rows UNION SELECT event_id FROM new_rows",
                reports="SELECT id FROM old_rows",
            ),
        ),
        (REPORTS, "delete", drop(events="SELECT event_id FROM old_rows", reports="SELECT id FROM old_rows")),
    ]
    for operation in ("insert", "update", "delete"):
        rows = {
            "insert": "new_rows",
            "delete": "old_rows",
            "update": "(SELECT * FROM old_rows UNION ALL SELECT * FROM new_rows) AS moved",
        }[operation]
        events, reports = citation_subjects(rows)
        changes.append((CITATIONS, operation, drop(events=events, reports=reports)))
    return changes


def postgres_function(name: str, body: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {body}
        RETURN NULL;
    END $$"""


def postgres_setup() -> list[str]:
    statements = []
    for table, operation, body in postgres_changes():
        name = f"{table}_digests_{operation}"
        statements += [
            postgres_function(name, "\n".join(f"{statement};" for statement in body)),
            f"CREATE TRIGGER {name} AFTER {operation.upper()} ON {table} "
            f"REFERENCING {TRANSITIONS[operation]} FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
        ]
    for table in (EVENTS, REPORTS, CITATIONS, UNITS, SOURCES):
        name = f"{table}_digests_truncate"
        statements += [
            postgres_function(name, f"TRUNCATE {TABLE};"),
            f"CREATE TRIGGER {name} AFTER TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
        ]
    # Units and sources: no transition tables (a trigger on some columns cannot have them).
    units = f"DELETE FROM {TABLE} WHERE named_unit;"
    for operation, event in (("insert", "INSERT"), ("update", "UPDATE OF name, country"), ("delete", "DELETE")):
        name = f"{UNITS}_digests_{operation}"
        statements += [
            postgres_function(name, units),
            f"CREATE TRIGGER {name} AFTER {event} ON {UNITS} FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
        ]
    everything = f"DELETE FROM {TABLE};"
    outside_imports = f"IF NOT EXISTS (SELECT 1 FROM {WRITING}) THEN {everything} END IF;"
    for operation, event, body in (
        ("insert", "INSERT", outside_imports),
        ("update", "UPDATE OF slug, name, aliases", everything),
        ("delete", "DELETE", everything),
    ):
        name = f"{SOURCES}_digests_{operation}"
        statements += [
            postgres_function(name, body),
            f"CREATE TRIGGER {name} AFTER {event} ON {SOURCES} FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
        ]
    return statements


# --- SQLite -------------------------------------------------------------------------------


def sqlite_setup() -> list[str]:
    def trigger(table: str, operation: str, event: str, statements: list[str], when: str = "") -> str:
        body = " ".join(f"{statement};" for statement in statements)
        when = f" WHEN {when}" if when else ""
        return f"CREATE TRIGGER {table}_digests_{operation} AFTER {event} ON {table}{when} BEGIN {body} END"

    def citation(row: str) -> list[str]:
        events = f"{row}.event_id, (SELECT event_id FROM {REPORTS} WHERE id = {row}.casualty_report_id)"
        return drop(events=events, reports=f"{row}.casualty_report_id", lists=True)

    units = [f"DELETE FROM {TABLE} WHERE named_unit"]
    everything = [f"DELETE FROM {TABLE}"]
    return [
        trigger(EVENTS, "update", "UPDATE", drop(events="OLD.id", lists=True)),
        trigger(EVENTS, "delete", "DELETE", drop(events="OLD.id", lists=True)),
        trigger(REPORTS, "insert", "INSERT", drop(events="NEW.event_id", lists=True)),
        trigger(REPORTS, "update", "UPDATE", drop(events="OLD.event_id, NEW.event_id", reports="OLD.id", lists=True)),
        trigger(REPORTS, "delete", "DELETE", drop(events="OLD.event_id", reports="OLD.id", lists=True)),
        trigger(CITATIONS, "insert", "INSERT", citation("NEW")),
        trigger(CITATIONS, "update", "UPDATE", citation("OLD") + citation("NEW")),
        trigger(CITATIONS, "delete", "DELETE", citation("OLD")),
        trigger(UNITS, "insert", "INSERT", units),
        trigger(UNITS, "update", "UPDATE OF name, country", units),
        trigger(UNITS, "delete", "DELETE", units),
        trigger(SOURCES, "insert", "INSERT", everything, when=f"NOT EXISTS (SELECT 1 FROM {WRITING})"),
        trigger(SOURCES, "update", "UPDATE OF slug, name, aliases", everything),
        trigger(SOURCES, "delete", "DELETE", everything),
    ]


def teardown(vendor: str) -> list[str]:
    triggers = [(table, operation) for table, operation, _ in postgres_changes()]
    triggers += [(table, operation) for table in (UNITS, SOURCES) for operation in ("insert", "update", "delete")]
    if vendor == "postgresql":
        triggers += [(table, "truncate") for table in (EVENTS, REPORTS, CITATIONS, UNITS, SOURCES)]
    statements = []
    for table, operation in triggers:
        name = f"{table}_digests_{operation}"
        statements.append(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if vendor == "postgresql" else ""))
        if vendor == "postgresql":
            statements.append(f"DROP FUNCTION IF EXISTS {name}()")
    return statements
