"""Our own claims CSV: one row per casualty report, with its event and the citations of both.

``export_csv`` writes it and ``import_csv`` reads it, so a file exported from one database
and imported into another (or into the same one after a wipe) reproduces the reports, their
events and their citations. It is also the format for claims collected by hand in a
spreadsheet. UTF-8, comma-separated, one header row; a field may hold newlines if quoted.

Columns (blank means empty or not known):

- ``report_id``: the report's external id, required on a row with report columns. Reports
  entered by hand (no external id) are exported as ``local:casualty-report:<id>``, which the
  import matches to the report with that id (if it has no external id either). So importing
  a file into the database it came from updates what changed and writes nothing else, and
  importing it into an empty database creates each such report with its id. Where the id is
  taken by an imported report, a new report is created and keeps the key as its external id.
  Any other value is an external id: matched to the report that has it, or stored with a new one.
- ``event_id``: the event's external id, or ``local:event:<id>``, likewise. Several rows may
  repeat one event; their event columns must then agree. A row with an event and no report
  stands for the event alone (an export writes one for each event without reports).
- The report: ``country``, ``category``, ``equipment_type`` and ``equipment_name`` (for losses
  of equipment; files without these two columns are of personnel losses), ``kind``, ``low``, ``best``, ``high``,
  ``as_of_date``, ``period_start``, ``horizon_date``, ``date_precision``, ``date_text``,
  ``credibility``, ``description``: as in the API, codes for choices (``killed``,
  ``estimate``, ``day``...), ISO alpha-2 countries, ``YYYY-MM-DD`` dates; credibility 1 to 6
  (blank: 6), date precision blank: ``day``.
- ``unit``, ``unit_country``: the name (and country) of the unit whose losses these are; it
  must exist, and the name (with the country) must pick exactly one unit. ``unit_id``
  (optional): the unit's id, which picks it among units of the same name; an id that is not
  of a unit with that name (a file from another database) is ignored.
- The event: ``event_title``, ``event_type``, ``event_start_date``, ``event_end_date``
  (blank: the start date), ``event_date_precision``, ``event_date_text``, ``event_expected``
  (true or false, blank: false), ``event_place_name``, ``event_admin1``, ``event_country``,
  ``event_latitude``, ``event_longitude``, ``event_location_precision``,
  ``event_personnel_low``, ``event_personnel_best``, ``event_personnel_high``,
  ``event_description``.
- The report's citations, N = 1, 2, ...: ``citation<N>_source`` (the source's slug),
  ``citation<N>_source_name``, ``_source_kind``, ``_source_reliability``,
  ``_source_country`` (used only to create a source no source has the slug of; an existing
  source is left as it is), ``citation<N>_role`` (``claimed_by``, ``reported_by``,
  ``confirmed_by``, ``disputed_by``), ``_url``, ``_title``, ``_published_date``,
  ``_accessed_date``, ``_archive_url``, ``_evidence_url``, ``_quote``. A row's citations replace the report's,
  in this order; a file without citation columns leaves citations alone.
- The event's citations: ``event_citation<N>_...``, the same way.

Not in the format: the units taking part in an event, links between claims, and a source's
homepage and description.
"""

import csv
import re
from collections.abc import Iterator
from typing import TextIO

from django.db.models import Count, F, Prefetch

from events import choices
from events.models import CasualtyReport, Citation, Event, Unit

from .base import (
    CitationSpec,
    EventSpec,
    Importer,
    ImportFileError,
    ReportSpec,
    RowReader,
    RowRecord,
    SourceSpec,
    guess_source_kind,
)
from .bulk import record_key

# (column, model field attname, how to read it)
REPORT_COLUMNS = [
    ("country", "country", "code"),
    ("category", "category", "text"),
    ("equipment_type", "equipment_type", "text"),
    ("equipment_name", "equipment_name", "text"),
    ("kind", "kind", "text"),
    ("low", "low", "integer"),
    ("best", "best", "integer"),
    ("high", "high", "integer"),
    ("as_of_date", "as_of_date", "date"),
    ("period_start", "period_start", "date"),
    ("horizon_date", "horizon_date", "date"),
    ("date_precision", "date_precision", "text"),
    ("date_text", "date_text", "text"),
    ("credibility", "credibility", "integer"),
    ("description", "description", "text"),
]
UNIT_COLUMNS = ["unit", "unit_country", "unit_id"]
# Files written before these columns existed (or by hand) may leave them out.
OPTIONAL_COLUMNS = {"unit_id", "equipment_type", "equipment_name"}
EVENT_COLUMNS = [
    ("event_title", "title", "text"),
    ("event_type", "type", "text"),
    ("event_start_date", "start_date", "date"),
    ("event_end_date", "end_date", "date"),
    ("event_date_precision", "date_precision", "text"),
    ("event_date_text", "date_text", "text"),
    ("event_expected", "expected", "boolean"),
    ("event_place_name", "place_name", "text"),
    ("event_admin1", "admin1", "text"),
    ("event_country", "country", "code"),
    ("event_latitude", "latitude", "number"),
    ("event_longitude", "longitude", "number"),
    ("event_location_precision", "location_precision", "text"),
    ("event_personnel_low", "personnel_low", "integer"),
    ("event_personnel_best", "personnel_best", "integer"),
    ("event_personnel_high", "personnel_high", "integer"),
    ("event_description", "description", "text"),
]
CITATION_COLUMNS = [
    "source",
    "source_name",
    "source_kind",
    "source_reliability",
    "source_country",
    "role",
    "url",
    "title",
    "published_date",
    "accessed_date",
    "archive_url",
    "evidence_url",
    "quote",
]
CITATION_DATES = {"published_date", "accessed_date"}
# Blank in the file: the model's default.
REPORT_DEFAULTS = {"date_precision": "day", "credibility": 6}
EVENT_DEFAULTS = {"date_precision": "day"}

