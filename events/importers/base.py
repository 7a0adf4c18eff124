"""Shared machinery of the importers: read, validate, and upsert in batches.

An importer (:mod:`.ucdp`, :mod:`.acled`, :mod:`.claims_csv`, :mod:`.oryx`,
:mod:`.general_staff`) knows one file layout and turns each row into a :class:`RowRecord`:
plain data saying which event, casualty reports, citations and sources the row stands for.
Everything else is done here, the same way for every layout:

- A CSV file is read with :mod:`csv`, so quoted fields may hold separators, quotes and
  newlines. A problem is reported with the line its record *starts* on (counted with
  ``csv.reader.line_num``, so embedded newlines do not shift the numbers), the column and
  what is wrong. A JSON file (``Importer.file_format``) is a list of objects, one record
  each, read a chunk at a time (:class:`JsonRecords`); a problem names the line its object
  starts on and the key.
- Every record is checked with the models' own rules, the ones the API applies (the fields'
  rules and ``clean()``, see :mod:`.rules`). A row that fails is rejected and reported; the
  other rows go on. So is a row whose report an earlier row gave, or its event with other
  values.
- Rows are read and written in batches (1,000 by default), each in one transaction: an
  interrupted import leaves no event without its reports and citations, and memory does not
  grow with the file. Records are matched by ``external_id``, so running the same file again
  finishes an interrupted import, updates what changed and leaves the rest alone. A record
  entered here has no external id; a file names it ``local:event:<id>`` or
  ``local:casualty-report:<id>`` (see :func:`.bulk.record_key`), and such a key matches the
  record with that id.
- Each batch costs a few dozen statements whatever its size (:mod:`.bulk`): the records are
  staged (``COPY`` on PostgreSQL), then created, compared and updated in SQL, with their
  history entries (django-simple-history's tables). A record whose values did not change is
  not written at all: its ``updated_at`` and its history stay as they were.
- A row accepted without warnings is kept by a digest of its text (:mod:`events.imported`),
  which triggers drop when anything it stands for changes. A later import finds the digest
  and counts the row unchanged without parsing or checking it: re-importing a dataset's next
  release reads only the rows that changed, or whose records a curator edited since.
  :class:`Records` tells rows apart by their quotes, so a kept row is not even split into
  fields.
- An importer may give records that the file stands for as a whole (``Importer.totals``: the
  running totals of a list of items), written after the rows through the same writer and
  counted apart in the summary.

Sources are matched by slug and created when missing; an existing source is never modified,
so a curator's corrections (kind, reliability, country) survive re-imports.
"""

import contextlib
import csv
import dataclasses
import datetime
import functools
import hashlib
import importlib.metadata
import io
import itertools
import json
import math
import pickle
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, transaction
from django.utils.text import slugify
from django_countries import countries
from tqdm import tqdm

from events import choices
from events.collector import collector_paused
from events.models import CasualtyReport, Citation, Event, Source

from .bulk import KEYS, BulkWriter, Seen
from .rules import rules_of

DEFAULT_BATCH_SIZE = 1000
LOOKUP_SIZE = 1000  # rows looked up at a time among those kept by digest (events.imported)
UNCHANGED_BATCH_SIZE = 20_000  # rows of a batch at most, unchanged ones included


class ImportFileError(Exception):
    """The file as a whole cannot be imported (missing, not UTF-8, wrong columns)."""


@dataclass(frozen=True)
class Problem:
    """Why a row was rejected, or what was changed to import it (a warning)."""

    line: int
    column: str
    message: str

    def __str__(self):
        return f"line {self.line}, column {self.column or '(row)'}: {self.message}"


# --- What a row stands for ----------------------------------------------------------------


@dataclass(frozen=True)
class SourceSpec:
    """A source to cite, found by slug; created with these values only if no source has the slug."""

    slug: str
    name: str
    kind: str = choices.SourceKind.MEDIA
    reliability: str = choices.Reliability.F
    country: str = ""
    homepage: str = ""
    description: str = ""
    party: bool = False  # speaks for a party to the conflict (Source.party)


SOURCE_FIELDS = [field.name for field in dataclasses.fields(SourceSpec)]


@dataclass
class CitationSpec:
    source: SourceSpec
    role: str
    values: dict = field(default_factory=dict)  # url, title, published_date, accessed_date, archive_url, quote
    columns: Mapping[str, str] = field(default_factory=dict)  # field (or source_<field>) -> CSV column


@dataclass
class ReportSpec:
    external_id: str  # the record's key in the file: its external id, or a local key (record_key)
    values: dict  # CasualtyReport fields by attname, without event_id when the row has an event
    citations: list[CitationSpec] = field(default_factory=list)
    columns: Mapping[str, str] = field(default_factory=dict)
    manage_citations: bool = True  # False: leave the report's citations as they are


