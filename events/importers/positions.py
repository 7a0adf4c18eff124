"""Units' positions from a CSV in the layout of uawardata.com's public unit files.

Columns (all present in the header, any of them blank on a row unless said otherwise):

- ``date`` (required): the day the unit was reported there, ``YYYY-MM-DD`` (or ``DD.MM.YYYY``).
- ``lat``, ``lng`` (required): WGS 84 decimal degrees.
- ``unit`` (required): the unit's name. It is matched, ignoring case, to a unit of that name
  (in the row's country), else to one with it among its aliases; when none matches, the unit is
  created, with the echelon ``type`` names and the parent ``subordinate_to`` names.
- ``subordinate_to``: the parent unit's name, matched the same way; one no unit has is created
  too, with the row's country (a file may name a parent in no row of its own). A unit this
  import created as a parent gets its type and parent from the first row about the unit itself.
  Units that existed before the import are left as they are: a row that places one under
  another parent is imported with a warning that says so.
- ``country``: the unit's country, as a name ("Russia", "Ukraine") or an ISO 3166-1 code
  (``RU``, ``UKR``); required to create a unit.
- ``strength``: as the source wrote it ("2 BTGs").
- ``type``: the unit's echelon, where a word says it (brigade, regiment, battalion, BTG,
  division, corps, army, company, in English or Russian and Ukrainian); else ``other``.
- ``sources_url``: where the position was reported. Its host names the source ("t.me/<channel>"
  and the like on social networks), which is matched by slug, home page or name, else created
  (kind social media, government, military or media, reliability F); an existing source is never
  modified.
- ``sources_date``: when the source published it; ``notes``: the rest, as written.

A position is matched to a stored one by unit, date, latitude and longitude: importing the same
file again changes nothing, and a row whose strength, source or notes changed updates its
position (with a history entry). Rows are read, checked with the models' rules and reported as
the other importers' are (:mod:`.base`): a bad row is reported by line and column and skipped,
and the rest are written in batches, each in one transaction.

The writer is not :mod:`.bulk`'s, which stages events, casualty reports and citations: a
batch's units and sources are created first (parents before the units under them), then its
positions, with django-simple-history's ``bulk_create`` and ``bulk_update``, which add the
history entries. The keys of the rows accepted so far are kept in memory to reject a row that
repeats one: a unit file has thousands of rows, not millions.
"""

import contextlib
import csv
import dataclasses
import io
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.db import connection, transaction
from django.utils import timezone
from django_countries import countries
from simple_history.utils import bulk_create_with_history, bulk_update_with_history
from tqdm import tqdm

from events import choices, imported
from events.models import Source, Unit, UnitPosition

from .base import (
    DEFAULT_BATCH_SIZE,
    ImportFileError,
    ImportSummary,
    Problem,
    RowReader,
    SourceSpec,
    country_code,
    guess_source_kind,
    source_errors,
    source_slug,
)
from .rules import rules_of

COLUMNS = (
    "date",
    "lat",
    "lng",
    "unit",
    "subordinate_to",
    "country",
    "strength",
    "type",
    "sources_url",
    "sources_date",
    "notes",
)
DATE_FORMATS = ("%d.%m.%Y",)
# The position's fields and the columns they come from.
POSITION_COLUMNS = {
    "date": "date",
    "latitude": "lat",
    "longitude": "lng",
    "strength": "strength",
    "source_url": "sources_url",
    "source_date": "sources_date",
    "notes": "notes",
}
# What a re-import may change of a position it matched.
UPDATED_FIELDS = ("strength", "source_id", "source_url", "source_date", "notes")
UNIT_NAME_LENGTH = Unit._meta.get_field("name").max_length
STRENGTH_LENGTH = UnitPosition._meta.get_field("strength").max_length

# Words naming an echelon, the smallest first: "1st battalion of the 3rd brigade" is a battalion,
# "army corps" a corps.
ECHELON_WORDS = [
    (choices.Echelon.COMPANY, r"compan(?:y|ies)|рот[аиы]"),
    (choices.Echelon.BATTALION, r"battalions?|btgs?|батальйон\w*|батальон\w*"),
    (choices.Echelon.REGIMENT, r"regiments?|полк(?:а|у|и|ів|ов)?"),
    (choices.Echelon.BRIGADE, r"brigades?|бригад\w*"),
    (choices.Echelon.DIVISION, r"divisions?|дивизи\w*|дивізі\w*"),
    (choices.Echelon.CORPS, r"corps|корпус\w*"),
    (choices.Echelon.ARMY, r"arm(?:y|ies)|арми\w*|армі\w*"),
]
ECHELON_PATTERNS = [(echelon, re.compile(rf"\b(?:{words})\b", re.IGNORECASE)) for echelon, words in ECHELON_WORDS]

