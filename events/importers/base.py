"""Shared machinery of the CSV importers: read, validate, and upsert in batches.

An importer (:mod:`.ucdp`, :mod:`.acled`, :mod:`.claims_csv`) knows one CSV layout and turns
each row into a :class:`RowRecord`: plain data saying which event, casualty reports, citations
and sources the row stands for. Everything else is done here, the same way for every layout:

- The file is read with :mod:`csv`, so quoted fields may hold separators, quotes and newlines.
  A problem is reported with the line its record *starts* on (counted with
  ``csv.reader.line_num``, so embedded newlines do not shift the numbers), the column and
  what is wrong.
- Every record is checked with the models' own rules, the ones the API applies
  (``clean_fields()`` and ``clean()``). A row that fails is rejected and reported; the other
  rows go on.
- Rows are written in batches (1,000 by default), each in one transaction: an interrupted
  import leaves no event without its reports and citations. Records are matched by
  ``external_id``, so running the same file again finishes an interrupted import, updates
  what changed and leaves the rest alone. A record entered here has no external id; a file
  names it ``local:event:<id>`` or ``local:casualty-report:<id>`` (see :func:`record_key`),
  and such a key matches the record with that id.
- Each batch costs a handful of queries whatever its size: one to find the existing records,
  ``bulk_create`` / ``bulk_update`` through django-simple-history (so imported changes appear
  in each record's history). A record whose values did not change is not written at all: its
  ``updated_at`` and its history stay as they were.

Sources are matched by slug and created when missing; an existing source is never modified,
so a curator's corrections (kind, reliability, country) survive re-imports.
"""

import contextlib
import csv
import dataclasses
import datetime
import functools
import hashlib
import io
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections, models, transaction
from django.utils import timezone
from django.utils.text import slugify
from django_countries import countries
from django_countries.fields import Country
from simple_history.utils import bulk_create_with_history, bulk_update_with_history
from tqdm import tqdm

from events import choices
from events.models import CasualtyReport, Citation, Event, Source, touch

DEFAULT_BATCH_SIZE = 1000
# SQLite of old builds refuses more than 999 parameters in one statement.
QUERY_CHUNK = 900


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

    def as_model(self) -> Source:
        return Source(**dataclasses.asdict(self))


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

    def fingerprint(self) -> bytes:
        """Equal for two rows describing the event identically (rows of the claims format repeat it).

        A short digest: the import keeps one per event to check later rows against.
        """
        citations = [(c.source, c.role, sorted(c.values.items())) for c in self.citations]
        text = repr((sorted(self.values.items()), citations, self.owned_reports_prefix))
        return hashlib.blake2b(text.encode(), digest_size=16).digest()


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


# --- Reading fields -----------------------------------------------------------------------

ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")


class RowReader:
    """Typed access to one CSV row that collects every problem instead of stopping at the first."""

    def __init__(self, row: Mapping[str, str], *, line: int):
        self.row = row
        self.line = line
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def has(self, column: str) -> bool:
        return column in self.row

    def reject(self, column: str, message: str) -> None:
        self.problems.append(Problem(self.line, column, message))

    def warn(self, column: str, message: str) -> None:
        self.warnings.append(Problem(self.line, column, message))

    def text(self, column: str, *, required: bool = False) -> str:
        """The field with newlines normalised, NUL characters (refused by PostgreSQL) dropped, and trimmed."""
        value = (self.row.get(column) or "").replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()
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


def guess_source_kind(name: str) -> str:
    """Media unless the name says otherwise: a ministry, an army, a human-rights group, an institute."""
    for kind, pattern in SOURCE_KIND_PATTERNS:
        if re.search(pattern, name, flags=re.IGNORECASE):
            return kind
    return choices.SourceKind.MEDIA


def source_slug(name: str) -> str:
    """A slug made from the name; a short hash when the name has no ASCII letters or digits."""
    slug = slugify(name)[:100].strip("-")
    return slug or "source-" + hashlib.sha1(name.encode()).hexdigest()[:10]


def split_list(text: str, separator: str = ";") -> list[str]:
    return [part.strip() for part in text.split(separator)]


# --- Checking records with the models' rules ---------------------------------------------