@dataclass
class EventSpec:
    external_id: str  # as in ReportSpec
    values: dict  # Event fields by attname
    citations: list[CitationSpec] = field(default_factory=list)
    columns: Mapping[str, str] = field(default_factory=dict)
    # Reports of this event whose external_id starts with this prefix belong to the row: one the
    # row no longer gives (a figure that became zero) is deleted. Empty: none are deleted.
    owned_reports_prefix: str = ""
    manage_citations: bool = True

    @functools.cached_property
    def fingerprint(self) -> bytes:
        """Equal for two rows describing the event identically (rows of the claims format repeat it).

        A short digest: the import keeps one per event to check later rows against.
        """
        # Each list with its count: no two descriptions give the same text.
        parts = [self.owned_reports_prefix, len(self.values), *itertools.chain(*sorted(self.values.items()))]
        parts.append(len(self.citations))
        for citation in self.citations:
            parts += (citation.role, *(getattr(citation.source, name) for name in SOURCE_FIELDS))
            parts += (len(citation.values), *itertools.chain(*sorted(citation.values.items())))
        data = pickle.dumps([str(part) if isinstance(part, str) else part for part in parts])  # a choice as its value
        return hashlib.blake2b(data, digest_size=16).digest()


@dataclass
class RowRecord:
    """Everything one row stands for.

    A row counts as created when its event is new (or its report, with ``counts_as="report"``:
    rows of the claims format stand for one report each), as updated when anything it stands
    for changed, and as unchanged otherwise.
    """

    line: int
    event: EventSpec | None = None
    reports: list[ReportSpec] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    counts_as: str = "event"
    digest: str | None = None  # of the row (text_digest, or row_digest once csv reads the file): its key when kept

    @property
    def primary(self) -> tuple[str, str]:
        if self.counts_as == "report" and self.reports:
            return ("report", self.reports[0].external_id)
        return ("event", self.event.external_id)

    @property
    def keys(self) -> list[tuple[str, str]]:
        keys = [("report", report.external_id) for report in self.reports]
        return keys + ([("event", self.event.external_id)] if self.event is not None else [])


@dataclass
class Rejected:
    """A row that will not be imported, and why."""

    problems: list[Problem]
    record: RowRecord | None = None  # what the row stands for, when it could be read

    @property
    def line(self) -> int:
        return self.problems[0].line


@dataclass
class Unchanged:
    """A row that an earlier import wrote, whose records are as it left them (:mod:`events.imported`).

    It is not read again: what the checks for repeated keys need was kept with its digest.
    """

    line: int
    event_key: str | None
    fingerprint: bytes | None
    report_keys: list[str]


# --- Reading fields -----------------------------------------------------------------------

ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")


class RowReader:
    """Typed access to one CSV row that collects every problem instead of stopping at the first."""

    def __init__(self, row: Mapping[str, str], *, line: int):
        self.row = row
        self.line = line
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self._texts: dict[str, str] = {}  # importers read some columns several times

    def has(self, column: str) -> bool:
        return column in self.row

    def reject(self, column: str, message: str) -> None:
        self.problems.append(Problem(self.line, column, message))

    def warn(self, column: str, message: str) -> None:
        self.warnings.append(Problem(self.line, column, message))

    def text(self, column: str, *, required: bool = False) -> str:
        """The field with newlines normalised, NUL characters (refused by PostgreSQL) dropped, and trimmed."""
        value = self._texts.get(column)
        if value is None:
            value = self.row.get(column) or ""
            if "\r" in value or "\x00" in value:
                value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
            value = self._texts[column] = value.strip()
        if required and not value:
            self.reject(column, "is required.")
        return value

    def clipped(self, column: str, value: str, max_length: int) -> str:
        """``value`` cut to ``max_length`` characters, with a warning when it had to be cut."""
        if len(value) <= max_length:
            return value
        self.warn(column, f"cut to {max_length} characters (it had {len(value)}).")
        return value[: max_length - 1].rstrip() + "…"

    def integer(self, column: str, *, required: bool = False, minimum: int | None = 0) -> int | None:
        raw = self.text(column, required=required)
        if not raw:
            return None
        try:
            value = int(raw)
        except ValueError:
            try:
                number = float(raw)
            except ValueError:
                number = math.nan
            if not number.is_integer():
                self.reject(column, f"{raw!r} is not a whole number.")
                return None
            value = int(number)  # "12.0", as some exports write integers
        if minimum is not None and value < minimum:
            self.reject(column, f"{value} is less than {minimum}.")
            return None
        return value

    def number(self, column: str, *, required: bool = False) -> float | None:
        raw = self.text(column, required=required)
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            self.reject(column, f"{raw!r} is not a number.")
            return None
        return value

    def date(self, column: str, *, required: bool = False, formats: Iterable[str] = ()) -> datetime.date | None:
        """A date written ``YYYY-MM-DD`` (optionally followed by a time, as UCDP writes it) or in ``formats``."""
        raw = self.text(column, required=required)
        if not raw:
            return None
        value = parse_date(raw, formats=formats)
        if value is None:
            self.reject(column, f"{raw!r} is not a date (expected YYYY-MM-DD).")
        return value

    def choice(self, column: str, mapping: Mapping[str, object], *, required: bool = False, default=None):
        raw = self.text(column, required=required)
        if not raw:
            return default
        if raw not in mapping:
            self.reject(column, f"{raw!r} is not one of {', '.join(mapping)}.")
            return default
        return mapping[raw]

    def boolean(self, column: str, *, default: bool = False) -> bool:
        return self.choice(column, BOOLEANS, default=default)


BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
BOOLEANS |= {word.capitalize(): value for word, value in BOOLEANS.items()} | {"TRUE": True, "FALSE": False}


def parse_date(raw: str, *, formats: Iterable[str] = ()) -> datetime.date | None:
    """``YYYY-MM-DD`` (with or without a time after it) or one of ``formats``; None when it is none of them."""
    match = ISO_DATE.match(raw.strip())
    if match:
        try:
            return datetime.date.fromisoformat(match[1])
        except ValueError:
            return None
    for date_format in formats:
        try:
            return datetime.datetime.strptime(raw.strip(), date_format).date()
        except ValueError:
            continue
    return None


# --- Names to codes -----------------------------------------------------------------------

# Spellings of the conflict datasets that django-countries does not know, after any
# parenthesised former name is dropped ("DR Congo (Zaire)" -> "DR Congo").
COUNTRY_ALIASES = {
    "dr congo": "CD",
    "democratic republic of congo": "CD",
    "democratic republic of the congo": "CD",
    "republic of congo": "CG",
    "bosnia-herzegovina": "BA",
    "ivory coast": "CI",
    "cote d'ivoire": "CI",
    "kingdom of eswatini": "SZ",
    "swaziland": "SZ",
    "macedonia, fyr": "MK",
    "macedonia": "MK",
    "cape verde": "CV",
    "east timor": "TL",
    "kosovo": "XK",
    "vietnam": "VN",
    "north vietnam": "VN",
    "south vietnam": "VN",
    "yemen": "YE",
    "south yemen": "YE",
    "soviet union": "RU",
    "russia (soviet union)": "RU",
    "czechoslovakia": "CZ",
    "yugoslavia": "RS",
    "serbia (yugoslavia)": "RS",
    "micronesia": "FM",
    "bahamas": "BS",
    "gambia": "GM",
    "palestine": "PS",
    "state of palestine": "PS",
    "united states": "US",
    "usa": "US",
    "uk": "GB",
}


@functools.lru_cache(maxsize=4096)
def country_code(name: str) -> str:
    """ISO 3166-1 alpha-2 code of a country name as UCDP or ACLED spell it; empty when unknown."""
    name = name.strip()
    if not name:
        return ""
    for candidate in (name, re.sub(r"\s*\(.*?\)\s*$", "", name)):
        code = COUNTRY_ALIASES.get(candidate.casefold()) or countries.by_name(candidate)
        if code:
            return code
    return ""


SOURCE_KIND_PATTERNS = [
    (choices.SourceKind.GOVERNMENT, r"\bministry\b|\bministere\b|\bgovernment\b|\bpresiden|\bembassy\b"),
    (choices.SourceKind.MILITARY, r"\barmy\b|\bmilitary\b|\barmed forces\b|\bpolice\b|\bdefen[cs]e forces\b"),
    # United Nations bodies and missions are intergovernmental: "other".
    (choices.SourceKind.OTHER, r"\bunited nations\b|\bohchr\b|\bunama\b|\bminusca\b|\bmonusco\b|\bunhcr\b"),
    (
        choices.SourceKind.NGO,
        r"\bhuman rights\b|\bwatch\b|\bamnesty\b|\bred cross\b|\bicrc\b|\bhrw\b|\bsohr\b"
        r"|\bno peace without justice\b|\bsecurity tracker\b|\bairwars\b|\bnoche y niebla\b|\bprovea\b"
        r"|\biranhr\b|\bvdc\b|\bngo\b",
    ),
    (choices.SourceKind.THINK_TANK, r"\binstitute\b|\bcritical threats\b|\bcrisis group\b|\bsatp\b|\bthink tank\b"),
    (choices.SourceKind.SOCIAL_MEDIA, r"\btwitter\b|\bfacebook\b|\btelegram\b|\byoutube\b|\bx\.com\b"),
]


@functools.lru_cache(maxsize=4096)
def guess_source_kind(name: str) -> str:
    """Media unless the name says otherwise: a ministry, an army, a human-rights group, an institute."""
    for kind, pattern in SOURCE_KIND_PATTERNS:
        if re.search(pattern, name, flags=re.IGNORECASE):
            return kind
    return choices.SourceKind.MEDIA


