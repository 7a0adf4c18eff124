"""Import the UCDP Georeferenced Event Dataset (GED) CSV, as published (``GEDEvent_v23_1.csv``, 49 columns).

One GED row becomes:

**Event** ``ucdp-ged:<id>``

- ``title``: "<dyad_name>: <place>", the place being ``where_coordinates`` (the name of the
  place the coordinates stand for), else ``adm_1``, else ``country``.
- ``type``: ``type_of_violence`` 1 (state-based) and 2 (non-state) are ``combat``. 3
  (one-sided violence: an organised group or a government killing civilians, from massacres
  to executions and bombings) is ``other``: ``strike`` would assert a means of attack GED does
  not record. The description names UCDP's type.
- ``start_date``/``end_date``: ``date_start``/``date_end`` (their ``00:00:00.000`` time dropped).
- ``date_precision`` from ``date_prec``: 1 day; 2 (two to six days) and 3 (a week) ``week``;
  4 ``month``; 5 ``year``. ``date_text`` stays blank: GED has no original wording.
- ``place_name`` ``where_coordinates``; ``admin1`` ``adm_1``; ``country`` from the ``country``
  name (django-countries, plus aliases for UCDP spellings such as "DR Congo (Zaire)" or
  "Yemen (North Yemen)"); an unknown name leaves it blank with a warning.
- ``latitude``/``longitude``; ``location_precision`` from ``where_prec``: 1 exact, 2 near,
  3 admin2, 4 admin1, 5 region, 6 country, 7 international.
- ``description``: UCDP's id and type of violence, the conflict, the dyad and both sides,
  ``where_description`` and ``adm_2`` (the place as the reports word it), ``source_original``
  (whom the reports quote: "army statement", "SOHR"; it is not a quotation, so it does not go
  into a citation's quote), a note when ``event_clarity`` is 2, and ``source_article`` when the
  row names no ``source_office``.
- Citations, role ``reported_by``: UCDP itself (title "UCDP GED event <relid>"), and one per
  office in ``source_office`` (split on ``;``), with the matching ``source_headline`` as title
  and ``source_date`` as published date when it is a date. Headlines are split on a ``;`` not
  followed by a space (headlines contain "; " themselves); when their count still differs
  from the offices', the titles stay blank and the headlines go into the description.

**Sources**: "Uppsala Conflict Data Program" (slug ``ucdp``, kind other, a university research
programme; reliability B), and one per office name (slug from the name, kind media unless the
name says ministry, army, human-rights group, institute...; reliability F). An existing source
with the slug is used as it is.

**Casualty reports**, all ``category`` killed, ``kind`` estimate, claimed by UCDP (a
``claimed_by`` citation), ``as_of_date`` ``date_end`` with the event's date precision, linked
to the event, ``country`` blank (deaths of several parties):

- ``ucdp-ged:<id>:total``: ``low``/``best``/``high``, kept when zero (UCDP's best estimate can
  be 0).
- ``...:side_a``, ``...:side_b``, ``...:civilians``, ``...:unknown``: ``deaths_a``, ``deaths_b``,
  ``deaths_civilians``, ``deaths_unknown`` as ``best``, only when above zero (GED gives all four
  on every row, mostly zeros: a zero here is "none of the deaths were this party's", not a
  claim worth a record). A side named "Government of X" gives the report the country X. A
  per-party figure that drops to zero in a later release deletes its report on re-import.

GED has a few rows whose ``low`` exceeds ``best`` or whose ``high`` is below it (4 of the 200
of the sample; the per-party figures always add up to ``best``). The model cannot store such a
range, and rejecting the rows would lose the events, so ``best`` is kept, the contradicting
bound is left open, and the description and a warning give UCDP's original figures.

``number_of_sources`` (often -1), ``geom_wkt``, ``priogrid_gid``, the ``*_dset_id``/``*_new_id``
codes and ``gwnoa``/``gwnob`` are not imported.
"""

import re

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
    parse_date,
    source_slug,
    split_list,
)

UCDP = SourceSpec(
    slug="ucdp",
    name="Uppsala Conflict Data Program",
    kind=choices.SourceKind.OTHER,
    reliability=choices.Reliability.B,
    country="SE",
    homepage="https://ucdp.uu.se/",
    description=(
        "Department of Peace and Conflict Research, Uppsala University. Publishes the UCDP "
        "Georeferenced Event Dataset (GED) under CC BY 4.0: Sundberg & Melander 2013, JPR 50(4); "
        "Davies, Pettersson & Öberg 2023, JPR 60(4)."
    ),
)

