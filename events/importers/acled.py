"""Import an ACLED export CSV (the layout of ACLED's data export tool and API, 31 columns).

One ACLED row becomes:

**Event** ``acled:<event_id_cnty>``

- ``title``: "<sub_event_type>: <actor1> vs <actor2> in <location>".
- ``type`` from ``sub_event_type`` (else ``event_type``): armed clashes ``combat``; "Government
  regains territory", "Non-state actor overtakes territory" and "Non-violent transfer of
  territory" ``capture``; explosions and remote violence (air/drone strikes, shelling,
  IEDs, suicide bombs, grenades, chemical weapons) ``strike``; "Headquarters or base
  established" ``deployment``; "Agreement" ``statement``; everything else (violence against
  civilians, protests, riots, arrests, looting...) ``other``, as UCDP's one-sided violence.
- Dates from ``event_date`` (``YYYY-MM-DD``, or ACLED's older ``15 January 2024`` /
  ``15-January-2024`` / ``15-01-2024``) and ``time_precision``: 1, the day; 2 (ACLED: "some
  time during a week", coded to its middle) the seven days around it, precision ``week``;
  3 (ACLED: "some time during a month", coded to its middle) that calendar month, precision
  ``month``. ``date_text`` keeps ACLED's date and precision in words.
- ``country`` from the numeric ISO code in ``iso`` (else the ``country`` name); ``admin1``;
  ``place_name`` ``location``; ``latitude``/``longitude``.
- ``location_precision`` from ``geo_precision``: 1 (a named town) ``exact``; 2 (a small part of
  a region, or near a town: coded to that town) ``near``; 3 (only a larger region: a natural
  location or the provincial capital is used) ``admin1``. ACLED's 3 is coarser than a district,
  so ``admin1`` is closer to it than ``admin2``.
- ``description``: ACLED's id, disorder and event types, both actors with their associated
  actors, civilian targeting, ``notes``, ``tags`` and ``source_scale``.
- Citations, role ``reported_by``: ACLED (title "ACLED event <id>") and one per source in
  ``source`` (split on ``;``).

**Sources**: "Armed Conflict Location & Event Data Project (ACLED)" (slug ``acled``, kind NGO,
reliability B) and one per source name (kind media unless the name says otherwise,
reliability F).

**Casualty report** ``acled:<id>:fatalities`` when ``fatalities`` is above zero: category
killed, kind estimate, ``low`` = fatalities with no best or high (ACLED's figure is a
conservative estimate, "at least"), as of the event's end date, claimed by ACLED, country
blank (all parties). A zero is not a claim of "at least 0" worth a record; if a later export
lowers a figure to zero, the report is deleted on re-import.

``year``, ``inter1``/``inter2``/``interaction``, ``region``, ``admin2``/``admin3`` (these two go
into the description) and ``timestamp`` are otherwise not imported.
"""

import calendar
import datetime

from django_countries import countries

from events import choices

from .base import (
    CitationSpec,
    EventSpec,
    Importer,
    ReportSpec,
    RowReader,
    RowRecord,
    SourceSpec,
    country_code,
    guess_source_kind,
    source_slug,
    split_list,
)

ACLED = SourceSpec(
    slug="acled",
    name="Armed Conflict Location & Event Data Project (ACLED)",
    kind=choices.SourceKind.NGO,
    reliability=choices.Reliability.B,
    homepage="https://acleddata.com/",
    description="Non-profit that codes political violence and protest events worldwide from open sources.",
)

DATE_FORMATS = ("%d %B %Y", "%d-%B-%Y", "%d-%m-%Y")
TIME_PRECISION = {
    "1": choices.DatePrecision.DAY,
    "2": choices.DatePrecision.WEEK,
    "3": choices.DatePrecision.MONTH,
}
TIME_PRECISION_WORDS = {
    choices.DatePrecision.DAY: "",
    choices.DatePrecision.WEEK: " (some time that week)",
    choices.DatePrecision.MONTH: " (some time that month)",
}
GEO_PRECISION = {
    "1": choices.LocationPrecision.EXACT,
    "2": choices.LocationPrecision.NEAR,
    "3": choices.LocationPrecision.ADMIN1,
}
EVENT_TYPES = {
    "Armed clash": choices.EventType.COMBAT,
    "Government regains territory": choices.EventType.CAPTURE,
    "Non-state actor overtakes territory": choices.EventType.CAPTURE,
    "Non-violent transfer of territory": choices.EventType.CAPTURE,
    "Headquarters or base established": choices.EventType.DEPLOYMENT,
    "Agreement": choices.EventType.STATEMENT,
    "Battles": choices.EventType.COMBAT,
    "Explosions/Remote violence": choices.EventType.STRIKE,
}

EVENT_COLUMNS = {
    "external_id": "event_id_cnty",
    "title": "sub_event_type",
    "type": "event_type",
    "start_date": "event_date",
    "end_date": "event_date",
    "date_precision": "time_precision",
    "date_text": "event_date",
    "place_name": "location",
    "admin1": "admin1",
    "country": "iso",
    "latitude": "latitude",
    "longitude": "longitude",
    "location_precision": "geo_precision",
}
REPORT_COLUMNS = {"external_id": "event_id_cnty", "low": "fatalities", "as_of_date": "event_date"}
CITATION_COLUMNS = {"source": "source"}