def model_problems(instance: models.Model, *, line: int, columns: Mapping[str, str], exclude=()) -> list[Problem]:
    """The model's ``clean_fields()`` and ``clean()`` errors, each named by the CSV column it came from.

    Foreign keys are left out of ``clean_fields()`` (the importer sets them itself, and checking
    them costs a query each). Database constraints are not run one by one either: ``clean()``
    mirrors them, and the database enforces them anyway. Fields with choices are checked
    against a cached set: Django walks (and translates) every choice for each value, which for
    a country field made validation the slowest part of an import.
    """
    errors: dict = {}
    choice_fields = [f for f in choice_fields_of(type(instance)) if f.name not in exclude]
    for model_field in choice_fields:
        value = stored_value(instance, model_field.attname)
        if value in model_field.empty_values:
            if not model_field.blank:
                errors[model_field.name] = [ValidationError(model_field.error_messages["blank"])]
        elif value not in valid_choices(model_field):
            message = model_field.error_messages["invalid_choice"]
            errors[model_field.name] = [ValidationError(message, params={"value": value})]
    try:
        instance.clean_fields(exclude=[*exclude, *(f.name for f in choice_fields)])
    except ValidationError as error:
        errors = error.update_error_dict(errors)
    try:
        instance.clean()
    except ValidationError as error:
        errors = error.update_error_dict(errors)
    problems = []
    for name, messages in errors.items():
        column = columns.get(name, name) if name != NON_FIELD_ERRORS else ""
        text = " ".join(message for error in messages for message in ValidationError(error).messages)
        problems.append(Problem(line, column, text))
    return problems


@functools.cache
def choice_fields_of(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if f.choices is not None]


@functools.cache
def valid_choices(model_field: models.Field) -> frozenset:
    return frozenset(value for value, _label in model_field.flatchoices)


FK_FIELDS = {
    Event: [],
    CasualtyReport: ["unit", "event"],
    Citation: ["source", "event", "casualty_report"],
}


def record_problems(record: RowRecord) -> list[Problem]:
    problems = []
    line = record.line
    if record.event is not None:
        spec = record.event
        instance = Event(external_id=spec.external_id, **spec.values)
        problems += model_problems(instance, line=line, columns=spec.columns, exclude=FK_FIELDS[Event])
        problems += citation_problems(spec.citations, line=line)
    for report in record.reports:
        instance = CasualtyReport(external_id=report.external_id, **report.values)
        problems += model_problems(instance, line=line, columns=report.columns, exclude=FK_FIELDS[CasualtyReport])
        problems += citation_problems(report.citations, line=line)
    return problems


def citation_problems(citations: list[CitationSpec], *, line: int) -> list[Problem]:
    problems = []
    for citation in citations:
        instance = Citation(role=citation.role, **citation.values)
        problems += model_problems(instance, line=line, columns=citation.columns, exclude=FK_FIELDS[Citation])
        for name, message in source_errors(citation.source):
            column = citation.columns.get(f"source_{name}", citation.columns.get("source", name))
            problems.append(Problem(line, column, message))
    return problems


@functools.lru_cache(maxsize=4096)
def source_errors(source: SourceSpec) -> tuple[tuple[str, str], ...]:
    """(field, message) for a source spec; cached, since one source is cited by many rows."""
    return tuple((problem.column, problem.message) for problem in model_problems(source.as_model(), line=0, columns={}))


# --- Writing a batch ----------------------------------------------------------------------

# Records entered here (no external id) are named in files by their id: "local:event:12".
LOCAL_KEY_PREFIXES = {Event: "local:event:", CasualtyReport: "local:casualty-report:"}
LOCAL_ID = re.compile(r"[1-9][0-9]{0,17}")  # a positive id that fits a bigint


def record_key(obj: Event | CasualtyReport) -> str:
    """What a file calls the record: its external id, or ``local:<model>:<id>`` without one."""
    return obj.external_id or f"{LOCAL_KEY_PREFIXES[type(obj)]}{obj.pk}"


def local_id(model: type[models.Model], key: str) -> int | None:
    """The id a local key names (``local:event:12`` -> 12), or None for any other key."""
    prefix = LOCAL_KEY_PREFIXES.get(model)
    if prefix is None or not key.startswith(prefix) or not LOCAL_ID.fullmatch(key[len(prefix) :]):
        return None
    return int(key[len(prefix) :])


