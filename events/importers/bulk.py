"""Writing batches of imported records with set-based SQL.

A batch's records are loaded into TEMP staging tables (``COPY`` on PostgreSQL, ``executemany``
on SQLite), and everything else is a handful of statements over whole tables, the same on both
databases, each through a plain ``INSERT``, ``UPDATE`` or ``DELETE`` of the real tables (so their
triggers run):

1. **Match**: each staged record is matched to its table's record by key (external id or slug),
   and compared with it column by column; a local key (``local:event:12``) that is no record's
   external id names the record with that id (see :func:`local_id`). Each large table is read
   through its indexes (a subquery per staged row, or a list of ids), so the plans do not
   depend on the planner's statistics, which a table growing by an import outruns.
2. **Create** the records without a match (``INSERT ... SELECT``), with the id of their local key
   when it is free.
3. **Update** the matched records whose values differ from the staged ones (``UPDATE ... FROM``);
   an unchanged record costs no write at all: its ``updated_at`` and history stay as they were.
4. **History**: one ``INSERT ... SELECT`` per table of the created (``+``) and updated (``~``)
   records' new rows into django-simple-history's table, with the import's change reason.
5. **Citations**, matched to the subject's existing ones (in the importer's roles) by position:
   a differing one is updated in place, missing ones are created, surplus ones deleted, each
   with its history entry. A record whose citations changed (and nothing else) has its
   ``updated_at`` moved, without a history entry of its own, as when a curator edits them.

Sources are created the same way when missing, never updated. Reports that a row owns but no
longer gives (a per-party figure that became zero) are deleted through the ORM, so the deletion
cascades, with history, as any deletion does; it is rare.

The keys of the records accepted so far in the file, which a later row may not repeat, are kept
in a staging table too (:meth:`BulkWriter.earlier`), so that memory does not grow with the file.
"""

import collections
import dataclasses
import datetime
import functools
import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, NamedTuple

from django.db import connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from events import imported, known
from events.models import CasualtyReport, Citation, Event, Source, touch

if TYPE_CHECKING:
    from .base import RowRecord

# Records entered here (no external id) are named in files by their id: "local:event:12".
LOCAL_KEY_PREFIXES = {Event: "local:event:", CasualtyReport: "local:casualty-report:"}
CLAIMS = (Event, CasualtyReport)  # the tables with a kept day of first citation (events.known)
KEYS = "\x1f"  # between texts given as one: a kept row's report keys (events.imported), a list of keys
LOCAL_ID = re.compile(r"[1-9][0-9]{0,17}")  # a positive id that fits a bigint

# Columns the import sets itself rather than from a record's values.
OWN_COLUMNS = {"id", "created_at", "updated_at"}
HISTORY_TYPES = {"created": "+", "updated": "~", "deleted": "-"}
# Field types whose Python value the database driver cannot take as it is, on some backend.
PREPARED_TYPES = {"DateField", "DateTimeField", "TimeField", "DecimalField", "JSONField", "UUIDField"}


def record_key(obj: Event | CasualtyReport) -> str:
    """What a file calls the record: its external id, or ``local:<model>:<id>`` without one."""
    return obj.external_id or f"{LOCAL_KEY_PREFIXES[type(obj)]}{obj.pk}"


def local_id(model: type[models.Model], key: str) -> int | None:
    """The id a local key names (``local:event:12`` -> 12), or None for any other key."""
    prefix = LOCAL_KEY_PREFIXES.get(model)
    if prefix is None or not key.startswith(prefix) or not LOCAL_ID.fullmatch(key[len(prefix) :]):
        return None
    return int(key[len(prefix) :])


