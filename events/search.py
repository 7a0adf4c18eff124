"""Full-text search of events and casualty reports: ``?q=``, the admin's search box.

Each event and each casualty report has one search document, kept by the database itself
(triggers), so every write path keeps it current: the API, the admin, the importers, a
curator's SQL. What a document holds, from the most to the least weighty part:

- an event: its title; its place, region and date as written; its description; its
  citations' quotes;
- a casualty report: its description; its date as written, its unit's name and its event's
  title; its citations' quotes.

**PostgreSQL**: a ``search_vector`` tsvector column on ``events_event`` and
``events_casualtyreport`` with a GIN index, in the text search configuration
``osint_search``: the ``unaccent`` dictionary (so ``Zürich`` is ``zurich`` and ``ё`` is
``е``), then an English Snowball stemmer without stop words (``drones`` finds ``drone``;
words in other scripts are only folded to lower case). Triggers set the vector when a record
is written and refresh it when a citation's quote, a unit's name or an event's title changes
(statement-level triggers for citations, so a bulk insert refreshes its records in one
statement).

**SQLite**: an FTS5 table per searchable table (``events_event_search``,
``events_casualtyreport_search``), ``rowid`` = the record's id, tokenizer ``porter unicode61
remove_diacritics 2`` (case and Latin accents folded, English stems); ``ё`` is folded to
``е`` by the triggers that fill it and by :func:`fold` on the query. Row triggers keep it
current.

**The query** is parsed here (:func:`parse`) with the rules of web search engines and of
PostgreSQL's ``websearch_to_tsquery``, then written for each database, so both answer the
same:

- words are all required: ``drone strike``;
- ``"exact phrase"``: the words in that order;
- ``or`` between two terms: either (``convoy or column``); it binds tighter than the
  implicit *and*: ``bridge convoy or column`` is *bridge and (convoy or column)*;
- ``-word`` or ``-"a phrase"``: records without it.

A term with no letter or digit in it is ignored; a query of nothing but such terms matches
nothing.
"""

import re
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connections
from django.db.models import BooleanField, FloatField

from .expressions import OwnRowExpression

CONFIG = "osint_search"
STEMMER = "osint_english"
TOKENIZER = "porter unicode61 remove_diacritics 2"


# The query ---------------------------------------------------------------------------------


class Term(NamedTuple):
    """A word or a phrase; ``prefix``: it also matches words that begin with it (the admin's search)."""

    text: str
    prefix: bool = False


@dataclass(frozen=True)
class Query:
    """``all`` of ``any`` groups of terms, none of ``excluded``."""

    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...]

    @property
    def empty(self) -> bool:
        return not self.groups and not self.excluded


TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
WORD = re.compile(r"\w")


def parse(text: str, *, prefixes: bool = False) -> Query:
    """Web-search syntax into a :class:`Query` (see the module's docstring).

    With ``prefixes``, each word outside quotes also matches the words it begins: search as
    you type.
    """
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    joining = False  # the previous token was ``or``
    for match in TOKEN.finditer(text):
        negated, phrase, bare = match.groups()
        if bare is not None:
            if bare.lower() == "or":
                joining = bool(groups)
                continue
            negated, phrase = ("-", bare[1:]) if bare.startswith("-") else ("", bare)
        words = phrase.split()
        if not WORD.search(phrase):
            continue
        term = Term(" ".join(words), prefix=prefixes and bare is not None and len(words) == 1)
        if negated:
            excluded.append(term)
        elif joining:
            groups[-1].append(term)
        else:
            groups.append([term])
        joining = False
    return Query(tuple(tuple(group) for group in groups), tuple(excluded))


def fold(text: str) -> str:
    """What SQLite's tokenizer does not fold itself: ``ё`` is ``е`` (``unaccent`` does it on PostgreSQL)."""
    return text.replace("ё", "е").replace("Ё", "Е")


def fts5_terms(terms) -> str:
    """FTS5 query of ``any`` of ``terms``: each a string, which FTS5 tokenizes (a word or a phrase)."""
    quoted = ['"{}"{}'.format(fold(term.text).replace('"', '""'), "*" if term.prefix else "") for term in terms]
    return quoted[0] if len(quoted) == 1 else "(" + " OR ".join(quoted) + ")"


