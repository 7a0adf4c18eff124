"""The day each claim became known, kept by the database: ``known_at`` lists filter on it.

A claim (event or casualty report) is known from the day of its earliest citation: the day
that citation was published, else the day it was recorded (``selectors.known_on``, in UTC).
``?known_at=`` lists only the claims known by its day. Tested for each row as "has a citation
known by then", that was a lookup in the citations per row, and a list walked in its order
(newest first) tested every row newer than the day before it met one: 12 s for the casualty
reports at three million.

So each claim's day is kept in the column ``known_since`` of its own table, by triggers on
``events_citation``, and every write path keeps it exact (the API, the admin, the importers,
a curator's SQL):

- **PostgreSQL**: statement-level triggers with transition tables. A new citation can only
  make its claim known earlier: one ``UPDATE`` per statement lowers the day of the claims
  whose earliest citation it is. A deleted citation, or one whose date or subject changed,
  has its claims' days read again from their remaining citations. ``TRUNCATE`` of the
  citations clears them.
- **SQLite**: row triggers doing the same.

The column is not a model field, as the full-text ``search_vector`` is not: Django never
writes it, so a form or a serializer holding a record read before a citation was added cannot
overwrite the day that citation set. It is in no fixture, dump or form.

A claim is rarely known before the day it is about: a citation is published on or after what
it reports, except for a forecast or an announcement. ``upper_bound`` uses that: the
claims known by a day end, in their list's default order, at that day or at the latest date
of the few claims known before their own date (kept in a partial index), whichever is later.
A ``known_at`` list then starts its walk there instead of at the newest claim.
"""

from dataclasses import dataclass

from django.db.models import BooleanField, DateField

from .expressions import OwnRowExpression

COLUMN = "known_since"
# Where an undated claim sorts in a known_at list's order: after every date, as in the default
# order (NULLS LAST), but as a value, so that one range of one index holds the list.
UNDATED = "0001-01-01"
CITATIONS = "events_citation"


@dataclass(frozen=True)
class Claims:
    table: str
    subject: str  # the citation's column pointing at the claim
    date: str  # the date the claim is about, which its list's default order follows
    undated: bool  # whether a claim may have no date

    @property
    def early_index(self) -> str:
        return f"{self.table}_known_early_idx"

    @property
    def order_index(self) -> str:
        return f"{self.table}_known_order_idx"

    def key(self, column: str) -> str:
        """SQL of the key the list's default order follows, newest first, from the date ``column``:
        an undated claim comes last, as the default order puts it (``UNDATED``)."""
        return f"coalesce({column}, '{UNDATED}')" if self.undated else column


CLAIMS = (
    Claims("events_event", "event_id", "start_date", undated=False),
    Claims("events_casualtyreport", "casualty_report_id", "as_of_date", undated=True),
)


def known_on(vendor: str, row: str = "") -> str:
    """The day a citation (``row``, or the one in scope) became known, in SQL."""
    prefix = f"{row}." if row else ""
    if vendor == "postgresql":
        return f"coalesce({prefix}published_date, ({prefix}created_at AT TIME ZONE 'UTC')::date)"
    return f"coalesce({prefix}published_date, date({prefix}created_at))"


def earliest(claims: Claims, vendor: str, claim_id: str) -> str:
    """The day of the earliest citation of the claim with the id ``claim_id``, in SQL."""
    return f"(SELECT min({known_on(vendor)}) FROM {CITATIONS} WHERE {claims.subject} = {claim_id})"


def install(schema_editor) -> None:
    """Add the columns and their triggers (idempotent), and compute the days of the claims there are."""
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        for claims in CLAIMS:
            columns = [
                column.name
                for column in schema_editor.connection.introspection.get_table_description(cursor, claims.table)
            ]
            if COLUMN not in columns:
                schema_editor.execute(f"ALTER TABLE {claims.table} ADD COLUMN {COLUMN} date")
    setup = {"postgresql": postgres_setup, "sqlite": sqlite_setup}[vendor]
    for statement in teardown(vendor) + setup() + rebuild_sql(vendor) + indexes_sql():
        schema_editor.execute(statement)