class Database:
    """What differs between PostgreSQL and SQLite: loading a staging table, and a few operators."""

    def __init__(self, connection: BaseDatabaseWrapper):
        self.connection = connection
        self.quote = connection.ops.quote_name
        self.postgresql = connection.vendor == "postgresql"
        # Equality with NULL equal to NULL.
        self.differs = "IS DISTINCT FROM" if self.postgresql else "IS NOT"

    def db_type(self, field: models.Field) -> str:
        return field.db_type(self.connection)

    def adapter(self, field: models.Field) -> Callable | None:
        """How a field's Python value is made the value the driver takes; None when it takes it as it is.

        Dates go straight to the backend's adapter (the field's own path, through ``to_python``,
        costs five times more for the same result).
        """
        kind = field.get_internal_type()
        if kind == "DateField":
            return self.connection.ops.adapt_datefield_value
        if kind not in PREPARED_TYPES:
            return None
        return functools.partial(field.get_db_prep_save, connection=self.connection)

    def create(self, cursor, table: str, columns: list[tuple[str, str]], *, key: str | None = None) -> None:
        """A TEMP staging table (emptied by :meth:`clear`), replacing one left by an earlier import."""
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        definition = ", ".join(f"{self.quote(name)} {kind}" for name, kind in columns)
        if key:
            definition += f", PRIMARY KEY ({key})"
        cursor.execute(f"CREATE TEMP TABLE {table} ({definition})")

    def read_by_key(self, cursor) -> None:
        """Keep PostgreSQL's planner, for the rest of the transaction, from scanning whole tables.

        The import reads its large tables by key only. Its statistics on them lag behind
        while it fills them (and are missing altogether without autovacuum): on a table it
        believes small, or a key it believes common, the planner would rather read the table
        than its index, and does so for each batch.
        """
        if self.postgresql:
            cursor.execute("SET LOCAL enable_seqscan = off")

    def clear(self, cursor, table: str) -> None:
        cursor.execute(f"{'TRUNCATE' if self.postgresql else 'DELETE FROM'} {table}")

    def drop(self, cursor, table: str) -> None:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")

    def load(self, cursor, table: str, columns: list[str], rows: Iterable[tuple]) -> None:
        """Append rows: ``COPY`` on PostgreSQL, one ``executemany`` on SQLite."""
        names = ", ".join(self.quote(name) for name in columns)
        if self.postgresql:
            with self.connection.connection.cursor() as raw, raw.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({placeholders})", list(rows))

    def raise_id_sequence(self, cursor, table: str) -> None:
        """After rows were inserted with their own ids, move PostgreSQL's id sequence past them.

        Only ever forward, so ids of deleted records (kept in history, restorable) are not reused.
        SQLite's AUTOINCREMENT follows inserted ids by itself.
        """
        if self.postgresql:
            sequence = "pg_get_serial_sequence(%s, 'id')"
            cursor.execute(
                f"SELECT setval({sequence}, greatest((SELECT max(id) FROM {table}), nextval({sequence})))",
                [table, table],
            )

    def one_of(self, column: str) -> str:
        """``column`` is in a list given as one parameter (see :meth:`values`)."""
        return f"{column} = ANY(%s)" if self.postgresql else f"{column} IN (SELECT value FROM json_each(%s))"

    def values(self, items: list):
        return items if self.postgresql else json.dumps(items)

    def one_of_texts(self, column: str, texts: list[str], *, cast: str = "") -> tuple[str, list]:
        """(condition, parameters): ``column`` is one of these texts, cast to ``cast`` on PostgreSQL.

        PostgreSQL takes them as one string split by the server: psycopg checks each element of a
        list for quoting, which costs more than the lookup.
        """
        if self.postgresql and not any(KEYS in text for text in texts):
            return f"{column} = ANY(string_to_array(%s, chr(31)){cast and f'::{cast}[]'})", [KEYS.join(texts)]
        if self.postgresql:
            return f"{column} = ANY(%s{cast and f'::{cast}[]'})", [texts]
        return self.one_of(column), [self.values(texts)]


@dataclasses.dataclass
class Table:
    """A model's table as the import writes it: its staged columns, their defaults, and its history table."""

    model: type[models.Model]
    staging: str
    fields: list[models.Field]  # the columns a staged row carries: not the id and timestamps
    defaults: dict  # each field's default by attname, for the fields a record leaves out
    adapters: list[tuple[int, Callable]]  # (position, adapter) of the fields that have one (Database.adapter)

    @classmethod
    def of(cls, model: type[models.Model], staging: str, db: Database, *, exclude: Iterable[str] = ()) -> "Table":
        fields = [f for f in model._meta.concrete_fields if f.column not in OWN_COLUMNS and f.column not in exclude]
        defaults = {field.attname: field.get_default() for field in fields}
        adapters = [(position, db.adapter(field)) for position, field in enumerate(fields) if db.adapter(field)]
        return cls(model, staging, fields, defaults, adapters)

    @functools.cached_property
    def values_of(self) -> Callable[[Mapping], tuple]:
        return operator.itemgetter(*(field.attname for field in self.fields))

    def cells(self, values: Mapping) -> list:
        """A record's values (by attname) as staged: in column order, defaults filled in, adapted for the driver."""
        cells = list(self.values_of({**self.defaults, **values}))
        for position, adapt in self.adapters:
            cells[position] = adapt(cells[position])
        return cells

    @property
    def name(self) -> str:
        return self.model._meta.db_table

    @property
    def history(self) -> str:
        return self.model.history.model._meta.db_table

    @functools.cached_property
    def columns(self) -> list[str]:
        """Every column of the table, which its history table has too (with history_* columns besides)."""
        return [field.column for field in self.model._meta.concrete_fields]