VIOLENCE = {
    "1": (choices.EventType.COMBAT, "state-based conflict"),
    "2": (choices.EventType.COMBAT, "non-state conflict"),
    "3": (choices.EventType.OTHER, "one-sided violence"),
}
DATE_PRECISION = {
    "1": choices.DatePrecision.DAY,
    "2": choices.DatePrecision.WEEK,
    "3": choices.DatePrecision.WEEK,
    "4": choices.DatePrecision.MONTH,
    "5": choices.DatePrecision.YEAR,
}
LOCATION_PRECISION = {
    "1": choices.LocationPrecision.EXACT,
    "2": choices.LocationPrecision.NEAR,
    "3": choices.LocationPrecision.ADMIN2,
    "4": choices.LocationPrecision.ADMIN1,
    "5": choices.LocationPrecision.REGION,
    "6": choices.LocationPrecision.COUNTRY,
    "7": choices.LocationPrecision.INTERNATIONAL,
}
# (report id suffix, column, description); the description gets the side's name.
PARTIES = [
    ("side_a", "deaths_a", "Deaths of side A ({side_a})"),
    ("side_b", "deaths_b", "Deaths of side B ({side_b})"),
    ("civilians", "deaths_civilians", "Civilian deaths"),
    ("unknown", "deaths_unknown", "Deaths of unknown affiliation"),
]

EVENT_COLUMNS = {
    "external_id": "id",
    "title": "dyad_name",
    "type": "type_of_violence",
    "start_date": "date_start",
    "end_date": "date_end",
    "date_precision": "date_prec",
    "place_name": "where_coordinates",
    "admin1": "adm_1",
    "country": "country",
    "latitude": "latitude",
    "longitude": "longitude",
    "location_precision": "where_prec",
}
REPORT_COLUMNS = {"external_id": "id", "as_of_date": "date_end", "low": "low", "best": "best", "high": "high"}
CITATION_COLUMNS = {"source": "source_office", "title": "source_headline", "published_date": "source_date"}
UCDP_CITATION_COLUMNS = {"title": "relid"}

# Several headlines are joined by ";" with no space; a headline's own semicolons have one after them.
HEADLINE_SEPARATOR = re.compile(r";(?!\s)")


def sentence(label: str, text: str) -> str:
    text = text.strip()
    return f"{label}: {text}" + ("" if text.endswith((".", "!", "?")) else ".")