def tsquery_sql(query: Query) -> tuple[str, list[str]]:
    """A PostgreSQL tsquery expression for ``query`` with its parameters."""
    params: list[str] = []

    def term(written: Term) -> str:
        params.append(written.text)
        sql = f"phraseto_tsquery('{CONFIG}', %s)"
        # The last word of the phrase, as a prefix: 'ramst' becomes 'ramst':*.
        return f"(nullif({sql}::text, '') || ':*')::tsquery" if written.prefix else sql

    parts = ["(" + " || ".join(term(t) for t in group) + ")" for group in query.groups]
    parts += [f"!!{term(t)}" for t in query.excluded]
    return " && ".join(parts), params


# Expressions -------------------------------------------------------------------------------


class SearchExpression(OwnRowExpression):
    """A search of the queryset's own table (see :class:`~events.expressions.OwnRowExpression`)."""

    def __init__(self, query: Query, *, alias=None):
        super().__init__(alias=alias)
        self.query = query

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        resolved = super().resolve_expression(query, allow_joins, reuse, summarize, for_save)
        resolved.fts_table = f"{query.model._meta.db_table}_search"  # SQLite's (``Document.fts_table``)
        return resolved

    def fts5_match(self):
        """(FTS5 MATCH text of the positive part, of the excluded part), either may be None."""
        positive = " AND ".join(fts5_terms(group) for group in self.query.groups) or None
        negative = fts5_terms(self.query.excluded) if self.query.excluded else None
        return positive, negative


class Matches(SearchExpression):
    """True for the records whose search document matches the query.

    SQLite's planner knows nothing of how many documents an FTS5 query matches, so the form
    of the condition is chosen here from the share of the table's records that match
    (:func:`share`). A page in the list's order (an order an index gives) is read in one of
    three ways:

    - from ``ORDERED`` on, the records are walked in that order and each is looked up in the
      search index (``EXISTS``) until the page is full: the matches are common, the page comes
      soon, and each lookup costs little next to reading every match;
    - from ``WALKED`` on, the matches are read into a list first, then the records are walked
      in the list's order and each is tested against the list (``+id IN``: the ``+`` keeps
      SQLite from reading the records by id instead); reading a match costs a tenth of a
      lookup, and a page still comes after a few thousand records;
    - below it, the matches are read first and only they are sorted (``IN``).

    A count, or a list with no order an index gives, looks each record up from ``UNORDERED``
    on and reads the matches first below it. A ranking always reads the matches first.
    """

    output_field = BooleanField()
    ORDERED = 0.12  # share of the records from which a page in order looks each record up
    WALKED = 0.002  # and from which (up to ORDERED) it walks the order against the matches read first
    UNORDERED = 0.35  # share from which an unordered read (a count) looks each record up
    FEWEST = 1000  # matches a small table reads first whatever their share

    def as_sql(self, compiler, connection):
        if self.query.empty:
            return "1 = 0", []
        tsquery, params = tsquery_sql(self.query)
        return f"{self.column(compiler, 'search_vector')} @@ ({tsquery})", params

    def as_sqlite(self, compiler, connection):
        if self.query.empty:
            return "1 = 0", []
        positive, negative = self.fts5_match()
        table, pk = self.fts_table, self.column(compiler, "id")
        conditions, params = [], []
        if positive:
            form = self.form(connection, table, positive, reading(compiler.query))
            if form == "EXISTS":
                conditions.append(f"EXISTS (SELECT 1 FROM {table} WHERE {table} MATCH %s AND rowid = {pk})")
            else:
                walked = form.removesuffix("IN")  # "+" or ""
                conditions.append(f"{walked}{pk} IN (SELECT rowid FROM {table} WHERE {table} MATCH %s)")
            params.append(positive)
        if negative:
            conditions.append(f"{pk} NOT IN (SELECT rowid FROM {table} WHERE {table} MATCH %s)")
            params.append(negative)
        return " AND ".join(conditions), params

    def form(self, connection, table: str, match: str, how: str) -> str:
        """``EXISTS``, ``+IN`` (the order walked against the matches) or ``IN``, for rows read as ``how``."""
        if any(term.prefix for group in self.query.groups for term in group):
            # FTS5 expands a prefix into its words' lists again for every lookup (tens of
            # milliseconds each for a common word): read the matches once.
            found = share(connection, table, match, self.WALKED, fewest=self.FEWEST)
            return "+IN" if how == "ordered" and found >= self.WALKED else "IN"
        if how == "ordered":
            found = share(connection, table, match, self.ORDERED, fewest=self.FEWEST)
            return "EXISTS" if found >= self.ORDERED else "+IN" if found and found >= self.WALKED else "IN"
        if how == "unordered" and share(connection, table, match, self.UNORDERED, fewest=self.FEWEST) >= self.UNORDERED:
            return "EXISTS"
        return "IN"