def raise_id_sequence(model: type[models.Model], using: str) -> None:
    """After rows were inserted with their own ids, move PostgreSQL's id sequence past them.

    Only ever forward, so ids of deleted records (kept in history, restorable) are not reused.
    SQLite's AUTOINCREMENT follows inserted ids by itself.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    table, column = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name(model._meta.pk.column)
    sequence = "pg_get_serial_sequence(%s, %s)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval({sequence}, greatest((SELECT max({column}) FROM {table}), nextval({sequence})))",
            [table, model._meta.pk.column] * 2,
        )


def stored_value(instance: models.Model, attname: str):
    # Read from __dict__: a country field's descriptor builds a Country object on every access.
    value = instance.__dict__[attname]
    return value.code if isinstance(value, Country) else value


def changed_fields(instance: models.Model, values: Mapping) -> list[str]:
    return [name for name, value in values.items() if stored_value(instance, name) != value]


def fetch(queryset: models.QuerySet, lookup: str, values: Iterable) -> list:
    """``queryset.filter(<lookup>__in=values)`` in chunks that every database accepts."""
    values = list(values)
    found = []
    for start in range(0, len(values), QUERY_CHUNK):
        found += queryset.filter(**{f"{lookup}__in": values[start : start + QUERY_CHUNK]})
    return found


@dataclass
class Writer:
    """Writes batches of records; remembers the sources it has already looked up or created."""

    change_reason: str
    event_citation_roles: frozenset
    report_citation_roles: frozenset
    source_ids: dict[str, int] = field(default_factory=dict)
    _source_names: dict[str, int] | None = None
    sources_created: int = 0

    def write(self, records: list[RowRecord]) -> list[str]:
        """Upsert the records in one transaction; the status of each: created, updated or unchanged."""
        with transaction.atomic():
            now = timezone.now()
            self._ensure_sources(records)

            event_specs = {}
            for record in records:
                if record.event is not None:
                    event_specs.setdefault(record.event.external_id, record.event)
            events, created, updated = self._upsert(
                Event, {key: spec.values for key, spec in event_specs.items()}, now=now
            )
            created_keys = {("event", key) for key in created}
            written_keys = created_keys | {("event", key) for key in updated}

            report_specs, report_values = {}, {}
            for record in records:
                event = events[record.event.external_id] if record.event is not None else None
                for spec in record.reports:
                    report_specs[spec.external_id] = spec
                    report_values[spec.external_id] = {**spec.values, **({"event_id": event.pk} if event else {})}
            reports, created, updated = self._upsert(CasualtyReport, report_values, now=now)
            created_keys |= {("report", key) for key in created}
            written_keys |= {("report", key) for key in created | updated}

            old_events = {key: spec for key, spec in event_specs.items() if ("event", key) not in created_keys}
            changed_keys = self._delete_stale_reports(old_events, events, report_values)
            subjects = [("event", key, events[key], spec) for key, spec in event_specs.items() if spec.manage_citations]
            subjects += [
                ("report", key, reports[key], spec) for key, spec in report_specs.items() if spec.manage_citations
            ]
            changed_keys |= self._sync_citations(subjects, now=now, new=created_keys)

            # A record's representation shows its citations: when only they changed, its
            # updated_at still moves (without a history entry of its own), as RecordPart does.
            touched = changed_keys - written_keys
            touch(Event, *(events[key].pk for kind, key in touched if kind == "event"))
            touch(CasualtyReport, *(reports[key].pk for kind, key in touched if kind == "report"))

        changed_keys |= written_keys
        return [
            "created"
            if record.primary in created_keys
            else "updated"
            if changed_keys.intersection(record.keys)
            else "unchanged"
            for record in records
        ]

    def _upsert(self, model, values_by_key: dict[str, dict], *, now):
        """Create the missing records and update the changed ones; unchanged ones are not written.

        A record is found by its external id, or, for a local key (``local:event:12``) that is
        no record's external id, as the record with that id if it has no external id. A
        missing record named by a local key is created with that id, so a file exported from
        one database reproduces its records in an empty one; when the id is taken by an
        imported record, the new record gets another id and keeps the key as its external id.

        Returns the records by key, and the keys of those created and updated.
        """
        existing = {obj.external_id: obj for obj in fetch(model.objects.all(), "external_id", values_by_key)}
        local = {}  # id -> key, for the local keys not found as an external id
        for key in values_by_key:
            if key not in existing and (pk := local_id(model, key)) is not None:
                local[pk] = key
        taken = set()
        for obj in fetch(model.objects.all(), "pk", local):
            if obj.external_id:
                taken.add(obj.pk)
            else:
                existing[local[obj.pk]] = obj
        with_ids, to_create, to_update, fields, objects = [], [], [], set(), {}
        created, updated = set(), set()
        for key, values in values_by_key.items():
            obj = existing.get(key)
            if obj is None:
                pk = local_id(model, key)
                if pk is not None and pk not in taken:
                    obj = model(pk=pk, external_id="", **values)
                    with_ids.append(obj)
                else:
                    obj = model(external_id=key, **values)
                    to_create.append(obj)
                created.add(key)
            elif changed := changed_fields(obj, values):
                for name in changed:
                    setattr(obj, name, values[name])
                obj.updated_at = now  # bulk_update does not apply auto_now
                fields.update(changed)
                to_update.append(obj)
                updated.add(key)
            objects[key] = obj
        if with_ids:
            # Before the others, which take ids from the sequence moved past these.
            bulk_create_with_history(with_ids, model, default_change_reason=self.change_reason)
            raise_id_sequence(model, using=model.objects.db)
        if to_create:
            bulk_create_with_history(to_create, model, default_change_reason=self.change_reason)
            if any(obj.pk is None for obj in to_create):  # a database that cannot return ids from bulk inserts
                keys = [obj.external_id for obj in to_create]
                ids = dict(fetch(model.objects.values_list("external_id", "pk"), "external_id", keys))
                for obj in to_create:
                    obj.pk = ids[obj.external_id]
        if to_update:
            names = sorted({model._meta.get_field(name).name for name in fields} | {"updated_at"})
            bulk_update_with_history(to_update, model, names, default_change_reason=self.change_reason)
        return objects, created, updated

    def _delete_stale_reports(self, event_specs, events, report_values) -> set:
        """Delete the reports a row owns but no longer gives (a per-party figure that became zero)."""
        prefixes = {
            events[key].pk: (key, spec.owned_reports_prefix)
            for key, spec in event_specs.items()
            if spec.owned_reports_prefix
        }
        changed = set()
        for report in fetch(CasualtyReport.objects.exclude(external_id=""), "event_id", prefixes):
            event_key, prefix = prefixes[report.event_id]
            if report.external_id.startswith(prefix) and report.external_id not in report_values:
                report._change_reason = self.change_reason
                report.delete()
                changed.add(("event", event_key))
        return changed

    def _ensure_sources(self, records):
        specs = {}
        for record in records:
            for subject in ([record.event] if record.event is not None else []) + record.reports:
                for citation in subject.citations:
                    if citation.source.slug not in self.source_ids:
                        specs.setdefault(citation.source.slug, citation.source)
        if not specs:
            return
        self.source_ids.update(fetch(Source.objects.values_list("slug", "pk"), "slug", specs))
        if any(slug not in self.source_ids for slug in specs):
            # A source known under another name ("UK MoD" for "UK Ministry of Defence") is that source.
            names = self.source_names()
            for slug, spec in specs.items():
                if slug not in self.source_ids and spec.name.casefold() in names:
                    self.source_ids[slug] = names[spec.name.casefold()]
        missing = [spec.as_model() for slug, spec in specs.items() if slug not in self.source_ids]
        if missing:
            bulk_create_with_history(missing, Source, default_change_reason=self.change_reason)
            self.sources_created += len(missing)
            self.source_ids.update(fetch(Source.objects.values_list("slug", "pk"), "slug", [s.slug for s in missing]))

    def source_names(self) -> dict[str, int]:
        """Every source's name and aliases, folded for comparison, read once per import."""
        if self._source_names is None:
            self._source_names = {}
            for pk, name, aliases in Source.objects.values_list("pk", "name", "aliases"):
                for known in [name, *(aliases or [])]:
                    self._source_names.setdefault(known.casefold(), pk)
        return self._source_names

    def _sync_citations(self, subjects, *, now, new: set) -> set:
        """Make each subject's citations (in the roles the importer writes) those of its spec, in order.

        Citations are matched by position, so a corrected headline updates its citation in place
        rather than deleting and re-creating it. Returns the subjects whose citations changed.
        """
        existing: dict[tuple, list[Citation]] = {}
        # Records created in this batch have no citations yet: only the others are looked up.
        old = [(kind, obj) for kind, key, obj, spec in subjects if (kind, key) not in new]
        event_ids = [obj.pk for kind, obj in old if kind == "event"]
        report_ids = [obj.pk for kind, obj in old if kind == "report"]
        for citation in fetch(
            Citation.objects.filter(role__in=self.event_citation_roles).order_by("pk"), "event_id", event_ids
        ):
            existing.setdefault(("event", citation.event_id), []).append(citation)
        for citation in fetch(
            Citation.objects.filter(role__in=self.report_citation_roles).order_by("pk"),
            "casualty_report_id",
            report_ids,
        ):
            existing.setdefault(("report", citation.casualty_report_id), []).append(citation)

        to_create, to_update, to_delete, changed = [], [], [], set()
        for kind, key, obj, spec in subjects:
            wanted = [
                {"source_id": self.source_ids[c.source.slug], "role": c.role, **CITATION_DEFAULTS, **c.values}
                for c in spec.citations
            ]
            have = existing.get((kind, obj.pk), [])
            differences = [changed_fields(citation, values) for citation, values in zip(have, wanted, strict=False)]
            if len(have) == len(wanted) and not any(differences):
                continue
            changed.add((kind, key))
            for citation, values, names in zip(have, wanted, differences, strict=False):
                if names:
                    for name in names:
                        setattr(citation, name, values[name])
                    citation.updated_at = now
                    to_update.append(citation)
            subject = {"event_id" if kind == "event" else "casualty_report_id": obj.pk}
            to_create += [Citation(**subject, **values) for values in wanted[len(have) :]]
            to_delete += have[len(wanted) :]
        if to_create:
            bulk_create_with_history(to_create, Citation, default_change_reason=self.change_reason)
        if to_update:
            bulk_update_with_history(
                to_update, Citation, CITATION_UPDATE_FIELDS, default_change_reason=self.change_reason
            )
        for citation in to_delete:
            citation._change_reason = self.change_reason
            models.Model.delete(citation)  # not RecordPart.delete(): the caller touches each subject once
        return changed