class Staged(NamedTuple):
    """What became of a staged record: its id, and whether it was created or updated."""

    id: int
    new: bool
    changed: bool


class Seen(NamedTuple):
    """An earlier row's event or report key (see ``base.reject_duplicates``): its line, and for an event,
    its fingerprint and the line of each of its reports kept with it, by the suffix of their key."""

    line: int
    fingerprint: bytes | None = None
    reports: dict[str, int] = {}

    def reports_text(self) -> str:
        return KEYS.join(f"{suffix}{KEYS}{line}" for suffix, line in self.reports.items())

    @classmethod
    def of(cls, line: int, fingerprint, reports: str) -> "Seen":
        parts = reports.split(KEYS) if reports else []
        return cls(
            line, fingerprint and bytes(fingerprint), {s: int(n) for s, n in zip(parts[::2], parts[1::2], strict=True)}
        )


class BulkWriter:
    """Writes batches of records (see the module docstring); remembers the sources it has looked up or created.

    Use it as a context manager: the staging tables live as long as it does.
    """

    def __init__(self, *, change_reason: str, event_citation_roles, report_citation_roles, using: str = "default"):
        self.connection = connections[using]
        self.db = db = Database(self.connection)
        self.change_reason = change_reason
        self.citation_roles = {"e": event_citation_roles, "r": report_citation_roles}
        self.source_ids: dict[str, int] = {}
        self._source_names: dict[str, int] | None = None
        self.sources_created = 0
        self.stamp = None  # the time of the batch being written, as the database takes it
        self.ids: dict[tuple[str, str], int] = {}  # the last batch's records by ("event" or "report", key)
        self.loose_reports = False  # whether a report key was kept on its own (not with its event's)
        self.events = Table.of(Event, "staging_event", db)
        self.reports = Table.of(CasualtyReport, "staging_report", db)
        self.sources = Table.of(Source, "staging_source", db)
        self.citations = Table.of(Citation, "staging_citation", db, exclude={"event_id", "casualty_report_id"})

    # --- Staging tables -------------------------------------------------------------------

    @functools.cached_property
    def staging_tables(self) -> dict[str, tuple[list[tuple[str, str]], str]]:
        """Each staging table's columns (name, type) and primary key."""
        db = self.db
        integer, bigint, text = "integer", "bigint", "text"
        flag, digest = db.db_type(models.BooleanField()), db.db_type(models.BinaryField())
        tables = {}
        for table in (self.events, self.reports, self.sources):
            columns = [("key", text), ("ordinal", integer), ("id", bigint), ("new_id", bigint), ("new", flag)]
            columns += [("changed", flag), ("prefix", text), ("manage", flag)]
            if table.model in CLAIMS:
                columns.append((known.COLUMN, db.db_type(models.DateField())))
            tables[table.staging] = (columns + [(f.column, db.db_type(f)) for f in table.fields], "key")
        place = [("kind", "char(1)"), ("subject_id", bigint), ("position", integer), ("id", bigint)]
        citation_columns = [(f.column, db.db_type(f)) for f in self.citations.fields]
        tables["staging_citation"] = (place + [("changed", flag)] + citation_columns, "kind, subject_id, position")
        tables["staging_old_citation"] = (place, "kind, subject_id, position")
        # The keys of the records accepted so far ("e" or "r", then the key), with the line of each
        # (and an event's fingerprint). Compared byte by byte: no collation to apply.
        key = 'text COLLATE "C"' if db.postgresql else text
        seen = [("key", key), ("line", integer), ("fingerprint", digest), ("reports", text)]
        tables["staging_seen"] = (seen, "key")
        tables["staging_seen_batch"] = (seen, "key")
        tables["staging_kept"] = (imported.columns(self.connection.vendor), "digest")
        return tables

    def __enter__(self):
        with self.connection.cursor() as cursor:
            for table, (columns, key) in self.staging_tables.items():
                self.db.create(cursor, table, columns, key=key)
        return self

    def __exit__(self, *exc_info):
        if self.connection.needs_rollback:
            return  # in a transaction that failed: the tables go with it
        with self.connection.cursor() as cursor:
            for table in self.staging_tables:
                self.db.drop(cursor, table)

    # --- Keys seen earlier in the file ----------------------------------------------------

    def earlier(self, keys: set[str]) -> dict[str, Seen]:
        """What earlier rows gave of these event and report keys ("e" or "r", then the key).

        They are kept in the database, not in memory, so that memory does not grow with the file.
        """
        if not self.loose_reports:  # no report was kept on its own: none is to be looked up
            keys = {key for key in keys if key[0] != "r"}
        if not keys:
            return {}
        with transaction.atomic(using=self.connection.alias, savepoint=False), self.connection.cursor() as cursor:
            # The table has no statistics (PostgreSQL never analyses a TEMP table by itself):
            # read through its key, not by comparing each of its rows with the whole list.
            self.db.read_by_key(cursor)
            condition, params = self.db.one_of_texts("key", list(keys))
            cursor.execute(f"SELECT key, line, fingerprint, reports FROM staging_seen WHERE {condition}", params)
            return {row[0]: Seen.of(*row[1:]) for row in cursor.fetchall()}

    def remember(self, seen: Mapping[str, Seen]) -> None:
        """Record keys as given by the rows on these lines (see :meth:`earlier`); an event's replaces its entry."""
        if not seen:
            return
        self.loose_reports = self.loose_reports or any(key[0] == "r" for key in seen)
        with self.connection.cursor() as cursor:
            rows = [(key, entry.line, entry.fingerprint, entry.reports_text()) for key, entry in seen.items()]
            self.db.clear(cursor, "staging_seen_batch")
            self.db.load(cursor, "staging_seen_batch", ["key", "line", "fingerprint", "reports"], rows)
            cursor.execute(
                "INSERT INTO staging_seen SELECT * FROM staging_seen_batch WHERE TRUE "
                "ON CONFLICT (key) DO UPDATE SET reports = EXCLUDED.reports"
            )

    def accepted_reports(self, prefix: str = "") -> tuple[str, list]:
        """(SQL, parameters) of a subquery: the keys, starting with ``prefix``, of the reports that
        the rows accepted so far gave on their own (with no event of the row, see :meth:`remember`).

        The keys compare with ``external_id`` as its own column's do (PostgreSQL keeps them in
        the "C" collation), so that the reports are found through its index.
        """
        collate = ' COLLATE "default"' if self.db.postgresql else ""
        return (
            f"SELECT substr(key, 2){collate} FROM staging_seen WHERE substr(key, 1, %s) = %s",
            [len(prefix) + 1, "r" + prefix],
        )

    # --- Rows kept by digest (events.imported) ---------------------------------------------

    def known_rows(self, digests: list[str]) -> dict[str, tuple[str | None, bytes | None, list[str]]]:
        """(event key, event fingerprint, report keys) of the rows among these an import kept, by digest."""
        if not digests:
            return {}
        with self.connection.cursor() as cursor:
            self.db.read_by_key(cursor)
            condition, params = self.db.one_of_texts("digest", digests, cast="uuid" if self.db.postgresql else "")
            cursor.execute(
                f"SELECT {imported.digest_text(self.connection.vendor)}, event_key, fingerprint, report_keys "
                f"FROM {imported.TABLE} WHERE {condition}",
                params,
            )
            return {
                digest: (
                    event_key,
                    fingerprint and bytes.fromhex(fingerprint),
                    report_keys.split(KEYS) if report_keys else [],
                )
                for digest, event_key, fingerprint, report_keys in cursor.fetchall()
            }

    def keep(self, records: list["RowRecord"]) -> None:
        """Keep the rows just written by their digests, so that a re-import need not read them again.

        Not a row with warnings (they are given again each time), nor one whose several reports
        have no event: the triggers find a row's digest by its event or its one report. One row
        is kept per (event, report): a row kept before for the same records (an earlier version of
        the file's row, or one read by earlier code) is replaced, so the table holds no more rows
        than there are records.
        """
        rows, records_kept = {}, {}
        for record in records:
            if record.digest is None or record.warnings or (record.event is None and len(record.reports) != 1):
                continue
            report_keys = [spec.external_id for spec in record.reports]
            if any(KEYS in key for key in report_keys):
                continue
            event = record.event
            report = self.ids[("report", record.reports[0].external_id)] if len(record.reports) == 1 else None
            event_id = self.ids[("event", event.external_id)] if event is not None else None
            rows.pop(records_kept.get((event_id, report)), None)  # a row of the file repeating the records
            records_kept[(event_id, report)] = record.digest
            rows[record.digest] = (
                record.digest,
                event_id,
                report,
                any(spec.values.get("unit_id") is not None for spec in record.reports),
                event.external_id if event is not None else None,
                event.fingerprint.hex() if event is not None else None,
                KEYS.join(report_keys),
            )
        if not rows:
            return
        columns = [name for name, _ in self.staging_tables["staging_kept"][0]]
        names = ", ".join(columns)
        with self.connection.cursor() as cursor:
            self.db.clear(cursor, "staging_kept")
            self.db.load(cursor, "staging_kept", columns, rows.values())
            records = imported.RECORDS
            cursor.execute(
                f"DELETE FROM {imported.TABLE} WHERE ({records}) IN (SELECT {records} FROM staging_kept) "
                "AND digest NOT IN (SELECT digest FROM staging_kept)"
            )
            cursor.execute(
                f"INSERT INTO {imported.TABLE} ({names}) SELECT {names} FROM staging_kept WHERE TRUE "
                f"ON CONFLICT (digest) DO UPDATE SET "
                + ", ".join(f"{name} = EXCLUDED.{name}" for name in columns if name != "digest")
            )

    # --- A batch --------------------------------------------------------------------------

    def write(self, records: list["RowRecord"]) -> list[str]:
        """Upsert the records in one transaction; the status of each: created, updated or unchanged."""
        self.ids = {}
        if not records:
            return []
        with transaction.atomic(using=self.connection.alias), self.connection.cursor() as cursor:
            now = timezone.now()
            self.stamp = self.connection.ops.adapt_datetimefield_value(now)
            self.today = now.astimezone(datetime.UTC).date()  # the day a citation made now is known
            self.db.read_by_key(cursor)
            for table in self.staging_tables.keys() - {"staging_seen", "staging_seen_batch"}:
                self.db.clear(cursor, table)
            self._ensure_sources(cursor, records)

            event_specs = {}
            for record in records:
                if record.event is not None:
                    event_specs.setdefault(record.event.external_id, record.event)
            events = self._upsert(cursor, self.events, self._staged(event_specs))

            report_specs, report_values = {}, {}
            for record in records:
                event = {"event_id": events[record.event.external_id].id} if record.event is not None else {}
                for spec in record.reports:
                    report_specs[spec.external_id] = spec
                    report_values[spec.external_id] = {**spec.values, **event}
            reports = self._upsert(cursor, self.reports, self._staged(report_specs, values=report_values))

            keys = {("e", row.id): ("event", key) for key, row in events.items()}
            keys |= {("r", row.id): ("report", key) for key, row in reports.items()}
            created = {("event", key) for key, row in events.items() if row.new}
            created |= {("report", key) for key, row in reports.items() if row.new}
            written = created | {("event", key) for key, row in events.items() if row.changed}
            written |= {("report", key) for key, row in reports.items() if row.changed}

            owning = [row.id for key, row in events.items() if event_specs[key].owned_reports_prefix and not row.new]
            changed = {("event", key) for key in self._delete_stale_reports(cursor, owning)}
            subjects = [("e", events[key], spec) for key, spec in event_specs.items() if spec.manage_citations]
            subjects += [("r", reports[key], spec) for key, spec in report_specs.items() if spec.manage_citations]
            changed |= {keys[subject] for subject in self._sync_citations(cursor, subjects)}

            # A record's representation shows its citations: when only they changed, its
            # updated_at still moves (without a history entry of its own), as RecordPart does.
            touched = changed - written
            touch(Event, *(events[key].id for kind, key in touched if kind == "event"))
            touch(CasualtyReport, *(reports[key].id for kind, key in touched if kind == "report"))

        changed |= written
        self.ids = {("event", key): row.id for key, row in events.items()}
        self.ids |= {("report", key): row.id for key, row in reports.items()}
        return [
            "created" if record.primary in created else "updated" if changed.intersection(record.keys) else "unchanged"
            for record in records
        ]

    def _staged(self, specs: Mapping, *, values: Mapping | None = None) -> list[tuple]:
        """(key, owned reports prefix, manage citations, values, day known) of event or report specs."""
        values = values or {key: spec.values for key, spec in specs.items()}
        return [
            (
                key,
                getattr(spec, "owned_reports_prefix", ""),
                spec.manage_citations,
                {**values[key], "external_id": key},
                self._known_since(spec),
            )
            for key, spec in specs.items()
        ]

    def _known_since(self, spec) -> str | None:
        """The day a new record's citations make it known (``events.known``), as the database takes it.

        A new record gets all its citations in the same batch. Inserting it with the day they
        give spares the citations' trigger a second write of every new record (and its
        indexes); the trigger still sets the day of records that were there before.
        """
        if not spec.manage_citations or not spec.citations:
            return None
        day = min(citation.values.get("published_date") or self.today for citation in spec.citations)
        return self.connection.ops.adapt_datefield_value(day)

    def _upsert(self, cursor, table: Table, staged: list[tuple], *, update: bool = True) -> dict[str, Staged]:
        """Create the missing records and update the changed ones; unchanged ones are not written.

        ``staged`` holds (key, prefix, manage, values), values by attname. A record is matched
        by its key: its external id, or a source's slug. A missing record named by a local key
        is created with that id, so a file exported from one database reproduces its records
        in an empty one; when the id is taken by an imported record, the new record gets
        another id and keeps the key as its external id. A matched record's fields the values
        do not give are left as they are.
        """
        if not staged:
            return {}
        db, name, staging, quote = self.db, table.name, table.staging, self.db.quote
        written = staged[0][3].keys() - {"external_id"}
        claims = table.model in CLAIMS
        extra = [known.COLUMN] if claims else []
        rows = []
        for ordinal, (key, prefix, manage, values, day) in enumerate(staged):
            if values.keys() - {"external_id"} != written:
                raise ValueError(f"The records of a batch must give the same fields ({sorted(written)}).")
            rows.append((key, ordinal, prefix, manage, False, *([day] if claims else []), *table.cells(values)))
        columns = ["key", "ordinal", "prefix", "manage", "new", *extra, *(f.column for f in table.fields)]
        db.load(cursor, staging, columns, rows)

        compared = [quote(field.column) for field in table.fields if field.attname in written]
        differs = " OR ".join(f"t.{column} {db.differs} {staging}.{column}" for column in compared)
        differs = f"({differs})" if update else "FALSE"
        if table.model is Source:
            match = f"FROM {name} t WHERE t.slug = {staging}.key"
        else:
            # The condition of the partial unique index, as written there: SQLite uses the index only then.
            match = f"FROM {name} t WHERE t.external_id = {staging}.key AND NOT (t.external_id = '')"
        # A subquery per staged row: the table is read through its index, whatever the planner knows of it.
        cursor.execute(f"UPDATE {staging} SET (id, changed) = (SELECT t.id, {differs} {match})")
        if table.model in LOCAL_KEY_PREFIXES:
            self._match_local_keys(cursor, table, [row[0] for row in staged], differs=differs)

        fields = ", ".join([*(quote(field.column) for field in table.fields), *extra])
        cursor.execute(
            f"INSERT INTO {name} (id, created_at, updated_at, {fields}) "
            f"SELECT new_id, %s, %s, {fields} FROM {staging} WHERE new_id IS NOT NULL ORDER BY new_id",
            [self.stamp, self.stamp],
        )
        if cursor.rowcount:
            db.raise_id_sequence(cursor, name)
        cursor.execute(
            f"INSERT INTO {name} (created_at, updated_at, {fields}) "
            f"SELECT %s, %s, {fields} FROM {staging} WHERE id IS NULL AND new_id IS NULL ORDER BY ordinal",
            [self.stamp, self.stamp],
        )
        cursor.execute(
            f"UPDATE {staging} SET new = TRUE, id = COALESCE(new_id, (SELECT t.id {match})) WHERE id IS NULL"
        )
        cursor.execute(f"SELECT key, id, new, changed FROM {staging}")
        result = {key: Staged(id, bool(new), bool(changed)) for key, id, new, changed in cursor.fetchall()}

        self._update(cursor, table, staging, compared, [row.id for row in result.values() if row.changed])
        self._history(cursor, table, "created", [row.id for row in result.values() if row.new])
        return result

    def _match_local_keys(self, cursor, table: Table, keys: list[str], *, differs: str) -> None:
        """Local keys no external id matched: the record with that id if it has none, else a new record."""
        local = {pk: key for key in keys if (pk := local_id(table.model, key)) is not None}
        if not local:
            return
        cursor.execute(f"SELECT key FROM {table.staging} WHERE id IS NULL")
        unmatched = {key for (key,) in cursor.fetchall()}
        local = {pk: key for pk, key in local.items() if key in unmatched}
        cursor.execute(
            f"SELECT id, external_id FROM {table.name} WHERE {self.db.one_of('id')}", [self.db.values(list(local))]
        )
        found = dict(cursor.fetchall())
        matched = [(pk, key) for pk, key in local.items() if found.get(pk) == ""]
        free = [(pk, key) for pk, key in local.items() if pk not in found]
        # The record with that id, or a new one with that id: the key is no external id of either.
        staging = table.staging
        cursor.executemany(f"UPDATE {staging} SET id = %s, external_id = '' WHERE key = %s", matched)
        cursor.executemany(f"UPDATE {staging} SET new_id = %s, external_id = '' WHERE key = %s", free)
        if matched:
            cursor.execute(
                f"UPDATE {staging} SET changed = (SELECT {differs} FROM {table.name} t WHERE t.id = {staging}.id) "
                "WHERE id IS NOT NULL AND changed IS NULL"
            )

    def _update(self, cursor, table: Table, staging: str, columns: list[str], ids: list[int]) -> None:
        """Give the table's rows with these ids the (quoted) columns of their staged rows, with history entries."""
        if not ids:
            return
        name, assignments = table.name, ", ".join(f"{column} = s.{column}" for column in columns)
        cursor.execute(
            f"UPDATE {name} SET {assignments}, updated_at = %s FROM {staging} s "
            f"WHERE {name}.id = s.id AND {self.db.one_of(f'{name}.id')}",
            [self.stamp, self.db.values(ids)],
        )
        self._history(cursor, table, "updated", ids)

    def _history(self, cursor, table: Table, change: str, ids: list[int]) -> None:
        """History entries of the table's rows with these ids, as they are now; ``change``: a key of HISTORY_TYPES."""
        if not ids:
            return
        columns = ", ".join(self.db.quote(column) for column in table.columns)
        cursor.execute(
            f"INSERT INTO {table.history} ({columns}, history_date, history_type, history_change_reason, "
            f"history_user_id) SELECT {columns}, %s, %s, %s, NULL FROM {table.name} WHERE {self.db.one_of('id')}",
            [self.stamp, HISTORY_TYPES[change], self.change_reason, self.db.values(ids)],
        )

    # --- Sources --------------------------------------------------------------------------

    def _ensure_sources(self, cursor, records: list["RowRecord"]) -> None:
        specs = {}
        for record in records:
            for subject in ([record.event] if record.event is not None else []) + record.reports:
                for citation in subject.citations:
                    if citation.source.slug not in self.source_ids:
                        specs.setdefault(citation.source.slug, citation.source)
        if not specs:
            return
        db = self.db
        cursor.execute(f"SELECT slug, id FROM {self.sources.name} WHERE {db.one_of('slug')}", [db.values(list(specs))])
        self.source_ids.update(cursor.fetchall())
        if any(slug not in self.source_ids for slug in specs):
            # A source known under another name ("UK MoD" for "UK Ministry of Defence") is that source.
            names = self.source_names()
            for slug, spec in specs.items():
                if slug not in self.source_ids and spec.name.casefold() in names:
                    self.source_ids[slug] = names[spec.name.casefold()]
        missing = [spec for slug, spec in specs.items() if slug not in self.source_ids]
        if missing:
            staged = [(spec.slug, "", False, dataclasses.asdict(spec), None) for spec in missing]
            # Sources an import creates leave the kept rows' digests (events.imported) in place.
            cursor.execute(f"INSERT INTO {imported.WRITING} (writing) VALUES (1)")
            created = self._upsert(cursor, self.sources, staged, update=False)
            cursor.execute(f"DELETE FROM {imported.WRITING}")
            self.sources_created += len(created)
            self.source_ids.update((slug, row.id) for slug, row in created.items())

    def source_names(self) -> dict[str, int]:
        """Every source's name and aliases, folded for comparison, read once per import."""
        if self._source_names is None:
            self._source_names = {}
            for pk, name, aliases in Source.objects.values_list("pk", "name", "aliases"):
                for known in [name, *(aliases or [])]:
                    self._source_names.setdefault(known.casefold(), pk)
        return self._source_names

    # --- Reports a row no longer gives ----------------------------------------------------

    def _delete_stale_reports(self, cursor, events: list[int]) -> set[str]:
        """Delete the reports a row owns but no longer gives (a per-party figure that became zero).

        ``events`` are the ids of the batch's events that own reports and were there before it.
        Returns the keys of the events that lost reports.
        """
        if not events:
            return set()
        cursor.execute(
            f"SELECT r.id, e.key FROM {self.reports.name} r JOIN {self.events.staging} e ON r.event_id = e.id "
            f"WHERE {self.db.one_of('r.event_id')} AND substr(r.external_id, 1, length(e.prefix)) = e.prefix "
            f"AND NOT EXISTS (SELECT 1 FROM {self.reports.staging} s WHERE s.key = r.external_id)",
            [self.db.values(events)],
        )
        stale = dict(cursor.fetchall())
        for report in CasualtyReport.objects.filter(pk__in=stale):
            report._change_reason = self.change_reason
            report.delete()
        return set(stale.values())

    # --- Citations ------------------------------------------------------------------------

    def _sync_citations(self, cursor, subjects: list[tuple[str, Staged, object]]) -> set[tuple[str, int]]:
        """Make each subject's citations (in the roles the importer writes) those of its spec, in order.

        Citations are matched by position, so a corrected headline updates its citation in place
        rather than deleting and re-creating it. ``subjects`` are (kind, staged record, spec),
        kind "e" for an event and "r" for a report. Returns the (kind, id) of the subjects whose
        citations changed.
        """
        if not subjects:
            return set()
        db, table, name = self.db, self.citations, self.citations.name
        rows = []
        for kind, subject, spec in subjects:
            for position, citation in enumerate(spec.citations):
                values = {**citation.values, "source_id": self.source_ids[citation.source.slug], "role": citation.role}
                rows.append((kind, subject.id, position, *table.cells(values)))
        db.load(cursor, "staging_citation", ["kind", "subject_id", "position", *(f.column for f in table.fields)], rows)

        # The existing citations (in the importer's roles) of the subjects that are not new, numbered
        # in order. Read by subject alone, so that they are found through the subject's index: a
        # condition on the role tempts the planner into the role's index, which spans the table.
        existing = []
        for kind, column in (("e", "event_id"), ("r", "casualty_report_id")):
            old = [subject.id for subject_kind, subject, _ in subjects if subject_kind == kind and not subject.new]
            if old:
                cursor.execute(
                    f"SELECT {column}, id, role FROM {name} WHERE {db.one_of(column)} ORDER BY {column}, id",
                    [db.values(old)],
                )
                positions = collections.Counter()
                for subject_id, pk, role in cursor.fetchall():
                    if role in self.citation_roles[kind]:
                        existing.append((kind, subject_id, positions[subject_id], pk))
                        positions[subject_id] += 1
        db.load(cursor, "staging_old_citation", ["kind", "subject_id", "position", "id"], existing)
        compared = [db.quote(field.column) for field in table.fields]
        differs = " OR ".join(f"c.{column} {db.differs} staging_citation.{column}" for column in compared)
        place = "o.kind = s.kind AND o.subject_id = s.subject_id AND o.position = s.position"
        cursor.execute(
            f"UPDATE staging_citation SET (id, changed) = (SELECT c.id, ({differs}) FROM staging_old_citation o "
            f"JOIN {name} c ON c.id = o.id WHERE {place.replace('s.', 'staging_citation.')})"
        )
        cursor.execute("SELECT id FROM staging_citation WHERE changed")
        self._update(cursor, table, "staging_citation", compared, [pk for (pk,) in cursor.fetchall()])
        cursor.execute(
            f"INSERT INTO {name} (event_id, casualty_report_id, created_at, updated_at, {', '.join(compared)}) "
            f"SELECT CASE WHEN kind = 'e' THEN subject_id END, CASE WHEN kind = 'r' THEN subject_id END, %s, %s, "
            f"{', '.join(compared)} FROM staging_citation WHERE id IS NULL ORDER BY kind, subject_id, position "
            "RETURNING id",
            [self.stamp, self.stamp],
        )
        self._history(cursor, table, "created", [pk for (pk,) in cursor.fetchall()])
        # Citations beyond the last one a subject now has.
        cursor.execute(
            "SELECT o.id, o.kind, o.subject_id FROM staging_old_citation o "
            f"WHERE NOT EXISTS (SELECT 1 FROM staging_citation s WHERE {place})"
        )
        surplus = cursor.fetchall()
        if surplus:
            self._history(cursor, table, "deleted", [pk for pk, _, _ in surplus])
            cursor.execute(f"DELETE FROM {name} WHERE {db.one_of('id')}", [db.values([pk for pk, _, _ in surplus])])
        cursor.execute("SELECT kind, subject_id FROM staging_citation WHERE id IS NULL OR changed")
        return {(kind, subject_id) for _, kind, subject_id in surplus} | set(cursor.fetchall())