HEADER = (
    ["report_id", "event_id"]
    + [column for column, _, _ in REPORT_COLUMNS]
    + UNIT_COLUMNS
    + [column for column, _, _ in EVENT_COLUMNS]
)
REPORT_DATA_COLUMNS = [column for column, _, _ in REPORT_COLUMNS] + UNIT_COLUMNS
CITATION_GROUP = re.compile(r"^(event_)?citation(\d+)_(.+)$")
ALL_ROLES = frozenset(choices.CitationRole.values)


class ClaimsCsvImporter(Importer):
    label = "claims CSV"
    required_columns = tuple(column for column in HEADER if column not in OPTIONAL_COLUMNS)
    event_id_column = "event_id"
    report_id_column = "report_id"
    event_citation_roles = report_citation_roles = ALL_ROLES

    def __init__(self):
        self.report_groups: list[str] = []  # column prefixes: "citation1_", ...
        self.event_groups: list[str] = []
        self.units: dict[str, list[tuple[int, str]]] | None = None

    def check_header(self, header):
        super().check_header(header)
        report_groups, event_groups, unknown = set(), set(), []
        for column in header:
            match = CITATION_GROUP.match(column)
            if match and match[3] in CITATION_COLUMNS:
                (event_groups if match[1] else report_groups).add(int(match[2]))
            elif column not in HEADER:
                unknown.append(column)
        if unknown:
            raise ImportFileError(f"Unknown columns: {', '.join(unknown)} (see `manage.py import_csv --help`).")
        self.report_groups = [f"citation{n}_" for n in sorted(report_groups)]
        self.event_groups = [f"event_citation{n}_" for n in sorted(event_groups)]
        for prefix in self.report_groups + self.event_groups:
            for column in ("source", "role"):
                if prefix + column not in header:
                    raise ImportFileError(f"The columns of {prefix.rstrip('_')} lack {prefix}{column}.")

    def parse_row(self, row: RowReader) -> RowRecord | None:
        report_id, event_id = row.text("report_id"), row.text("event_id")
        report_values = read_columns(row, REPORT_COLUMNS, REPORT_DEFAULTS)
        event_values = read_columns(row, EVENT_COLUMNS, EVENT_DEFAULTS)
        report_citations = self.citations(row, self.report_groups)
        event_citations = self.citations(row, self.event_groups)
        has_report = bool(report_id) or any(row.text(column) for column in REPORT_DATA_COLUMNS)
        has_event = bool(event_id) or any(row.text(column) for column, _, _ in EVENT_COLUMNS)
        if not has_report and not has_event:
            row.reject("report_id", "the row has neither a report nor an event.")
        if has_report and not report_id:
            row.reject("report_id", "is required on a row with a report (it keeps re-imports from duplicating).")
        if has_event and not event_id:
            row.reject("event_id", "is required on a row with an event (it keeps re-imports from duplicating).")
        if report_citations and not has_report:
            row.reject(self.report_groups[0] + "source", "citations of a report on a row with no report.")
        if has_report:
            report_values["unit_id"] = self.unit_id(row)
        if row.problems:
            return None

        event = None
        if has_event:
            if event_values["end_date"] is None:
                event_values["end_date"] = event_values["start_date"]
            event = EventSpec(
                external_id=event_id,
                values=event_values,
                citations=event_citations,
                columns={"external_id": "event_id", **{attname: column for column, attname, _ in EVENT_COLUMNS}},
                manage_citations=bool(self.event_groups),
            )
        reports = []
        if has_report:
            if event is None:
                report_values["event_id"] = None
            reports.append(
                ReportSpec(
                    external_id=report_id,
                    values=report_values,
                    citations=report_citations,
                    columns={
                        "external_id": "report_id",
                        "unit": "unit",
                        **{attname: column for column, attname, _ in REPORT_COLUMNS},
                    },
                    manage_citations=bool(self.report_groups),
                )
            )
        return RowRecord(line=row.line, event=event, reports=reports, counts_as="report")

    def citations(self, row: RowReader, prefixes: list[str]) -> list[CitationSpec]:
        citations = []
        for prefix in prefixes:
            if not any(row.text(prefix + column) for column in CITATION_COLUMNS):
                continue
            slug = row.text(prefix + "source", required=True)
            role = row.text(prefix + "role", required=True)
            name = row.text(prefix + "source_name") or slug
            source = SourceSpec(
                slug=slug,
                name=name,
                kind=row.text(prefix + "source_kind") or guess_source_kind(name),
                reliability=row.text(prefix + "source_reliability") or choices.Reliability.F,
                country=row.text(prefix + "source_country").upper(),
            )
            values = {}
            for column in ("url", "title", "archive_url", "evidence_url", "quote"):
                values[column] = row.text(prefix + column)
            for column in CITATION_DATES:
                values[column] = row.date(prefix + column)
            columns = {column: prefix + column for column in CITATION_COLUMNS}
            citations.append(CitationSpec(source=source, role=role, values=values, columns=columns))
        return citations

    def unit_id(self, row: RowReader) -> int | None:
        name, country = row.text("unit"), row.text("unit_country").upper()
        given_id = row.integer("unit_id", minimum=1)
        if not name:
            if given_id is not None:
                row.reject("unit", "is required with unit_id: the unit's name, which the id must agree with.")
            return None
        if self.units is None:
            self.units = {}
            for pk, unit_name, unit_country in Unit.objects.values_list("pk", "name", "country"):
                self.units.setdefault(unit_name.casefold(), []).append((pk, unit_country))
        matches = [pk for pk, unit_country in self.units.get(name.casefold(), []) if country in ("", unit_country)]
        if given_id in matches:
            return given_id
        if len(matches) == 1:
            return matches[0]
        where = f" in country {country}" if country else ""
        if matches:
            row.reject("unit", f"several units are named {name!r}{where}; give unit_country or rename one.")
        else:
            row.reject("unit", f"no unit is named {name!r}{where}; create it first.")
        return None