class UcdpGedImporter(Importer):
    label = "UCDP GED"
    required_columns = (
        "id",
        "relid",
        "type_of_violence",
        "conflict_name",
        "dyad_name",
        "side_a",
        "side_b",
        "source_article",
        "source_office",
        "source_date",
        "source_headline",
        "source_original",
        "where_prec",
        "where_coordinates",
        "where_description",
        "adm_1",
        "adm_2",
        "latitude",
        "longitude",
        "country",
        "event_clarity",
        "date_prec",
        "date_start",
        "date_end",
        "deaths_a",
        "deaths_b",
        "deaths_civilians",
        "deaths_unknown",
        "best",
        "high",
        "low",
    )

    def parse_row(self, row: RowReader) -> RowRecord | None:
        ged_id = row.integer("id", required=True)
        violence = row.choice("type_of_violence", VIOLENCE, required=True)
        start = row.date("date_start", required=True)
        end = row.date("date_end", required=True)
        date_precision = row.choice("date_prec", DATE_PRECISION, required=True)
        location_precision = row.choice("where_prec", LOCATION_PRECISION, default="")
        latitude, longitude = row.number("latitude"), row.number("longitude")
        low, best, high = row.integer("low"), row.integer("best"), row.integer("high")
        party_deaths = {suffix: row.integer(column) for suffix, column, _ in PARTIES}
        if row.problems:
            return None

        country_name = row.text("country")
        country = country_code(country_name)
        if country_name and not country:
            row.warn("country", f"{country_name!r} is not a country name we know; the country is left blank.")
        external_id = f"ucdp-ged:{ged_id}"
        relid = row.text("relid") or str(ged_id)
        dyad = row.text("dyad_name") or row.text("conflict_name")
        place = row.text("where_coordinates") or row.text("adm_1") or country_name
        offices = [office for office in split_list(row.text("source_office")) if office]
        office_citations, headlines_aligned = self.office_citations(row)

        lines = [f"UCDP GED event {relid} (id {ged_id}): {violence[1]}."]
        for label, column in (("Conflict", "conflict_name"), ("Dyad", "dyad_name")):
            if row.text(column):
                lines.append(sentence(label, row.text(column)))
        lines.append(f"Side A: {row.text('side_a') or '?'}. Side B: {row.text('side_b') or '?'}.")
        where = "; ".join(filter(None, (row.text("where_description"), row.text("adm_2"))))
        if where:
            lines.append(sentence("Location as reported", where))
        if row.text("source_original"):
            lines.append(sentence("The reports cite", row.text("source_original")))
        if row.text("event_clarity") == "2":
            lines.append("Event clarity: unclear (UCDP's record may summarise several events).")
        if not offices and row.text("source_article"):
            lines.append(sentence("Sources as UCDP lists them", row.text("source_article")))
        if not headlines_aligned and row.text("source_headline"):
            lines.append(sentence("Headlines", row.text("source_headline")))

        ucdp_citation = CitationSpec(
            source=UCDP,
            role=choices.CitationRole.REPORTED_BY,
            values={"title": f"UCDP GED event {relid}"},
            columns=UCDP_CITATION_COLUMNS,
        )
        event = EventSpec(
            external_id=external_id,
            values={
                "title": row.clipped("dyad_name", f"{dyad}: {place}" if place else dyad, 300),
                "description": "\n".join(lines),
                "type": violence[0],
                "start_date": start,
                "end_date": end,
                "date_precision": date_precision,
                "place_name": row.clipped("where_coordinates", place, 200),
                "admin1": row.clipped("adm_1", row.text("adm_1"), 200),
                "country": country,
                "latitude": latitude,
                "longitude": longitude,
                "location_precision": location_precision,
            },
            citations=[ucdp_citation, *office_citations],
            columns=EVENT_COLUMNS,
            owned_reports_prefix=f"{external_id}:",
        )

        common = {
            "category": choices.CasualtyCategory.KILLED,
            "kind": choices.FigureKind.ESTIMATE,
            "as_of_date": end,
            "date_precision": date_precision,
        }
        claim = CitationSpec(
            source=UCDP,
            role=choices.CitationRole.CLAIMED_BY,
            values={"title": f"UCDP GED event {relid}"},
            columns=UCDP_CITATION_COLUMNS,
        )
        description = "Deaths in the event, all parties: UCDP's low, best and high estimates."
        if best is not None and low is not None and low > best:
            row.warn("low", f"UCDP's low ({low}) exceeds its best ({best}); the low is left open.")
            description += f" UCDP gives a low of {low}, above its best; the low is left open."
            low = None
        if best is not None and high is not None and high < best:
            row.warn("high", f"UCDP's high ({high}) is below its best ({best}); the high is left open.")
            description += f" UCDP gives a high of {high}, below its best; the high is left open."
            high = None
        reports = [
            ReportSpec(
                external_id=f"{external_id}:total",
                values={**common, "country": "", "low": low, "best": best, "high": high, "description": description},
                citations=[claim],
                columns=REPORT_COLUMNS,
            )
        ]
        for suffix, column, wording in PARTIES:
            deaths = party_deaths[suffix]
            if not deaths:
                continue
            side = row.text(suffix) if suffix.startswith("side_") else ""
            reports.append(
                ReportSpec(
                    external_id=f"{external_id}:{suffix}",
                    values={
                        **common,
                        "country": government_country(side),
                        "low": None,
                        "best": deaths,
                        "high": None,
                        "description": wording.format(side_a=row.text("side_a"), side_b=row.text("side_b"))
                        + ": UCDP's best estimate.",
                    },
                    citations=[claim],
                    columns={**REPORT_COLUMNS, "best": column},
                )
            )
        return RowRecord(line=row.line, event=event, reports=reports)

    def office_citations(self, row: RowReader) -> tuple[list[CitationSpec], bool]:
        """One citation per office in ``source_office``; whether the headlines could be paired with them."""
        offices = split_list(row.text("source_office"))
        dates = split_list(row.text("source_date"))
        headlines = [h.strip() for h in HEADLINE_SEPARATOR.split(row.text("source_headline"))]
        aligned = len(headlines) == len(offices)
        citations = []
        for position, office in enumerate(offices):
            if not office:
                continue
            values = {}
            if aligned and headlines[position]:
                values["title"] = row.clipped("source_headline", headlines[position], 300)
            if len(dates) == len(offices) and dates[position]:
                values["published_date"] = parse_date(dates[position])
            name = row.clipped("source_office", office, 200)
            source = SourceSpec(slug=source_slug(office), name=name, kind=guess_source_kind(office))
            citations.append(
                CitationSpec(
                    source=source, role=choices.CitationRole.REPORTED_BY, values=values, columns=CITATION_COLUMNS
                )
            )
        return citations, aligned


def government_country(side: str) -> str:
    """ "Government of Syria" -> "SY"; blank for anything else (rebels, militias, civilians)."""
    if not side.startswith("Government of "):
        return ""
    return country_code(side.removeprefix("Government of "))