def uninstall(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in teardown(vendor):
        schema_editor.execute(statement)
    for claims in CLAIMS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {claims.early_index}")
        schema_editor.execute(f"DROP INDEX IF EXISTS {claims.order_index}")
        schema_editor.execute(f"ALTER TABLE {claims.table} DROP COLUMN {COLUMN}")


def rebuild_sql(vendor: str, *, also: str = "") -> list[str]:
    """Statements that compute every claim's day again (e.g. after a load with the triggers off).

    ``also`` is more of the ``SET`` clause, for a caller that rewrites every row of the claims
    anyway (generate_data's search documents): one pass over each table instead of two.
    """
    statements = []
    for claims in CLAIMS:
        day = earliest(claims, vendor, f"{claims.table}.id")
        if also:
            statements.append(f"UPDATE {claims.table} SET {COLUMN} = {day}, {also}")
        else:
            differs = "IS DISTINCT FROM" if vendor == "postgresql" else "IS NOT"
            statements.append(f"UPDATE {claims.table} SET {COLUMN} = {day} WHERE {COLUMN} {differs} {day}")
    return statements


def indexes_sql() -> list[str]:
    """The partial index of the claims known before their own date (see ``upper_bound``), and
    the index of the order of claims that may be undated (``KnownOrder``)."""
    statements = [
        f"CREATE INDEX IF NOT EXISTS {claims.early_index} ON {claims.table} ({COLUMN}, {claims.date}) "
        f"WHERE {COLUMN} < {claims.date}"
        for claims in CLAIMS
    ]
    return statements + [
        f"CREATE INDEX IF NOT EXISTS {claims.order_index} ON {claims.table} (({claims.key(claims.date)}) DESC, id DESC)"
        for claims in CLAIMS
        if claims.undated
    ]


class KnownBy(OwnRowExpression):
    """Whether the claim on the row was known by ``day``: a condition for ``.filter()``.

    Besides the kept day, it bounds the claim's own date (``upper_bound``), which every claim
    known by then meets, so that a list in its default order starts where such claims begin.
    """

    conditional = True
    output_field = BooleanField()

    def __init__(self, day, *, alias=None):
        super().__init__(alias=alias)
        self.day = day

    def as_sql(self, compiler, connection):
        claims = next(claims for claims in CLAIMS if claims.table == compiler.query.model._meta.db_table)
        bound, params = upper_bound(claims, connection.vendor, self.day)
        date = self.column(compiler, claims.date)
        return f"({self.column(compiler, COLUMN)} <= %s AND {claims.key(date)} <= {bound})", [self.day, *params]


class KnownOrder(OwnRowExpression):
    """The default order's key of the claim on the row (``Claims.key``): ``known_at`` lists of
    casualty reports are sorted by it, in the same order as the default one, along its index."""

    output_field = DateField()

    def as_sql(self, compiler, connection):
        claims = next(claims for claims in CLAIMS if claims.table == compiler.query.model._meta.db_table)
        return claims.key(self.column(compiler, claims.date)), []


def upper_bound(claims: Claims, vendor: str, day) -> tuple[str, list]:
    """(SQL, params) of the latest date a claim known by ``day`` can be about.

    A claim known by then is about a date on or before the day it became known, so on or
    before ``day``; or it is one of the few known before their own date, which the partial
    index ``early_index`` holds.
    """
    # Both databases would rather find the largest date walking the dates' index from the latest,
    # testing each claim for being an early one: through all of them when none is. So the
    # early claims are read from their index (SQLite: INDEXED BY; PostgreSQL: in a subquery,
    # which its MIN/MAX rewrite leaves alone), then their largest date taken.
    early = f"{COLUMN} < {claims.date} AND {COLUMN} <= %s"
    if vendor == "postgresql":
        rows = f"SELECT {claims.date} AS day FROM {claims.table} WHERE {early} OFFSET 0"
        return f"greatest(%s::date, (SELECT max(day) FROM ({rows}) AS early))", [day, day]
    early = f"(SELECT max({claims.date}) FROM {claims.table} INDEXED BY {claims.early_index} WHERE {early})"
    return f"max(%s, coalesce({early}, %s))", [day, day, day]


# (operation, transition tables) of the PostgreSQL triggers
POSTGRES_TRANSITIONS = {
    "insert": "NEW TABLE AS new_rows",
    "delete": "OLD TABLE AS old_rows",
    "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
}
# What makes an updated citation change its claims' days.
MOVED = ("published_date", "created_at", "event_id", "casualty_report_id")


def postgres_setup() -> list[str]:
    statements = []
    for operation, transition in POSTGRES_TRANSITIONS.items():
        name = f"{CITATIONS}_known_{operation}"
        body = []
        for claims in CLAIMS:
            if operation == "insert":
                # A new citation can only make its claim known earlier.
                body.append(
                    f"UPDATE {claims.table} AS claim SET {COLUMN} = added.day "
                    f"FROM (SELECT {claims.subject} AS claim, min({known_on('postgresql')}) AS day FROM new_rows "
                    f"WHERE {claims.subject} IS NOT NULL GROUP BY {claims.subject}) AS added "
                    f"WHERE claim.id = added.claim AND (claim.{COLUMN} IS NULL OR claim.{COLUMN} > added.day);"
                )
                continue
            if operation == "delete":
                touched = f"SELECT {claims.subject} FROM old_rows"
            else:
                moved = " OR ".join(f"o.{column} IS DISTINCT FROM n.{column}" for column in MOVED)
                touched = (
                    f"SELECT side.claim FROM old_rows o JOIN new_rows n USING (id) "
                    f"CROSS JOIN LATERAL (VALUES (o.{claims.subject}), (n.{claims.subject})) AS side (claim) "
                    f"WHERE {moved}"
                )
            body.append(
                f"UPDATE {claims.table} AS claim SET {COLUMN} = {earliest(claims, 'postgresql', 'claim.id')} "
                f"WHERE claim.id IN ({touched}) "
                f"AND claim.{COLUMN} IS DISTINCT FROM {earliest(claims, 'postgresql', 'claim.id')};"
            )
        updates = "\n                ".join(body)
        statements += [
            f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {updates}
                RETURN NULL;
            END $$""",
            f"CREATE TRIGGER {name} AFTER {operation.upper()} ON {CITATIONS} "
            f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
        ]
    name = f"{CITATIONS}_known_truncate"
    clear = " ".join(f"UPDATE {claims.table} SET {COLUMN} = NULL WHERE {COLUMN} IS NOT NULL;" for claims in CLAIMS)
    statements += [
        f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {clear}
            RETURN NULL;
        END $$""",
        f"CREATE TRIGGER {name} AFTER TRUNCATE ON {CITATIONS} FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
    ]
    return statements


def sqlite_setup() -> list[str]:
    def lower(claims: Claims) -> str:
        day = known_on("sqlite", "NEW")
        return (
            f"UPDATE {claims.table} SET {COLUMN} = {day} WHERE id = NEW.{claims.subject} "
            f"AND ({COLUMN} IS NULL OR {COLUMN} > {day});"
        )

    def again(claims: Claims, row: str) -> str:
        return (
            f"UPDATE {claims.table} SET {COLUMN} = {earliest(claims, 'sqlite', f'{row}.{claims.subject}')} "
            f"WHERE id = {row}.{claims.subject};"
        )

    moved = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in MOVED)
    return [
        f"CREATE TRIGGER {CITATIONS}_known_insert AFTER INSERT ON {CITATIONS} "
        f"BEGIN {' '.join(lower(claims) for claims in CLAIMS)} END",
        f"CREATE TRIGGER {CITATIONS}_known_delete AFTER DELETE ON {CITATIONS} "
        f"BEGIN {' '.join(again(claims, 'OLD') for claims in CLAIMS)} END",
        f"CREATE TRIGGER {CITATIONS}_known_update AFTER UPDATE OF {', '.join(MOVED)} ON {CITATIONS} "
        f"WHEN {moved} BEGIN {' '.join(again(claims, row) for row in ('OLD', 'NEW') for claims in CLAIMS)} END",
    ]


def teardown(vendor: str) -> list[str]:
    operations = ("insert", "delete", "update") + (("truncate",) if vendor == "postgresql" else ())
    statements = []
    for operation in operations:
        name = f"{CITATIONS}_known_{operation}"
        statements.append(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {CITATIONS}" if vendor == "postgresql" else ""))
        if vendor == "postgresql":
            statements.append(f"DROP FUNCTION IF EXISTS {name}()")
    return statements