def read_columns(row: RowReader, columns, defaults) -> dict:
    values = {}
    for column, attname, how in columns:
        if how == "code":
            value = row.text(column).upper()
        elif how == "boolean":
            value = row.boolean(column)
        else:
            value = getattr(row, how)(column)
        if value in ("", None) and attname in defaults:
            value = defaults[attname]
        values[attname] = value
    return values


# --- Export -------------------------------------------------------------------------------


def export_claims(*, file: TextIO) -> int:
    """Write every casualty report (and every event without one) in the claims format; returns the row count.

    Reads in chunks, with each chunk's events, units, citations and sources fetched in a few
    queries, so memory stays flat however many reports there are.
    """
    report_groups = max_citations("casualty_report")
    event_groups = max_citations("event")
    writer = csv.writer(file)
    writer.writerow(
        HEADER
        + [f"citation{n}_{column}" for n in range(1, report_groups + 1) for column in CITATION_COLUMNS]
        + [f"event_citation{n}_{column}" for n in range(1, event_groups + 1) for column in CITATION_COLUMNS]
    )
    rows = 0
    for report, event in claims():
        writer.writerow(
            [record_key(report) if report else "", record_key(event) if event else ""]
            + report_cells(report)
            + event_cells(event)
            + citation_cells(report.citations.all() if report else [], report_groups)
            + citation_cells(event.citations.all() if event else [], event_groups)
        )
        rows += 1
    return rows


def claims() -> Iterator[tuple[CasualtyReport | None, Event | None]]:
    citations = Prefetch("citations", queryset=Citation.objects.select_related("source").order_by("pk"))
    event_citations = Prefetch("event__citations", queryset=Citation.objects.select_related("source").order_by("pk"))
    reports = (
        CasualtyReport.objects.select_related("event", "unit")
        .prefetch_related(citations, event_citations)
        .order_by(F("event_id").asc(nulls_last=True), "pk")
    )
    for report in reports.iterator(chunk_size=1000):
        yield report, report.event
    events = Event.objects.filter(casualty_reports__isnull=True).prefetch_related(citations).order_by("pk")
    for event in events.iterator(chunk_size=1000):
        yield None, event


def max_citations(subject_field: str) -> int:
    counts = (
        Citation.objects.filter(**{f"{subject_field}__isnull": False})
        .values(subject_field)
        .annotate(count=Count("pk"))
        .order_by("-count")
        .values_list("count", flat=True)
    )
    return counts.first() or 0


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "code"):  # a Country
        return value.code
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)  # str() of a float round-trips exactly


def report_cells(report: CasualtyReport | None) -> list[str]:
    if report is None:
        return [""] * (len(REPORT_COLUMNS) + len(UNIT_COLUMNS))
    unit = [report.unit.name, report.unit.country.code, str(report.unit_id)] if report.unit else ["", "", ""]
    return [cell(getattr(report, attname)) for _, attname, _ in REPORT_COLUMNS] + unit


def event_cells(event: Event | None) -> list[str]:
    if event is None:
        return [""] * len(EVENT_COLUMNS)
    return [cell(getattr(event, attname)) for _, attname, _ in EVENT_COLUMNS]


def citation_cells(citations, groups: int) -> list[str]:
    cells = []
    for citation in citations:
        source = citation.source
        cells += [source.slug, source.name, source.kind, source.reliability, source.country.code, citation.role]
        cells += [cell(getattr(citation, column)) for column in CITATION_COLUMNS[6:]]
    return cells + [""] * (groups * len(CITATION_COLUMNS) - len(cells))