# Sites where each account is a source of its own: the source is the host and the account.
SOCIAL_HOSTS = frozenset(
    {"t.me", "telegram.me", "twitter.com", "x.com", "facebook.com", "youtube.com", "instagram.com", "vk.com"}
)


def echelon_of(text: str) -> str:
    """The echelon a unit's type (or name) says, or ``other``."""
    for echelon, pattern in ECHELON_PATTERNS:
        if pattern.search(text):
            return echelon
    return choices.Echelon.OTHER


def country_of(text: str) -> str:
    """ISO 3166-1 alpha-2 code of a country name or ISO code (alpha-2, alpha-3, numeric); empty when unknown."""
    code = countries.alpha2(text) if len(text) <= 3 else ""
    return code or country_code(text)


def source_of(url: str) -> SourceSpec | None:
    """The source an address names: its host (without ``www.``), or the account on a social network."""
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.").removeprefix("m.").removeprefix("mobile.")
    if not host:
        return None
    account = parts.path.strip("/").split("/")[0]
    if host in SOCIAL_HOSTS and account:
        name = f"{host}/{account}"
        return SourceSpec(
            slug=source_slug(name.replace(".", "-").replace("/", "-")),
            name=name,
            kind=choices.SourceKind.SOCIAL_MEDIA,
            homepage=f"https://{name}",
        )
    labels = host.split(".")
    if "mil" in labels[1:]:
        kind = choices.SourceKind.MILITARY
    elif "gov" in labels[1:]:
        kind = choices.SourceKind.GOVERNMENT
    else:
        kind = guess_source_kind(host)
    return SourceSpec(slug=source_slug(host.replace(".", "-")), name=host, kind=kind, homepage=f"https://{host}/")


# --- Units ----------------------------------------------------------------------------------


@dataclass(eq=False)
class UnitRef:
    """A unit as the import knows it: stored (``pk``), or to be created by it (``pk`` None until then)."""

    name: str
    country: str
    echelon: str = choices.Echelon.OTHER
    parent: "UnitRef | None" = None
    pk: int | None = None
    created: bool = False  # by this import
    described: bool = True  # by a row of its own (False: so far only named in subordinate_to)
    changed: bool = False  # created in an earlier batch, and completed since by a row of its own

    def ancestors(self):
        unit, seen = self.parent, set()
        while unit is not None and id(unit) not in seen:
            seen.add(id(unit))
            yield unit
            unit = unit.parent


class Units:
    """Every unit by its folded name and aliases, read once; those the import creates are added as it goes."""

    def __init__(self):
        self.by_name: dict[str, list[UnitRef]] = defaultdict(list)
        self.by_alias: dict[str, list[UnitRef]] = defaultdict(list)
        by_pk, parents = {}, {}
        for pk, name, aliases, country, parent_id in Unit.objects.values_list(
            "pk", "name", "aliases", "country", "parent_id"
        ):
            unit = by_pk[pk] = UnitRef(name=name, country=str(country), pk=pk)
            parents[pk] = parent_id
            self.by_name[name.casefold()].append(unit)
            for alias in aliases if isinstance(aliases, list) else []:
                if isinstance(alias, str) and alias.casefold() != name.casefold():
                    self.by_alias[alias.casefold()].append(unit)
        for pk, parent_id in parents.items():
            by_pk[pk].parent = by_pk.get(parent_id)

    def find(self, name: str, country: str) -> list[UnitRef]:
        """The units with this name (in this country, if given), else those with it as an alias."""
        key = name.casefold()
        for index in (self.by_name, self.by_alias):
            found = [unit for unit in dict.fromkeys(index.get(key, ())) if not country or unit.country == country]
            if found:
                return found
        return []

    def add(self, unit: UnitRef) -> None:
        self.by_name[unit.name.casefold()].append(unit)


# --- Rows -----------------------------------------------------------------------------------


@dataclass
class PositionRecord:
    """What one accepted row stands for."""

    line: int
    unit: UnitRef
    values: dict  # UnitPosition fields by attname, without unit_id and source_id
    source: SourceSpec | None
    warnings: list[Problem]

    @property
    def key(self) -> tuple:
        return (self.unit, self.values["date"], self.values["latitude"], self.values["longitude"])