CITATION_DEFAULTS = {"url": "", "title": "", "published_date": None, "accessed_date": None, "archive_url": ""}
CITATION_DEFAULTS["quote"] = ""
CITATION_UPDATE_FIELDS = ["source", "role", "url", "title", "published_date", "accessed_date", "archive_url"]
CITATION_UPDATE_FIELDS += ["quote", "updated_at"]


# --- Reading a file -----------------------------------------------------------------------


class Importer:
    """One CSV layout. Subclasses set the attributes and implement :meth:`parse_row`."""

    #: Shown in messages and history: "UCDP GED".
    label = ""
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
        """What the row stands for; problems go to ``row.reject`` (the result may then be None)."""
        raise NotImplementedError


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

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def __str__(self):
        text = (
            f"{self.path.name}: {self.rows:,} rows in {self.seconds:.1f} s ({self.rows_per_second:,.0f} rows/s): "
            f"{self.created:,} created, {self.updated:,} updated, {self.unchanged:,} unchanged, "
            f"{self.rejected:,} rejected; {len(self.warnings):,} warnings; {self.sources_created:,} new sources."
        )
        return "Dry run, nothing was saved. " + text if self.dry_run else text


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
    """Import a CSV file with ``importer``; see the module docstring for what that involves.

    ``on_problem(problem, rejected)`` is called for every rejected row and every warning as
    the import goes. With ``dry_run`` everything happens in a transaction rolled back at the
    end, so the summary says what an import would do.
    """
    summary = ImportSummary(path=path, dry_run=dry_run)
    writer = Writer(
        change_reason=(change_reason or f"{importer.label} import of {path.name}")[:100],
        event_citation_roles=importer.event_citation_roles,
        report_citation_roles=importer.report_citation_roles,
    )
    seen_events: dict[str, tuple[int, bytes]] = {}
    seen_reports: dict[str, int] = {}
    batch: list[RowRecord] = []
    started = time.monotonic()

    def report(problem: Problem, rejected: bool):
        (summary.problems if rejected else summary.warnings).append(problem)
        if on_problem is not None:
            with tqdm.external_write_mode(file=sys.stderr):
                on_problem(problem, rejected)

    def flush():
        for status in writer.write(batch):
            setattr(summary, status, getattr(summary, status) + 1)
        batch.clear()
        bar.update(text.buffer.tell() - bar.n)  # bytes read so far: the bar needs no counting pass
        bar.set_postfix_str(f"{summary.rows:,} rows")

    try:
        text = io.TextIOWrapper(path.open("rb"), encoding="utf-8-sig", newline="")
    except OSError as error:
        raise ImportFileError(f"Cannot read {path}: {error.strerror}.") from None
    line = 1
    with (
        text,
        tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=path.name, disable=not progress) as bar,
        transaction.atomic() if dry_run else contextlib.nullcontext(),
    ):
        try:
            reader = csv.reader(text)
            header = [column.strip() for column in next(reader, [])]
            importer.check_header(header)
            previous_line = reader.line_num
            for fields in reader:
                # A quoted field may span lines: a record starts on the line after the previous one ended.
                line, previous_line = previous_line + 1, reader.line_num
                if not fields:
                    continue
                summary.rows += 1
                record = parse_record(
                    importer, header, fields, line=line, seen_events=seen_events, seen_reports=seen_reports
                )
                if isinstance(record, Rejected):
                    summary.rejected += 1
                    for problem in record.problems:
                        report(problem, True)
                    continue
                for warning in record.warnings:
                    report(warning, False)
                batch.append(record)
                if len(batch) >= batch_size:
                    flush()
            if batch:
                flush()
        except UnicodeDecodeError:
            raise ImportFileError(f"{path.name} is not UTF-8 text (after line {line}).") from None
        except csv.Error as error:
            raise ImportFileError(f"{path.name}, line {line}: {error}.") from None
        summary.sources_created = writer.sources_created
        if dry_run:
            transaction.set_rollback(True)
    summary.seconds = time.monotonic() - started
    return summary