@functools.lru_cache(maxsize=4096)
def source_slug(name: str) -> str:
    """A slug made from the name; a short hash when the name has no ASCII letters or digits."""
    slug = slugify(name)[:100].strip("-")
    return slug or "source-" + hashlib.sha1(name.encode()).hexdigest()[:10]


def split_list(text: str, separator: str = ";") -> list[str]:
    return [part.strip() for part in text.split(separator)]


# --- Checking records with the models' rules ---------------------------------------------

# Foreign keys are the importer's to set, and are not checked (see .rules).
FK_FIELDS = {
    Event: (),
    CasualtyReport: ("unit", "event"),
    Citation: ("source", "event", "casualty_report"),
    Source: (),
}


def spec_problems(model, values: Mapping, *, line: int, columns: Mapping[str, str]) -> list[Problem]:
    rules = rules_of(model, FK_FIELDS[model])
    return [Problem(line, column, message) for column, message in rules.problems(values, columns=columns)]


def record_problems(record: RowRecord) -> list[Problem]:
    problems = []
    line = record.line
    if record.event is not None:
        spec = record.event
        values = {**spec.values, "external_id": spec.external_id}
        problems += spec_problems(Event, values, line=line, columns=spec.columns)
        problems += citation_problems(spec.citations, line=line)
    for report in record.reports:
        values = {**report.values, "external_id": report.external_id}
        problems += spec_problems(CasualtyReport, values, line=line, columns=report.columns)
        problems += citation_problems(report.citations, line=line)
    return problems


def citation_problems(citations: list[CitationSpec], *, line: int) -> list[Problem]:
    problems = []
    for citation in citations:
        values = {**citation.values, "role": citation.role}
        problems += spec_problems(Citation, values, line=line, columns=citation.columns)
        for name, message in source_errors(citation.source):
            column = citation.columns.get(f"source_{name}", citation.columns.get("source", name))
            problems.append(Problem(line, column, message))
    return problems


@functools.lru_cache(maxsize=4096)
def source_errors(source: SourceSpec) -> tuple[tuple[str, str], ...]:
    """(field, message) for a source spec; cached, since one source is cited by many rows."""
    return tuple(rules_of(Source).problems(dataclasses.asdict(source), columns={}))


# --- Reading a file -----------------------------------------------------------------------


class Importer:
    """One file layout. Subclasses set the attributes and implement :meth:`parse_row`."""

    #: Shown in messages and history: "UCDP GED".
    label = ""
    #: "csv" (a header row, then one row per record) or "json" (a list of objects, one per
    #: record: see :class:`JsonRecords`).
    file_format = "csv"
    #: Columns the file must have.
    required_columns: tuple[str, ...] = ()
    #: Columns named in a duplicate-id problem.
    event_id_column = "id"
    report_id_column = "id"
    #: Citations in these roles are the importer's to write (and to replace); others are left alone.
    event_citation_roles = frozenset({choices.CitationRole.REPORTED_BY})
    report_citation_roles = frozenset({choices.CitationRole.CLAIMED_BY})

    def check_header(self, header: list[str]) -> None:
        if not header:
            raise ImportFileError("The file is empty: it has no header row.")
        missing = [column for column in self.required_columns if column not in header]
        if missing:
            raise ImportFileError(f"This is not a {self.label} file: it lacks the columns {', '.join(missing)}.")
        duplicated = sorted({column for column in header if header.count(column) > 1})
        if duplicated:
            raise ImportFileError(f"The header repeats the columns {', '.join(duplicated)}.")

    def parse_row(self, row: RowReader) -> RowRecord | None:
        """What the row stands for; problems go to ``row.reject`` (the result may then be None).

        A JSON record's reader holds the object's values as JSON gives them (numbers, strings,
        None...), not text.
        """
        raise NotImplementedError

    def totals(self, writer: BulkWriter) -> "Totals | None":
        """Records the file stands for as a whole (running totals of a list), written after its rows.

        Called once every row is written, in the same transaction as the totals' writes, with the
        import's writer (:meth:`.bulk.BulkWriter.accepted_reports` selects what the rows gave).
        None (the default): the file stands for nothing beyond its rows.
        """
        return None


@dataclass
class Totals:
    """What :meth:`Importer.totals` gives: records to write, and reports they replace, to delete."""

    records: list[RowRecord]
    stale: Iterable[CasualtyReport] = ()


@dataclass
class TotalCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def __str__(self):
        return (
            f"{self.created + self.updated + self.unchanged:,} totals: {self.created:,} created, "
            f"{self.updated:,} updated, {self.unchanged:,} unchanged, {self.deleted:,} deleted."
        )


@dataclass
class ImportSummary:
    path: Path
    dry_run: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    sources_created: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    totals: TotalCounts | None = None  # of the importer's totals (Importer.totals), if it has any

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def __str__(self):
        text = (
            f"{self.path.name}: {self.rows:,} rows in {self.seconds:.1f} s ({self.rows_per_second:,.0f} rows/s): "
            f"{self.created:,} created, {self.updated:,} updated, {self.unchanged:,} unchanged, "
            f"{self.rejected:,} rejected; {len(self.warnings):,} warnings; {self.sources_created:,} new sources."
        )
        if self.totals is not None:
            text += f" {self.totals}"
        return "Dry run, nothing was saved. " + text if self.dry_run else text