class PositionImporter:
    label = "unit positions"

    def __init__(self):
        self.units = Units()
        self.rules = rules_of(UnitPosition, ("unit", "source"))
        self.seen: dict[tuple, int] = {}  # the key of each accepted row, and its line

    def check_header(self, header: list[str]) -> None:
        if not header:
            raise ImportFileError("The file is empty: it has no header row.")
        missing = [column for column in COLUMNS if column not in header]
        if missing:
            raise ImportFileError(f"This is not a unit positions file: it lacks the columns {', '.join(missing)}.")
        duplicated = sorted({column for column in header if header.count(column) > 1})
        if duplicated:
            raise ImportFileError(f"The header repeats the columns {', '.join(duplicated)}.")

    def parse_row(self, row: RowReader) -> PositionRecord | None:
        """The row's position and unit, or None with the problems in ``row``. Units are created
        (in ``self.units``) only for rows without problems."""
        unit_name = row.clipped("unit", row.text("unit", required=True), UNIT_NAME_LENGTH)
        parent_name = row.clipped("subordinate_to", row.text("subordinate_to"), UNIT_NAME_LENGTH)
        country_text = row.text("country")
        country = country_of(country_text) if country_text else ""
        if country_text and not country:
            row.reject("country", f"{country_text!r} is not a country name or an ISO 3166-1 code.")
        url = row.text("sources_url")
        addresses = url.split()
        if len(addresses) > 1:
            url = addresses[0]
            row.warn("sources_url", f"holds {len(addresses)} addresses; the position keeps the first, {url}.")
        if url and "://" not in url:
            url = "https://" + url  # as the admin reads an address without a scheme
        values = {
            "date": row.date("date", required=True, formats=DATE_FORMATS),
            "latitude": row.number("lat", required=True),
            "longitude": row.number("lng", required=True),
            "strength": row.clipped("strength", row.text("strength"), STRENGTH_LENGTH),
            "source_url": url,
            "source_date": row.date("sources_date", formats=DATE_FORMATS),
            "notes": row.text("notes"),
        }
        if row.problems:
            return None
        for column, message in self.rules.problems(values, columns=POSITION_COLUMNS):
            row.reject(column, message)
        source = source_of(url) if url else None
        for _, message in source_errors(source) if source else ():
            row.reject("sources_url", f"names no source we can record: {message}")
        if row.problems:
            return None
        unit = self.unit(row, unit_name, parent_name, country, echelon_of(row.text("type")))
        if unit is None:
            return None
        record = PositionRecord(row.line, unit, values, source, row.warnings)
        earlier = self.seen.get(record.key)
        if earlier is not None:
            row.reject("", f"the same unit, date and place as line {earlier}.")
            return None
        self.seen[record.key] = row.line
        return record

    def unit(self, row: RowReader, name: str, parent_name: str, country: str, echelon: str) -> UnitRef | None:
        """The row's unit, found or created, with its parent; None with the problem in ``row``."""
        where = f" in {country}" if country else ""
        found = self.units.find(name, country)
        if len(found) > 1:
            row.reject("unit", f"several units are named {name!r}{where}; give the country, or rename one.")
            return None
        unit = found[0] if found else None
        if unit is None and not country:
            row.reject("country", f"is required to create the unit {name!r}, which no unit is named.")
            return None
        completes = unit is None or (unit.created and not unit.described)
        parent = None
        if parent_name:
            parents = self.units.find(parent_name, country or unit.country)
            if len(parents) > 1:
                row.reject(
                    "subordinate_to",
                    f"several units are named {parent_name!r}{where}; give the country, or rename one.",
                )
                return None
            parent = parents[0] if parents else None
            if parent_name.casefold() == name.casefold() or (parent is not None and parent is unit):
                row.reject("subordinate_to", "names the unit itself; a unit cannot be its own parent.")
                return None
            if completes and unit is not None and parent is not None and unit in parent.ancestors():
                row.reject("subordinate_to", f"{parent.name!r} is under {unit.name!r}: it cannot also be above it.")
                return None
        if not completes:
            if parent_name and (parent is None or parent is not unit.parent):
                under = f"under {unit.parent.name!r}" if unit.parent is not None else "under no other unit"
                row.warn("subordinate_to", f"{unit.name!r} is {under}, and is left there.")
            return unit
        if parent_name and parent is None:
            parent = UnitRef(name=parent_name, country=country or unit.country, echelon=echelon_of(parent_name))
            parent.created, parent.described = True, False
            self.units.add(parent)
        if unit is None:
            unit = UnitRef(name=name, country=country, echelon=echelon, parent=parent, created=True)
            self.units.add(unit)
            return unit
        # A unit this import created as a parent, described by a row of its own at last.
        echelon = unit.echelon if echelon == choices.Echelon.OTHER else echelon
        parent = parent or unit.parent
        if unit.pk is not None and (echelon, parent) != (unit.echelon, unit.parent):
            unit.changed = True  # stored by an earlier batch: saved again by the next
        unit.echelon, unit.parent, unit.described = echelon, parent, True
        return unit