class AcledImporter(Importer):
    label = "ACLED"
    event_id_column = report_id_column = "event_id_cnty"
    required_columns = (
        "event_id_cnty",
        "event_date",
        "time_precision",
        "event_type",
        "sub_event_type",
        "actor1",
        "actor2",
        "iso",
        "country",
        "admin1",
        "location",
        "latitude",
        "longitude",
        "geo_precision",
        "source",
        "notes",
        "fatalities",
    )

    def parse_row(self, row: RowReader) -> RowRecord | None:
        acled_id = row.text("event_id_cnty", required=True)
        date = row.date("event_date", required=True, formats=DATE_FORMATS)
        precision = row.choice("time_precision", TIME_PRECISION, required=True)
        location_precision = row.choice("geo_precision", GEO_PRECISION, default="")
        latitude, longitude = row.number("latitude"), row.number("longitude")
        fatalities = row.integer("fatalities")
        iso = row.integer("iso")
        if row.problems:
            return None

        country = (countries.alpha2(iso) if iso else "") or country_code(row.text("country"))
        if not country and (iso or row.text("country")):
            row.warn("iso", f"neither iso {iso} nor country {row.text('country')!r} is a country we know.")
        start, end = interval(date, precision)
        external_id = f"acled:{acled_id}"
        event_type, sub_event_type = row.text("event_type"), row.text("sub_event_type")
        actors = " vs ".join(filter(None, (row.text("actor1"), row.text("actor2"))))
        location = row.text("location")
        title = ": ".join(filter(None, (sub_event_type or event_type, actors)))
        title += f" in {location}" if location else ""

        lines = [f"ACLED event {acled_id}: " + " / ".join(filter(None, (row.text("disorder_type"), event_type)))]
        lines[0] += f" ({sub_event_type})." if sub_event_type else "."
        for number in ("1", "2"):
            actor, associated = row.text(f"actor{number}"), row.text(f"assoc_actor_{number}")
            if actor:
                lines.append(f"Actor {number}: {actor}" + (f", with {associated}." if associated else "."))
        for label, column in (
            ("Civilian targeting", "civilian_targeting"),
            ("Notes", "notes"),
            ("Tags", "tags"),
            ("Source scale", "source_scale"),
            ("Admin2", "admin2"),
            ("Admin3", "admin3"),
        ):
            if row.text(column):
                lines.append(f"{label}: {row.text(column)}")

        acled_record = {"title": f"ACLED event {acled_id}"}
        event = EventSpec(
            external_id=external_id,
            values={
                "title": row.clipped("sub_event_type", title, 300),
                "description": "\n".join(lines),
                "type": EVENT_TYPES.get(sub_event_type) or EVENT_TYPES.get(event_type) or choices.EventType.OTHER,
                "start_date": start,
                "end_date": end,
                "date_precision": precision,
                "date_text": f"{date.isoformat()}{TIME_PRECISION_WORDS[precision]}" if start != end else "",
                "place_name": row.clipped("location", location, 200),
                "admin1": row.clipped("admin1", row.text("admin1"), 200),
                "country": country,
                "latitude": latitude,
                "longitude": longitude,
                "location_precision": location_precision,
            },
            citations=[
                CitationSpec(source=ACLED, role=choices.CitationRole.REPORTED_BY, values=acled_record),
                *(
                    CitationSpec(
                        source=SourceSpec(
                            slug=source_slug(name),
                            name=row.clipped("source", name, 200),
                            kind=guess_source_kind(name),
                        ),
                        role=choices.CitationRole.REPORTED_BY,
                        columns=CITATION_COLUMNS,
                    )
                    for name in split_list(row.text("source"))
                    if name
                ),
            ],
            columns=EVENT_COLUMNS,
            owned_reports_prefix=f"{external_id}:",
        )
        reports = []
        if fatalities:
            reports.append(
                ReportSpec(
                    external_id=f"{external_id}:fatalities",
                    values={
                        "category": choices.CasualtyCategory.KILLED,
                        "kind": choices.FigureKind.ESTIMATE,
                        "low": fatalities,
                        "best": None,
                        "high": None,
                        "country": "",
                        "as_of_date": end,
                        "date_precision": precision,
                        "description": "Reported fatalities, all parties: ACLED's conservative figure (at least).",
                    },
                    citations=[CitationSpec(source=ACLED, role=choices.CitationRole.CLAIMED_BY, values=acled_record)],
                    columns=REPORT_COLUMNS,
                )
            )
        return RowRecord(line=row.line, event=event, reports=reports)


def interval(date: datetime.date, precision: str) -> tuple[datetime.date, datetime.date]:
    """The days an ACLED date stands for: the day, the week around it, or its month."""
    if precision == choices.DatePrecision.WEEK:
        return date - datetime.timedelta(days=3), date + datetime.timedelta(days=3)
    if precision == choices.DatePrecision.MONTH:
        return date.replace(day=1), date.replace(day=calendar.monthrange(date.year, date.month)[1])
    return date, date