# A field as ``csv`` writes it: quoted (its quotes doubled), or without quotes, separators or line ends.
CSV_FIELD = r'(?:"(?:[^"]|"")*"|[^",\r\n]*)'
PLAIN_RECORD = re.compile(rf"{CSV_FIELD}(?:,{CSV_FIELD})*(?:\r\n|\n|\r)?")


class Records:
    """A CSV file's records, each with the line it starts on, as :mod:`csv` reads them, parsed only when asked.

    A record is told apart by its quotes: it ends with the first line that leaves an even number
    of them. That is where :mod:`csv` ends it too, as long as every quote opens, closes or doubles
    a quoted field. :meth:`fields` checks that of each record it parses; from the first one where
    it does not hold, the rest of the file is read by :mod:`csv` itself (:meth:`read_by_csv`), and
    its records come parsed.

    Iterating gives (line, lines of the record or None, fields or None); a blank line is no record.
    """

    def __init__(self, text: Iterable[str]):
        self.lines = iter(text)
        self.read = 0  # lines read so far
        self.reader = None  # csv's, from the first record quotes alone do not delimit
        self.offset = 0  # lines read before the reader started

    def __iter__(self):
        while self.reader is None:
            lines, quotes = [], 0
            for physical in self.lines:
                lines.append(physical)
                quotes += physical.count('"')
                if not quotes % 2:
                    break
            if not lines:
                return
            line = self.read + 1
            self.read += len(lines)
            if len(lines) > 1 or lines[0].strip("\r\n"):
                yield line, lines, None
        for fields in self.reader:
            line, self.read = self.read + 1, self.offset + self.reader.line_num
            if fields:
                yield line, None, fields

    @staticmethod
    def fields(lines: list[str]) -> list[str] | None:
        """The fields of a record, or None when :mod:`csv` might end it elsewhere (see the class)."""
        if not PLAIN_RECORD.fullmatch("".join(lines)):
            return None
        records = list(csv.reader(lines))
        return records[0] if len(records) == 1 else None

    def read_by_csv(self, line: int, lines: list[str]) -> None:
        """Read the file again from ``line`` (whose lines, and those read after it, are given) with csv."""
        self.lines = itertools.chain(lines, self.lines)
        self.read = self.offset = line - 1
        self.reader = csv.reader(self.lines)


JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")


class JsonRecords:
    """The elements of a JSON list (``[{...}, {...}]``), each with the line it starts on, read a chunk at a time.

    Iterating gives the triples of :class:`Records`: (line, [the element's text as the file has
    it], the element decoded), so that a record's digest is that of its text. Memory holds one
    chunk and the element being read, however long the file. A file that is not such a list,
    or whose JSON is broken, raises :class:`ImportFileError` naming the line.
    """

    CHUNK_SIZE = 1 << 16

    def __init__(self, text, *, name: str = "The file"):
        self.file = text
        self.name = name
        self.buffer = ""
        self.position = 0  # in the buffer
        self.line = 1  # of self.position
        self.at_end = False
        self.decoder = json.JSONDecoder()

    def _more(self, size: int = 0) -> bool:
        """Append the next ``size`` characters (a chunk) to what is left to read; False at the end of the file."""
        if self.at_end:
            return False
        chunk = self.file.read(size or self.CHUNK_SIZE)
        if not chunk:
            self.at_end = True
            return False
        self.buffer = self.buffer[self.position :] + chunk
        self.position = 0
        return True

    def _next(self) -> str:
        """Skip whitespace; the next character, or "" at the end of the file."""
        while True:
            end = JSON_WHITESPACE.match(self.buffer, self.position).end()
            self.line += self.buffer.count("\n", self.position, end)
            self.position = end
            if end < len(self.buffer):
                return self.buffer[end]
            if not self._more():
                return ""

    def _fail(self, message: str, line: int | None = None):
        raise ImportFileError(f"{self.name}, line {line or self.line}: {message}")

    def __iter__(self):
        character = self._next()
        if character != "[":
            self._fail("this is not a JSON list (of one object per record)." if character else "the file is empty.")
        self.position += 1
        count = 0
        while True:
            character = self._next()
            if character == "]":
                break
            if count and character == ",":
                self.position += 1
                character = self._next()
                if character == "]":
                    self._fail("a comma before the end of the list.")
            elif count and character:
                self._fail("expected a comma or the end of the list after the element before.")
            if not character:
                self._fail("the file ends inside the list.")
            line, size = self.line, self.CHUNK_SIZE
            while True:
                try:
                    value, end = self.decoder.raw_decode(self.buffer, self.position)
                except json.JSONDecodeError as error:
                    # The element may go on in the next chunk; reading more each time keeps the
                    # work linear when it does not.
                    if self._more(size):
                        size = max(size, len(self.buffer))
                        continue
                    self._fail(f"{error.msg}.", line=self.line + self.buffer.count("\n", self.position, error.pos))
                # A number or a literal that ends the chunk may go on in the next one.
                if end == len(self.buffer) and not isinstance(value, dict | list | str) and self._more(size):
                    continue
                break
            text = self.buffer[self.position : end]
            self.line += text.count("\n")
            self.position = end
            count += 1
            yield line, [text], value
        self.position += 1
        if self._next():
            self._fail("text after the end of the list.")

    @staticmethod
    def fields(lines: list[str]):
        return json.loads("".join(lines))