# --- Writing --------------------------------------------------------------------------------


def parent_pk(unit: UnitRef) -> int | None:
    return unit.parent.pk if unit.parent is not None else None


@dataclass
class PositionImportSummary(ImportSummary):
    units_created: int = 0

    def __str__(self):
        return super().__str__().removesuffix(".") + f"; {self.units_created:,} new units."


class PositionWriter:
    """Writes a batch of records: the units and sources they need first, then their positions."""

    def __init__(self, *, change_reason: str):
        self.change_reason = change_reason
        self.source_ids: dict[str, int] = {}
        self._sources: dict[str, dict[str, int]] | None = None
        self.units_created = 0
        self.sources_created = 0

    def write(self, records: list[PositionRecord]) -> list[str]:
        """Each record's outcome, in order: created, updated or unchanged."""
        self._create_units([record.unit for record in records])
        self._create_sources([record.source for record in records if record.source is not None])
        stored = self._stored(records)
        now = timezone.now()
        new, changed, outcomes = [], [], []
        for record in records:
            source_id = self.source_ids[record.source.slug] if record.source is not None else None
            values = {**record.values, "unit_id": record.unit.pk, "source_id": source_id}
            position = stored.get((record.unit.pk, values["date"], values["latitude"], values["longitude"]))
            if position is None:
                new.append(UnitPosition(**values))
                outcomes.append("created")
            elif any(getattr(position, field) != values[field] for field in UPDATED_FIELDS):
                for field in UPDATED_FIELDS:
                    setattr(position, field, values[field])
                position.updated_at = now  # bulk_update leaves auto_now fields alone
                changed.append(position)
                outcomes.append("updated")
            else:
                outcomes.append("unchanged")
        bulk_create_with_history(new, UnitPosition, default_change_reason=self.change_reason)
        bulk_update_with_history(
            changed, UnitPosition, [*UPDATED_FIELDS, "updated_at"], default_change_reason=self.change_reason
        )
        return outcomes

    def _stored(self, records: list[PositionRecord]) -> dict[tuple, UnitPosition]:
        """The stored positions of the records' units on their dates, by (unit id, date, latitude, longitude)."""
        units = {record.unit.pk for record in records}
        dates = {record.values["date"] for record in records}
        stored = {}
        for position in UnitPosition.objects.filter(unit_id__in=units, date__in=dates).order_by("pk"):
            # The first recorded, where a curator entered the same position twice.
            stored.setdefault((position.unit_id, position.date, position.latitude, position.longitude), position)
        return stored

    def _create_units(self, units: list[UnitRef]) -> None:
        """Create the units (and the parents they wait for) not stored yet, parents first; save those completed."""
        pending, changed = {}, {}
        for unit in units:
            for item in (unit, *unit.ancestors()):
                if item.pk is None:
                    pending[id(item)] = item
                elif item.changed:
                    changed[id(item)] = item
        while pending:  # a level of the hierarchy at a time, each unit after its parent
            ready = [unit for unit in pending.values() if unit.parent is None or unit.parent.pk is not None]
            objects = [
                Unit(name=unit.name, country=unit.country, echelon=unit.echelon, parent_id=parent_pk(unit))
                for unit in ready
            ]
            created = bulk_create_with_history(objects, Unit, default_change_reason=self.change_reason)
            for unit, obj in zip(ready, created, strict=True):
                unit.pk = obj.pk
                del pending[id(unit)]
            self.units_created += len(ready)
        if changed:
            # Read whole, so that their history entries hold every field.
            stored = Unit.objects.in_bulk([unit.pk for unit in changed.values()])
            now = timezone.now()
            for unit in changed.values():
                obj = stored[unit.pk]
                obj.echelon, obj.parent_id, obj.updated_at = unit.echelon, parent_pk(unit), now
                unit.changed = False
            bulk_update_with_history(
                list(stored.values()),
                Unit,
                ["echelon", "parent", "updated_at"],
                default_change_reason=self.change_reason,
            )

    def _create_sources(self, specs: list[SourceSpec]) -> None:
        """Find each source by slug, home page or name; create those not found (never modify one)."""
        missing = {}
        for spec in specs:
            if spec.slug in self.source_ids:
                continue
            known = self.sources()
            found = (
                known["slug"].get(spec.slug)
                or known["homepage"].get(spec.homepage)
                or known["name"].get(spec.name.casefold())
            )
            if found is not None:
                self.source_ids[spec.slug] = found
            else:
                missing[spec.slug] = spec
        if not missing:
            return
        objects = [Source(**dataclasses.asdict(spec)) for spec in missing.values()]
        with connection.cursor() as cursor:
            # Sources an import creates leave the kept rows' digests (events.imported) in place.
            cursor.execute(f"INSERT INTO {imported.WRITING} (writing) VALUES (1)")
            created = bulk_create_with_history(objects, Source, default_change_reason=self.change_reason)
            cursor.execute(f"DELETE FROM {imported.WRITING}")
        self.source_ids.update((source.slug, source.pk) for source in created)
        self.sources_created += len(created)

    def sources(self) -> dict[str, dict[str, int]]:
        """Every source's id by slug, by home page (as ``source_of`` writes it) and by folded name and
        aliases, read once per import."""
        if self._sources is None:
            self._sources = {"slug": {}, "homepage": {}, "name": {}}
            for pk, slug, name, aliases, homepage in Source.objects.values_list(
                "pk", "slug", "name", "aliases", "homepage"
            ):
                self._sources["slug"][slug] = pk
                spec = source_of(homepage) if homepage else None
                if spec is not None:
                    self._sources["homepage"].setdefault(spec.homepage, pk)
                for known in [name, *(aliases if isinstance(aliases, list) else [])]:
                    self._sources["name"].setdefault(str(known).casefold(), pk)
        return self._sources