# (database alias, FTS5 table, MATCH text, the table's size, FEWEST, how far it was counted) -> matches
SHARES: dict[tuple, int] = {}
SHARES_KEPT = 4096


def share(connection, table: str, match: str, needed: float, *, fewest: int) -> float:
    """The share of ``table``'s documents that ``match``, counted up to ``needed`` of them; 0 below ``fewest`` matches.

    Counting a common word's matches costs a few milliseconds, and the answer only chooses
    the form of a condition, never its rows: it is kept for the process's later queries, as
    long as the table's size (its largest rowid) stays the same.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(rowid), 0) FROM {table}")
        rows = cursor.fetchone()[0]
        enough = max(fewest, int(rows * needed) + 1)
        key = (connection.alias, table, match, rows, fewest, enough)
        matches = SHARES.get(key)
        if matches is None:
            cursor.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {table} MATCH %s LIMIT %s)", [match, enough]
            )
            matches = cursor.fetchone()[0]
            if len(SHARES) >= SHARES_KEPT:
                SHARES.clear()
            SHARES[key] = matches
    return matches / rows if rows and matches >= fewest else 0.0


def documents_sql(queryset) -> tuple[str, list] | None:
    """The ids of ``queryset``'s rows read from SQLite's search index alone, when a search is its only condition.

    Each record has exactly one document, so such a list's rows are the documents that
    match: counting them in the index reads none of the table (a bounded count of a common
    word, record by record, costs tens of milliseconds). None anywhere else.
    """
    query = queryset.query
    if connections[queryset.db].vendor != "sqlite" or len(query.alias_map) > 1 or query.where.negated:
        return None
    if len(query.where.children) != 1 or query.distinct or query.group_by or query.combinator:
        return None
    condition = query.where.children[0]
    search = getattr(condition, "lhs", None)
    if not isinstance(search, Matches) or getattr(condition, "rhs", None) is not True or search.query.empty:
        return None
    positive, negative = search.fts5_match()
    if not positive:
        return None
    match = f"({positive}) NOT ({negative})" if negative else positive
    return f"SELECT rowid FROM {search.fts_table} WHERE {search.fts_table} MATCH %s", [match]


def reading(query) -> str:
    """How ``query`` reads its rows: ``"ranked"`` (by relevance: every match is needed),
    ``"ordered"`` (in an order an index can give) or ``"unordered"`` (a count)."""
    ordering = query.order_by or (query.get_meta().ordering if query.default_ordering else ())
    for item in ordering:
        name = item.lstrip("-") if isinstance(item, str) else getattr(getattr(item, "expression", None), "name", None)
        if isinstance(query.annotations.get(name), Relevance):
            return "ranked"
    return "ordered" if ordering else "unordered"


class Relevance(SearchExpression):
    """How well a matching record answers the query: higher is better.

    PostgreSQL's ``ts_rank`` with its default weights for the document's parts (title 1,
    place and date 0.4, description 0.2, quotes 0.1); SQLite's ``bm25`` with weights in the
    same proportions, negated. The two scales differ; the order they give is what counts.
    """

    output_field = FloatField()

    def as_sql(self, compiler, connection):
        if not self.query.groups:
            return "0.0", []
        tsquery, params = tsquery_sql(self.query)
        return f"ts_rank({self.column(compiler, 'search_vector')}, {tsquery})", params

    def as_sqlite(self, compiler, connection):
        positive, _negative = self.fts5_match()
        if not positive:
            return "0.0", []
        table, pk = self.fts_table, self.column(compiler, "id")
        weights = ", ".join(str(w) for w in FTS5_WEIGHTS[table])
        # The scores of all the matches, computed once (``LIMIT -1`` keeps SQLite from folding
        # the subquery into a per-row FTS5 query) and looked up by id in an automatic index.
        scores = f"SELECT rowid AS id, -bm25({table}, {weights}) AS score FROM {table} WHERE {table} MATCH %s LIMIT -1"
        return f"(SELECT scores.score FROM ({scores}) scores WHERE scores.id = {pk})", [positive]


def matches(text: str, *, prefixes: bool = False) -> Matches:
    return Matches(parse(text, prefixes=prefixes))


def relevance(text: str) -> Relevance:
    return Relevance(parse(text))


# The documents, in each database -----------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """What one table's search documents are made of.

    ``parts`` are SQL over the record's row (``{row}``), most weighty first; ``{quotes}`` is
    the record's citations' quotes. ``columns`` are the row's own columns the parts read.
    """

    table: str
    subject: str  # the citation's foreign key to this table, without ``_id``
    parts: dict
    columns: tuple

    @property
    def fts_table(self) -> str:
        return f"{self.table}_search"

    def sql(self, *, row: str, vendor: str) -> list[str]:
        aggregate = "string_agg(c.quote, ' ' ORDER BY c.id)" if vendor == "postgresql" else "group_concat(c.quote, ' ')"
        quotes = f"(SELECT {aggregate} FROM events_citation c WHERE c.{self.subject}_id = {row}.id)"
        return [part.format(row=row, quotes=quotes) for part in self.parts.values()]


EVENT = Document(
    table="events_event",
    subject="event",
    parts={
        "title": "{row}.title",
        "places": "{row}.place_name || ' ' || {row}.admin1 || ' ' || {row}.date_text",
        "description": "{row}.description",
        "quotes": "{quotes}",
    },
    columns=("title", "place_name", "admin1", "date_text", "description"),
)
REPORT = Document(
    table="events_casualtyreport",
    subject="casualty_report",
    parts={
        "description": "{row}.description",
        "context": (
            "{row}.date_text"
            " || ' ' || coalesce((SELECT u.name FROM events_unit u WHERE u.id = {row}.unit_id), '')"
            " || ' ' || coalesce((SELECT e.title FROM events_event e WHERE e.id = {row}.event_id), '')"
        ),
        "quotes": "{quotes}",
    },
    columns=("description", "date_text", "unit_id", "event_id"),
)
DOCUMENTS = (EVENT, REPORT)
# Other tables' columns that a document shows: (table, column, document, the document's key to it).
SHOWN_ELSEWHERE = (("events_unit", "name", REPORT, "unit_id"), ("events_event", "title", REPORT, "event_id"))
CITED = ("quote", "event_id", "casualty_report_id")
QUOTED = "coalesce({row}.quote, '') <> ''"
# PostgreSQL's weights, and bm25's column weights on SQLite in the same proportions.
PG_WEIGHTS = "ABCD"
FTS5_WEIGHTS = {document.fts_table: (10, 4, 2, 1)[: len(document.parts)] for document in DOCUMENTS}


def install(schema_editor) -> None:
    """Create (or replace) everything search needs and fill the documents of the rows there are."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in postgres_setup() + postgres_rebuild() + postgres_indexes():
            schema_editor.execute(statement)
    elif vendor == "sqlite":
        for statement in sqlite_teardown() + sqlite_setup() + sqlite_rebuild():
            schema_editor.execute(statement)