def import_file(
    *,
    path: Path,
    importer: Importer,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    progress: bool = False,
    change_reason: str = "",
    on_problem: Callable[[Problem, bool], None] | None = None,
) -> ImportSummary:
    """Import a file with ``importer``; see the module docstring for what that involves.

    ``on_problem(problem, rejected)`` is called for every rejected row and every warning as
    the import goes. With ``dry_run`` everything happens in a transaction rolled back at the
    end, so the summary says what an import would do.
    """
    summary = ImportSummary(path=path, dry_run=dry_run)
    writer = BulkWriter(
        change_reason=(change_reason or f"{importer.label} import of {path.name}")[:100],
        event_citation_roles=importer.event_citation_roles,
        report_citation_roles=importer.report_citation_roles,
    )
    # Rows read and not yet looked up among the kept rows: (line, lines or None, fields or None,
    # digest), in file order (see Records).
    block: list[tuple[int, list[str] | None, list[str] | None, str]] = []
    # Rows looked up and not yet written: Unchanged, or (line, fields, digest) to read, in file order.
    batch: list[Unchanged | tuple[int, list[str], str]] = []
    to_read = 0
    started = time.monotonic()

    def report(problem: Problem, rejected: bool):
        (summary.problems if rejected else summary.warnings).append(problem)
        if on_problem is not None:
            with tqdm.external_write_mode(file=sys.stderr):
                on_problem(problem, rejected)

    def look_up() -> bool:
        """Move the block's rows to the batch, each as unchanged if kept (events.imported), else to be read.

        False when a row's quotes do not delimit it (see Records): the rows from it on are read
        again, by csv.
        """
        nonlocal to_read, line
        known = writer.known_rows([row[3] for row in block])
        for position, (line, lines, fields, digest) in enumerate(block):
            if digest in known:
                batch.append(Unchanged(line, *known[digest]))
                continue
            if fields is None:
                fields = records.fields(lines)
                if fields is None:
                    records.read_by_csv(line, [text for row in block[position:] for text in row[1]])
                    summary.rows -= len(block) - position
                    block.clear()
                    return False
            batch.append((line, fields, digest))
            to_read += 1
        block.clear()
        return True

    def flush():
        nonlocal to_read
        with transaction.atomic():
            items = []
            for item in batch:
                if isinstance(item, Unchanged):
                    items.append(item)
                    continue
                line, fields, digest = item
                items.append(parse_record(importer, header, fields, line=line))
                if isinstance(items[-1], RowRecord):
                    items[-1].digest = digest
            records = []
            for item in reject_duplicates(items, importer, writer):
                if isinstance(item, Rejected):
                    summary.rejected += 1
                    for problem in item.problems:
                        report(problem, True)
                elif isinstance(item, Unchanged):
                    summary.unchanged += 1
                else:
                    for warning in item.warnings:
                        report(warning, False)
                    records.append(item)
            for status in writer.write(records):
                setattr(summary, status, getattr(summary, status) + 1)
            writer.keep(records)
        batch.clear()
        to_read = 0
        bar.update(text.buffer.tell() - bar.n)  # bytes read so far: the bar needs no counting pass
        bar.set_postfix_str(f"{summary.rows:,} rows")

    def write_totals():
        with transaction.atomic():
            with writer.connection.cursor() as cursor:
                writer.db.read_by_key(cursor)
            totals = importer.totals(writer)
            if totals is None:
                return
            counts = summary.totals = TotalCounts()
            for start in range(0, len(totals.records), batch_size):
                for status in writer.write(totals.records[start : start + batch_size]):
                    setattr(counts, status, getattr(counts, status) + 1)
            for report in totals.stale:
                report._change_reason = writer.change_reason
                report.delete()
                counts.deleted += 1

    try:
        text = io.TextIOWrapper(path.open("rb"), encoding="utf-8-sig", newline="")
    except OSError as error:
        raise ImportFileError(f"Cannot read {path}: {error.strerror}.") from None
    line = 1
    with (
        collector_paused(),  # a batch's rows and records are in no cycle: reference counting frees them
        text,
        tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=path.name, disable=not progress) as bar,
        transaction.atomic() if dry_run else contextlib.nullcontext(),
        writer,
    ):
        try:
            if importer.file_format == "json":
                records, header = JsonRecords(text, name=path.name), []
            else:
                records = Records(text)
                header = read_header(records)
                importer.check_header(header)
            # Two salts: rows are known by their text (as read from the file) or, once csv reads
            # the file, by their fields.
            salts = {kind: row_salt(importer, header, kind) for kind in ("text", "fields")}
            while True:
                for line, lines, fields in records:
                    summary.rows += 1
                    if lines is not None:
                        digest = text_digest(salts["text"], lines)
                    else:
                        digest = row_digest(salts["fields"], fields)
                    block.append((line, lines, fields, digest))
                    if len(block) >= min(batch_size, LOOKUP_SIZE):
                        if not look_up():
                            break
                        # A batch writes up to batch_size rows; unchanged ones cost it no write.
                        if to_read >= batch_size or len(batch) >= UNCHANGED_BATCH_SIZE:
                            flush()
                else:
                    if look_up():
                        break
            if batch:
                flush()
            write_totals()
        except UnicodeDecodeError:
            raise ImportFileError(f"{path.name} is not UTF-8 text (after line {line}).") from None
        except csv.Error as error:
            raise ImportFileError(f"{path.name}, line {line}: {error}.") from None
        summary.sources_created = writer.sources_created
        if dry_run:
            transaction.set_rollback(True)
    summary.seconds = time.monotonic() - started
    return summary