# --- Reading a file -------------------------------------------------------------------------


def import_positions(
    *,
    path: Path,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    progress: bool = False,
    change_reason: str = "",
    on_problem: Callable[[Problem, bool], None] | None = None,
) -> PositionImportSummary:
    """Import a unit positions CSV file; see the module docstring. As :func:`.base.import_file`:
    ``on_problem(problem, rejected)`` hears of each rejected row and warning as the import goes,
    and ``dry_run`` rolls everything back at the end."""
    importer = PositionImporter()
    summary = PositionImportSummary(path=path, dry_run=dry_run)
    writer = PositionWriter(change_reason=(change_reason or f"{importer.label} import of {path.name}")[:100])
    batch: list[PositionRecord] = []
    started = time.monotonic()

    def report(problem: Problem, rejected: bool):
        (summary.problems if rejected else summary.warnings).append(problem)
        if on_problem is not None:
            with tqdm.external_write_mode(file=sys.stderr):
                on_problem(problem, rejected)

    def flush():
        with transaction.atomic():
            for outcome in writer.write(batch):
                setattr(summary, outcome, getattr(summary, outcome) + 1)
        batch.clear()
        bar.update(text.buffer.tell() - bar.n)
        bar.set_postfix_str(f"{summary.rows:,} rows")

    try:
        text = io.TextIOWrapper(path.open("rb"), encoding="utf-8-sig", newline="")
    except OSError as error:
        raise ImportFileError(f"Cannot read {path}: {error.strerror}.") from None
    line = 0  # the last line read
    with (
        text,
        tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=path.name, disable=not progress) as bar,
        transaction.atomic() if dry_run else contextlib.nullcontext(),
    ):
        try:
            reader = csv.reader(text)
            header = [column.strip() for column in next(reader, [])]
            line = reader.line_num
            importer.check_header(header)
            for fields in reader:
                # A record starts after the last line of the one before: csv counts the lines it
                # has read, newlines inside quotes too.
                first, line = line + 1, reader.line_num
                if not fields:
                    continue
                summary.rows += 1
                if len(fields) != len(header):
                    summary.rejected += 1
                    message = f"the row has {len(fields)} fields where the header has {len(header)}."
                    report(Problem(first, "", message), True)
                    continue
                row = RowReader(dict(zip(header, fields, strict=True)), line=first)
                record = importer.parse_row(row)
                if record is None:
                    summary.rejected += 1
                    for problem in row.problems:
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
        summary.units_created = writer.units_created
        if dry_run:
            transaction.set_rollback(True)
    summary.seconds = time.monotonic() - started
    return summary