def parse_record(
    importer: Importer,
    header: list[str],
    fields: list[str],
    *,
    line: int,
    seen_events: dict[str, tuple[int, bytes]],
    seen_reports: dict[str, int],
) -> RowRecord | Rejected:
    """Parse and check one row; register its ids so a later duplicate is rejected."""
    if len(fields) != len(header):
        message = f"the row has {len(fields)} fields where the header has {len(header)}."
        return Rejected([Problem(line, "", message)])
    reader = RowReader(dict(zip(header, fields, strict=True)), line=line)
    record = importer.parse_row(reader)
    if reader.problems:
        return Rejected(reader.problems)
    record.warnings = reader.warnings + record.warnings
    problems = record_problems(record)
    if record.event is not None:
        first = seen_events.get(record.event.external_id)
        if first is not None and first[1] != record.event.fingerprint():
            message = f"{record.event.external_id} is also on line {first[0]}, with different values."
            problems.append(Problem(line, importer.event_id_column, message))
    for spec in record.reports:
        if spec.external_id in seen_reports:
            message = f"{spec.external_id} is also on line {seen_reports[spec.external_id]}."
            problems.append(Problem(line, importer.report_id_column, message))
    if problems:
        return Rejected(problems)
    if record.event is not None:
        seen_events.setdefault(record.event.external_id, (line, record.event.fingerprint()))
    for spec in record.reports:
        seen_reports[spec.external_id] = line
    return record


# --- The management commands ----------------------------------------------------------------


class ImportCommand(BaseCommand):
    """``manage.py import_<layout> FILE``: the options every importer shares."""

    importer_class: type[Importer]

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The CSV file to import (UTF-8, with a header row).")
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
            summary = import_file(
                path=file,
                importer=self.importer_class(),
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