@functools.cache
def code_digest() -> bytes:
    """A digest of the code that reads rows: this package, and the models and choices whose rules it applies."""
    digest = hashlib.blake2b(digest_size=32)
    package = Path(__file__).resolve().parent
    for path in sorted(package.glob("*.py")) + [package.parent / "models.py", package.parent / "choices.py"]:
        digest.update(path.read_bytes())
    digest.update(importlib.metadata.version("django-countries").encode())  # country names are looked up there
    return digest.digest()


def row_salt(importer: Importer, header: list[str], kind: str = "fields") -> bytes:
    """The key of the rows' digests in a file with this header, read by this importer.

    ``kind`` is what is digested: a row's "fields" (:func:`row_digest`) or its "text" (:func:`text_digest`).
    """
    digest = hashlib.blake2b(code_digest(), digest_size=32)
    digest.update(pickle.dumps([kind, type(importer).__module__, type(importer).__qualname__, header]))
    return digest.digest()


def text_digest(salt: bytes, lines: list[str]) -> str:
    """A digest of a row's text, its lines as the file has them (see events.imported)."""
    return hashlib.blake2b("".join(lines).encode(), key=salt, digest_size=16).hexdigest()


def read_header(records: Records) -> list[str]:
    """The file's first record, its column names trimmed; empty for an empty file."""
    for _line, lines, fields in records:
        if fields is None:
            fields = records.fields(lines)
            if fields is None:
                records.read_by_csv(1, lines)
                continue
        return [column.strip() for column in fields]
    return []


def row_digest(salt: bytes, fields: list[str]) -> str:
    """A digest of a row's fields: equal for two rows the same importer reads the same way (see events.imported)."""
    text = "\x00".join(fields)
    # Fields without NUL are told apart by it; else pickled, after a byte UTF-8 text never has.
    data = text.encode() if text.count("\x00") == len(fields) - 1 else b"\xff" + pickle.dumps(fields)
    return hashlib.blake2b(data, key=salt, digest_size=16).hexdigest()


def parse_record(importer: Importer, header: list[str], fields, *, line: int) -> RowRecord | Rejected:
    """Parse and check one row: a CSV row's fields, or a JSON record (see :class:`JsonRecords`)."""
    if importer.file_format == "json":
        reader = RowReader(fields, line=line)
    elif len(fields) != len(header):
        message = f"the row has {len(fields)} fields where the header has {len(header)}."
        return Rejected([Problem(line, "", message)])
    else:
        reader = RowReader(dict(zip(header, fields, strict=True)), line=line)
    record = importer.parse_row(reader)
    if reader.problems:
        return Rejected(reader.problems)
    record.warnings = reader.warnings + record.warnings
    problems = record_problems(record)
    return Rejected(problems, record) if problems else record