def uninstall(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": postgres_teardown, "sqlite": sqlite_teardown}.get(vendor)
    for statement in statements() if statements else []:
        schema_editor.execute(statement)


def rebuild_sql(vendor: str) -> list[str]:
    """Statements that compute every document again (e.g. after a load with the triggers off)."""
    return {"postgresql": postgres_rebuild, "sqlite": sqlite_rebuild}[vendor]()


def differs(columns, old="OLD", new="NEW", *, vendor="postgresql") -> str:
    operator = "IS DISTINCT FROM" if vendor == "postgresql" else "IS NOT"
    return " OR ".join(f"{old}.{column} {operator} {new}.{column}" for column in columns)


def postgres_setup() -> list[str]:
    statements = [
        "CREATE EXTENSION IF NOT EXISTS unaccent",
        f"""DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_ts_dict WHERE dictname = '{STEMMER}') THEN
                CREATE TEXT SEARCH DICTIONARY {STEMMER} (TEMPLATE = snowball, LANGUAGE = english);
            END IF;
            IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = '{CONFIG}') THEN
                CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = simple);
                ALTER TEXT SEARCH CONFIGURATION {CONFIG}
                    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part
                    WITH unaccent, {STEMMER};
            END IF;
        END $$""",
    ]
    for document in DOCUMENTS:
        table = document.table
        vector = " || ".join(
            f"setweight(to_tsvector('{CONFIG}', coalesce({part}, '')), '{weight}')"
            for weight, part in zip(PG_WEIGHTS, document.sql(row="NEW", vendor="postgresql"), strict=False)
        )
        statements += [
            f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS search_vector tsvector",
            # Set on insert, and on update when what it is made of changed or it was cleared
            # (which is how the other triggers ask for it to be computed again).
            f"""CREATE OR REPLACE FUNCTION {table}_search() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' OR NEW.search_vector IS NULL OR {differs(document.columns)} THEN
                    NEW.search_vector := {vector};
                END IF;
                RETURN NEW;
            END $$""",
            f"CREATE OR REPLACE TRIGGER {table}_search BEFORE INSERT OR UPDATE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_search()",
        ]
    for table, column, document, key in SHOWN_ELSEWHERE:
        name = f"{table}_{column}_search"
        statements += [
            f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE {document.table} SET search_vector = NULL WHERE {key} = NEW.id;
                RETURN NULL;
            END $$""",
            f"CREATE OR REPLACE TRIGGER {name} AFTER UPDATE OF {column} ON {table} FOR EACH ROW "
            f"WHEN (OLD.{column} IS DISTINCT FROM NEW.{column}) EXECUTE FUNCTION {name}()",
        ]
    # A citation's quote is part of its record's document. One statement refreshes the records
    # of all the rows an INSERT, UPDATE or DELETE touched (transition tables); a citation
    # without a quote adds nothing to a document, so it refreshes none (most imported ones).
    moved = f"SELECT o.id FROM old_rows o JOIN new_rows n USING (id) WHERE {differs(CITED, 'o', 'n')}"
    quoted = f"{QUOTED.format(row='{rows}')}"
    touched = {
        "insert": ("NEW TABLE AS new_rows", ["SELECT {key} FROM new_rows WHERE " + quoted.format(rows="new_rows")]),
        "update": (
            "OLD TABLE AS old_rows NEW TABLE AS new_rows",
            [
                f"SELECT {{key}} FROM {rows} WHERE id IN ({moved}) AND {quoted.format(rows=rows)}"
                for rows in ("old_rows", "new_rows")
            ],
        ),
        "delete": ("OLD TABLE AS old_rows", ["SELECT {key} FROM old_rows WHERE " + quoted.format(rows="old_rows")]),
    }
    for operation, (transition, selects) in touched.items():
        name = f"events_citation_search_{operation}"
        updates = "\n".join(
            f"UPDATE {document.table} SET search_vector = NULL WHERE id IN "
            f"({' UNION '.join(select.format(key=f'{document.subject}_id') for select in selects)});"
            for document in DOCUMENTS
        )
        statements += [
            f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {updates}
                RETURN NULL;
            END $$""",
            f"CREATE OR REPLACE TRIGGER {name} AFTER {operation.upper()} ON events_citation "
            f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
        ]
    return statements


def postgres_indexes() -> list[str]:
    """The GIN indexes, and fresh statistics: the planner weighs a word's frequency by them."""
    return [
        statement
        for document in DOCUMENTS
        for statement in (
            f"CREATE INDEX IF NOT EXISTS {document.table}_search_idx ON {document.table} USING gin (search_vector)",
            f"ANALYZE {document.table}",
        )
    ]


def postgres_rebuild() -> list[str]:
    return [f"UPDATE {document.table} SET search_vector = NULL" for document in DOCUMENTS]


def postgres_teardown() -> list[str]:
    statements = []
    for operation in ("insert", "update", "delete"):
        name = f"events_citation_search_{operation}"
        statements += [f"DROP TRIGGER IF EXISTS {name} ON events_citation", f"DROP FUNCTION IF EXISTS {name}()"]
    for table, column, _document, _key in SHOWN_ELSEWHERE:
        name = f"{table}_{column}_search"
        statements += [f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}()"]
    for document in DOCUMENTS:
        table = document.table
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_search ON {table}",
            f"DROP FUNCTION IF EXISTS {table}_search()",
            f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_vector",
        ]
    return statements + [
        f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {CONFIG}",
        f"DROP TEXT SEARCH DICTIONARY IF EXISTS {STEMMER}",
    ]