def reject_duplicates(items: list, importer: Importer, writer: BulkWriter) -> list:
    """The items, with the rows rejected whose report an earlier row gave, or whose event it gave otherwise.

    Items are records, rejected rows and unchanged rows (:class:`Unchanged`, never read). Rows of
    the claims format repeat their event, with the same values. Only accepted rows count as
    earlier rows. Their keys are kept by the writer (in the database, so memory does not grow
    with the file, see :class:`.bulk.Seen`); those of the rows accepted here are added.
    """
    keys = [row_keys(item) for item in items]
    wanted = set()
    for event, _, reports in filter(None, keys):
        if event is not None:
            wanted.add("e" + event)
        for report, owner in reports:
            wanted.add("r" + report)
            if owner is not None and owner[0] != event:
                wanted.add("e" + owner[0])
    seen = writer.earlier(wanted)
    new: dict[str, Seen] = {}
    loose = writer.loose_reports  # whether any report key is kept on its own, not with its event's

    def first(key: str) -> Seen | None:
        return new.get(key) or seen.get(key)

    def first_line(report: str, owner: tuple[str, str] | None) -> int | None:
        """The line of the row that gave this report key, if one did: as a report of its own, or of its event."""
        if loose and (given := first("r" + report)) is not None:
            return given.line
        if owner is not None and (event := first("e" + owner[0])) is not None:
            return event.reports.get(owner[1])
        return None

    result = []
    for item, item_keys in zip(items, keys, strict=True):
        if item_keys is None:
            result.append(item)
            continue
        event, fingerprint, reports = item_keys
        problems = []
        earlier_event = first("e" + event) if event is not None else None
        if earlier_event is not None and earlier_event.fingerprint != fingerprint():
            message = f"{event} is also on line {earlier_event.line}, with different values."
            problems.append(Problem(item.line, importer.event_id_column, message))
        # A row's own reports named after its new event can have been given by no earlier row
        # unless some report key is kept on its own.
        if loose or earlier_event is not None or any(owner is None or owner[0] != event for _, owner in reports):
            for report, owner in reports:
                if (line := first_line(report, owner)) is not None:
                    message = f"{report} is also on line {line}."
                    problems.append(Problem(item.line, importer.report_id_column, message))
        if isinstance(item, Rejected) or problems:
            result.append(Rejected(item.problems + problems if isinstance(item, Rejected) else problems))
            continue
        owned = {}
        for report, owner in reports:
            if owner is not None and owner[0] == event:
                owned[owner[1]] = item.line  # kept with its event
            else:
                new["r" + report] = Seen(item.line)
                loose = True
        if event is not None:
            if earlier_event is None:
                new["e" + event] = Seen(item.line, fingerprint(), owned)
            elif owned:
                new["e" + event] = Seen(
                    earlier_event.line, earlier_event.fingerprint, {**earlier_event.reports, **owned}
                )
        result.append(item)
    writer.remember(new)
    return result


def owning_event(report: str) -> tuple[str, str] | None:
    """(event key, suffix) of a report key made of an event's key, a colon and a word ("ucdp-ged:12:total").

    A row's reports of that form are kept with its event in the keys seen so far (one entry for
    a UCDP or ACLED row, not one per report). Two such keys are equal only if their events are.
    """
    event, colon, suffix = report.rpartition(":")
    return (event, suffix) if colon and event and suffix and KEYS not in suffix else None


def row_keys(item) -> tuple[str | None, Callable[[], bytes | None], list[tuple[str, tuple[str, str] | None]]] | None:
    """(event key, its fingerprint when asked for, each report key with :func:`owning_event`) of an item.

    None for a row that could not be read.
    """
    if isinstance(item, Unchanged):
        return item.event_key, lambda: item.fingerprint, [(key, owning_event(key)) for key in item.report_keys]
    record = item if isinstance(item, RowRecord) else item.record
    if record is None:
        return None
    event = record.event
    fingerprint = (lambda: event.fingerprint) if event is not None else (lambda: None)
    reports = [(spec.external_id, owning_event(spec.external_id)) for spec in record.reports]
    return (event.external_id if event is not None else None), fingerprint, reports


# --- The management commands ----------------------------------------------------------------


class ImportCommand(BaseCommand):
    """``manage.py import_<layout> FILE``: the options every importer shares."""

    importer_class: type[Importer]
    file_help = "The CSV file to import (UTF-8, with a header row)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help=self.file_help)
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Do everything, report what would change, then roll back: nothing is saved.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help="Rows written per transaction (default %(default)s).",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="No progress bar (there is none unless stdout is a terminal)."
        )

    def handle(self, *args, file, dry_run, batch_size, no_progress, verbosity, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")

        def on_problem(problem, rejected):
            if verbosity >= 1:
                if rejected:
                    self.stderr.write(f"rejected {problem}")
                else:
                    self.stderr.write(f"warning {problem}", style_func=self.style.WARNING)

        try:
            summary = self.run_import(
                path=file,
                batch_size=batch_size,
                dry_run=dry_run,
                progress=not no_progress and self.stdout.isatty(),
                change_reason=f"{self.importer_class.label} import of {file.name}",
                on_problem=on_problem,
            )
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        except DatabaseError as error:
            raise CommandError(
                f"The import stopped on a database error: {error}. Batches written before it are saved; "
                "run the same command again to finish (rows already imported are left as they are)."
            ) from error
        if verbosity >= 1:
            self.stdout.write(str(summary))

    def run_import(self, **options) -> ImportSummary:
        """The import itself, with the command's options (``import_file``'s arguments but the importer)."""
        return import_file(importer=self.importer_class(), **options)