def sqlite_fill(document: Document, where: str) -> str:
    """Put the documents of ``document.table``'s rows ``r`` that ``where`` picks into its FTS5 table."""
    parts = document.sql(row="r", vendor="sqlite")
    folded = [f"replace(replace(coalesce({part}, ''), 'ё', 'е'), 'Ё', 'Е')" for part in parts]
    return (
        f"INSERT INTO {document.fts_table} (rowid, {', '.join(document.parts)}) "
        f"SELECT r.id, {', '.join(folded)} FROM {document.table} r WHERE {where};"
    )


def sqlite_refresh(document: Document, key: str) -> str:
    return f"DELETE FROM {document.fts_table} WHERE rowid = {key}; " + sqlite_fill(document, f"r.id = {key}")


def sqlite_trigger(name: str, when: str, body: str) -> str:
    return f"CREATE TRIGGER {name} {when} BEGIN {body} END"


def sqlite_setup() -> list[str]:
    statements = []
    for document in DOCUMENTS:
        table, fts = document.table, document.fts_table
        statements += [
            f"CREATE VIRTUAL TABLE {fts} USING fts5({', '.join(document.parts)}, tokenize = '{TOKENIZER}')",
            sqlite_trigger(
                f"{table}_search_insert", f"AFTER INSERT ON {table}", sqlite_fill(document, "r.id = NEW.id")
            ),
            sqlite_trigger(
                f"{table}_search_update",
                f"AFTER UPDATE OF {', '.join(document.columns)} ON {table} "
                f"WHEN {differs(document.columns, vendor='sqlite')}",
                sqlite_refresh(document, "NEW.id"),
            ),
            sqlite_trigger(
                f"{table}_search_delete", f"AFTER DELETE ON {table}", f"DELETE FROM {fts} WHERE rowid = OLD.id;"
            ),
        ]
    for table, column, document, key in SHOWN_ELSEWHERE:
        statements.append(
            sqlite_trigger(
                f"{table}_{column}_search",
                f"AFTER UPDATE OF {column} ON {table} WHEN OLD.{column} IS NOT NEW.{column}",
                f"DELETE FROM {document.fts_table} WHERE rowid IN "
                f"(SELECT id FROM {document.table} WHERE {key} = NEW.id); "
                + sqlite_fill(document, f"r.{key} = NEW.id"),
            )
        )
    for operation, rows in (("insert", ["NEW"]), ("update", ["OLD", "NEW"]), ("delete", ["OLD"])):
        # As on PostgreSQL, a citation without a quote refreshes nothing.
        quoted = " OR ".join(QUOTED.format(row=row) for row in rows)
        when = f"AFTER {operation.upper()} ON events_citation WHEN {quoted}"
        if operation == "update":
            when = (
                f"AFTER UPDATE OF {', '.join(CITED)} ON events_citation "
                f"WHEN ({differs(CITED, vendor='sqlite')}) AND ({quoted})"
            )
        body = " ".join(
            sqlite_refresh(document, f"{row}.{document.subject}_id") for row in rows for document in DOCUMENTS
        )
        statements.append(sqlite_trigger(f"events_citation_search_{operation}", when, body))
    return statements


def sqlite_rebuild() -> list[str]:
    return [
        statement
        for document in DOCUMENTS
        for statement in (f"DELETE FROM {document.fts_table}", sqlite_fill(document, "1"))
    ]


def sqlite_teardown() -> list[str]:
    operations = ("insert", "update", "delete")
    names = [f"{document.table}_search_{operation}" for document in DOCUMENTS for operation in operations]
    names += [f"{table}_{column}_search" for table, column, _document, _key in SHOWN_ELSEWHERE]
    names += [f"events_citation_search_{operation}" for operation in operations]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in names] + [
        f"DROP TABLE IF EXISTS {document.fts_table}" for document in DOCUMENTS
    ]
