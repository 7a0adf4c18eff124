"""STIX 2.1 export of events and casualty claims, with the sources behind them.

``stix_bundle(events=..., casualty_reports=...)`` returns a STIX 2.1 bundle as a plain,
JSON-serialisable dict. Every reference points at an object in the same bundle, and whatever
STIX has no property for travels in property extensions, each declared by an
``extension-definition`` object in the bundle, so it parses with the ``stix2`` library without
custom content (``stix2.parse(..., allow_custom=False)``). ``tests/test_stix.py`` also runs
``stix2-validator`` in strict mode, less four recommendations ("SHOULD"s) it departs from on
purpose: ids are UUIDv5, not v4, so that they survive re-exports; "claims", "reports" and the
claim-link relationship types and the "conflict-event" report type are not in the spec's
suggested lists (both are open vocabularies); and external references have no ``hashes``, as
the service links to articles without fetching them.

Mapping
-------
This service
    An ``identity`` (``identity_class`` "system", name "OSINT conflict-event API"). It is the
    ``created_by_ref`` of everything the service asserts: the other identities, locations,
    reports, notes, the relationships and the extension definitions.

Source → ``identity``
    ``name``, ``description``; ``identity_class`` "individual" for an official person,
    "unknown" for kind "other" (unnamed sources, a prisoner), "organization" otherwise. The
    homepage is an external reference. The *source* extension carries ``reliability`` (the
    Admiralty letter A–F), ``kind``, ``country`` and ``slug``.

Event → ``location`` + ``report``
    The location has ``name`` (the place), ``country`` (ISO 3166-1 alpha-2),
    ``administrative_area`` (the admin1 region; STIX's ``region`` is a world-region vocabulary
    such as "eastern-europe", so admin1 does not go there), ``latitude``/``longitude`` when
    known, and ``precision`` (25,000 m) for "near". STIX needs coordinates or a country or a
    region, so an event without coordinates gets a country-only location, and an event with
    neither gets no location.

    The report has ``name`` (title), ``description``, ``report_types`` ["conflict-event"] (an
    open vocabulary), ``published`` (the earliest citation publication date, else when the
    record was created) and ``object_refs``: the location, every cited source's identity and
    the notes of the event's casualty claims in the bundle (the service identity if that
    leaves nothing, as the list may not be empty). The *event* extension carries ``type``,
    ``start_date``, ``end_date``, ``date_precision``, ``date_text``, ``expected``,
    ``location_precision``, ``personnel_low``/``_best``/``_high``, ``units`` (name, country and
    role of each unit involved) and ``status`` (the claim status).

CasualtyReport → ``note``
    ``abstract`` is a one-line summary ("Captured: 2 (KP), count as of 2025-01-11"),
    ``content`` the description or, when there is none, a sentence made from the figures,
    ``authors`` the names of the claimants (``claimed_by`` sources), ``confidence`` the
    credibility on the STIX Admiralty Credibility scale (spec appendix A: 1 → 90, 2 → 70,
    3 → 50, 4 → 30, 5 → 10, 6 → no confidence), ``object_refs`` the event's report when the event
    is in the bundle plus every cited source's identity (the service identity if that leaves
    nothing). A claim whose event is not exported does not point at it: export the events too
    to keep that tie. The *casualty report* extension carries ``low``, ``best``, ``high``,
    ``kind``, ``category``, ``country``, ``as_of_date``, ``period_start``, ``horizon_date``,
    ``date_precision``, ``date_text``, ``credibility``, ``status`` and ``unit_name``.

Citation
    ``claimed_by`` and ``reported_by`` → a ``relationship`` "claims" / "reports" from the
    source's identity to the note or report. ``confirmed_by`` and ``disputed_by`` → an
    ``opinion`` "agree" / "disagree" created by the source's identity, with ``object_refs`` the
    note or report and ``authors`` the source name. Both carry the quote (``description`` of the
    relationship, ``explanation`` of the opinion), an external reference per URL and archive URL
    (``source_name`` the source, ``url``, ``description`` the quote), and the *citation*
    extension with ``title``, ``published_date`` and ``accessed_date``.

CasualtyReportLink / EventLink → ``relationship``
    ``relationship_type`` is the relation ("confirms", "disputes", "supersedes", "revises",
    "retracts"), from the newer claim's note (or report) to the one it bears on, with the quote,
    external references and *citation* extension of whoever says so, as for a citation. Only
    links with both claims in the bundle are exported.

Ids and timestamps
    Every id is a UUIDv5 in a fixed namespace from the record's kind and primary key: "event:12"
    (the report), "event-location:12", "casualty-report:3" (the note), "source:1",
    "citation:7" (its relationship or opinion), "event-link:4", "casualty-report-link:2". So
    re-exporting gives the same ids and a consumer can merge exports. The bundle id is
    derived from its objects' ids and modification times, so the same data gives the same
    bundle byte for byte. ``created``/``modified`` come from ``created_at``/``updated_at``.

Extension definitions (property extensions, version 1.0; ``schema`` holds the JSON Schema of
their properties as text)
    source:          ``extension-definition--38656d72-41e5-5812-b82f-10bd90b23e64``
    event:           ``extension-definition--bc2819c5-e7e1-55a4-9abe-14bfb37a8d46``
    casualty report: ``extension-definition--39cd4710-9779-5358-a612-36f000aeb8f5``
    citation:        ``extension-definition--c049ee03-2aa0-5f92-bd5b-0799c76dbefc``

Queries: none beyond what the given querysets load (pass ``selectors.event_list()`` and
``selectors.casualty_report_list()``, which prefetch citations with their sources, units and
the claim status), plus one query per link model for the links between exported claims. For
a view as of a past day, build the querysets with ``selectors.as_known_at`` and pass the same
``known_at`` here, which leaves out links published after it.
"""

import datetime
import json
import uuid
from collections.abc import Iterable

from . import choices
from .models import CasualtyReport, CasualtyReportLink, Citation, Event, EventLink, figure_range
from .selectors import known_by

# The UUIDv5 namespace of every id in the export (185343f7-5b67-5ff7-bc07-834a5a3b97de);
# changing it would change every id.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:x-osint-conflict-event-api:stix")

SERVICE_NAME = "OSINT conflict-event API"
# The service identity and the extension definitions are part of the format, not the data:
# their timestamps are fixed so that an export of the same records is the same bundle.
FORMAT_DATE = "2026-11-27T00:00:00.000Z"


CITATION_RELATIONSHIP_TYPES = {
    choices.CitationRole.CLAIMED_BY: "claims",
    choices.CitationRole.REPORTED_BY: "reports",
}
CITATION_OPINIONS = {
    choices.CitationRole.CONFIRMED_BY: "agree",
    choices.CitationRole.DISPUTED_BY: "disagree",
}
# STIX 2.1 appendix A, "Admiralty Credibility": 6 (cannot be judged) has no confidence.
CREDIBILITY_CONFIDENCE = {1: 90, 2: 70, 3: 50, 4: 30, 5: 10}
# Only "near" (UCDP's "within about 25 km") is a radius; the others name an area, not a distance.
LOCATION_PRECISION_METRES = {choices.LocationPrecision.NEAR: 25_000.0}


def stix_id(stix_type: str, key: str) -> str:
    """The stable id of the object of ``stix_type`` made from the record named ``key`` ("event:12")."""
    return f"{stix_type}--{uuid.uuid5(NAMESPACE, key)}"


SERVICE_IDENTITY_ID = stix_id("identity", "service")
SOURCE_EXTENSION_ID = stix_id("extension-definition", "extension-definition:source")
EVENT_EXTENSION_ID = stix_id("extension-definition", "extension-definition:event")
CASUALTY_REPORT_EXTENSION_ID = stix_id("extension-definition", "extension-definition:casualty-report")
CITATION_EXTENSION_ID = stix_id("extension-definition", "extension-definition:citation")


def timestamp(value: datetime.datetime | datetime.date) -> str:
    """A STIX timestamp, in UTC with milliseconds: ``2025-01-09T00:00:00.000Z``."""
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime.combine(value, datetime.time(), tzinfo=datetime.UTC)
    value = value.astimezone(datetime.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _common(stix_type: str, key: str, record, *, created_by_ref: str | None = SERVICE_IDENTITY_ID) -> dict:
    created = timestamp(record.created_at)
    common = {
        "type": stix_type,
        "spec_version": "2.1",
        "id": stix_id(stix_type, key),
        "created": created,
        # STIX requires modified >= created; imported rows may say otherwise.
        "modified": max(created, timestamp(record.updated_at)),
    }
    if created_by_ref:
        common["created_by_ref"] = created_by_ref
    return common


def _present(**properties) -> dict:
    """The properties that have a value: STIX has no null, and an empty string or list says nothing."""
    return {name: value for name, value in properties.items() if value is not None and value != "" and value != []}


def _extension(extension_id: str, **properties) -> dict:
    """The ``extensions`` property holding the given properties, or nothing when none has a value."""
    properties = _present(**properties)
    if not properties:
        return {}
    return {"extensions": {extension_id: {"extension_type": "property-extension", **properties}}}


def _country(country) -> str | None:
    return country.code if country else None


def _json_schema(title: str, properties: dict) -> str:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "properties": {"extension_type": {"const": "property-extension"}, **properties},
        "required": ["extension_type"],
    }
    return json.dumps(schema, ensure_ascii=False, sort_keys=True)


def _enum(description: str, values) -> dict:
    return {"type": "string", "enum": list(values), "description": description}


_DATE = {"type": "string", "format": "date"}
_COUNT = {"type": "integer", "minimum": 0}
_COUNTRY = {"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2 code."}
_STATUS = _enum("Where the claim stands, from its citations and links.", choices.ClaimStatus.values)
_DATE_PRECISION = _enum("How exactly the dates are known.", choices.DatePrecision.values)

EXTENSIONS = {
    SOURCE_EXTENSION_ID: {
        "name": "OSINT source",
        "description": "Reliability (NATO Admiralty scale), kind and country of a source of claims.",
        "schema": _json_schema(
            "OSINT source",
            {
                "reliability": _enum(
                    "NATO Admiralty reliability: A completely reliable … E unreliable, F cannot be judged.",
                    choices.Reliability.values,
                ),
                "kind": _enum("What kind of source this is.", choices.SourceKind.values),
                "country": _COUNTRY,
                "slug": {"type": "string", "description": "The source's stable short name in the API."},
            },
        ),
    },
    EVENT_EXTENSION_ID: {
        "name": "OSINT conflict event",
        "description": "Type, date interval, units and personnel figure of a conflict event.",
        "schema": _json_schema(
            "OSINT conflict event",
            {
                "type": _enum("What kind of event this is.", choices.EventType.values),
                "start_date": _DATE,
                "end_date": _DATE,
                "date_precision": _DATE_PRECISION,
                "date_text": {"type": "string", "description": "The date as the source worded it."},
                "expected": {"type": "boolean", "description": "Forecast by a source rather than reported."},
                "location_precision": _enum(
                    "How exactly the coordinates locate the place.", choices.LocationPrecision.values
                ),
                "personnel_low": _COUNT,
                "personnel_best": _COUNT,
                "personnel_high": _COUNT,
                "units": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "country": _COUNTRY,
                            "role": _enum("The part the unit played.", choices.UnitRole.values),
                        },
                    },
                },
                "status": _STATUS,
            },
        ),
    },
    CASUALTY_REPORT_EXTENSION_ID: {
        "name": "OSINT casualty claim",
        "description": "The figures of one claim about losses: range, kind, category, dates and credibility.",
        "schema": _json_schema(
            "OSINT casualty claim",
            {
                "low": _COUNT,
                "best": _COUNT,
                "high": _COUNT,
                "kind": _enum("Count, estimate, projection or denial.", choices.FigureKind.values),
                "category": _enum("What kind of losses.", choices.CasualtyCategory.values),
                "equipment_type": _enum(
                    "For losses of equipment: what kind of materiel.", choices.EquipmentType.values
                ),
                "equipment_name": {"type": "string", "description": "The system as the source names it."},
                "country": _COUNTRY,
                "as_of_date": _DATE,
                "period_start": _DATE,
                "horizon_date": _DATE,
                "date_precision": _DATE_PRECISION,
                "date_text": {"type": "string", "description": "The dates as the source worded them."},
                "credibility": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 6,
                    "description": "NATO Admiralty credibility: 1 confirmed by other sources … 6 cannot be judged.",
                },
                "status": _STATUS,
                "unit_name": {"type": "string", "description": "The unit that suffered the losses."},
            },
        ),
    },
    CITATION_EXTENSION_ID: {
        "name": "OSINT citation",
        "description": "Title and dates of the article or statement in which a source made, reported, "
        "confirmed or disputed a claim.",
        "schema": _json_schema(
            "OSINT citation",
            {
                "title": {"type": "string", "description": "Title of the article, statement or document."},
                "published_date": {**_DATE, "description": "When the source published it."},
                "accessed_date": {**_DATE, "description": "When it was last read at the URL."},
            },
        ),
    },
}


def _service_identity() -> dict:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": SERVICE_IDENTITY_ID,
        "created": FORMAT_DATE,
        "modified": FORMAT_DATE,
        "name": SERVICE_NAME,
        "description": "An open REST API for OSINT conflict-event data, where every figure is an attributed claim.",
        "identity_class": "system",
    }


def _extension_definition(extension_id: str) -> dict:
    return {
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": extension_id,
        "created_by_ref": SERVICE_IDENTITY_ID,
        "created": FORMAT_DATE,
        "modified": FORMAT_DATE,
        **EXTENSIONS[extension_id],
        "version": "1.0",
        "extension_types": ["property-extension"],
    }


def _source_identity(source) -> dict:
    identity_class = {choices.SourceKind.OFFICIAL: "individual", choices.SourceKind.OTHER: "unknown"}
    return {
        **_common("identity", f"source:{source.pk}", source),
        **_present(name=source.name, description=source.description),
        "identity_class": identity_class.get(source.kind, "organization"),
        **_present(
            external_references=[{"source_name": source.name, "url": source.homepage}] if source.homepage else []
        ),
        **_extension(
            SOURCE_EXTENSION_ID,
            reliability=source.reliability,
            kind=source.kind,
            country=_country(source.country),
            slug=source.slug,
        ),
    }


def _location(event: Event) -> dict | None:
    has_coordinates = event.latitude is not None and event.longitude is not None
    if not has_coordinates and not event.country:
        return None
    location = _common("location", f"event-location:{event.pk}", event)
    location.update(_present(name=event.place_name, country=_country(event.country), administrative_area=event.admin1))
    if has_coordinates:
        location.update(
            latitude=event.latitude,
            longitude=event.longitude,
            **_present(precision=LOCATION_PRECISION_METRES.get(event.location_precision)),
        )
    return location


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _source_refs(citations: list[Citation]) -> list[str]:
    return _unique(stix_id("identity", f"source:{citation.source_id}") for citation in citations)


def _report(event: Event, citations: list[Citation], location: dict | None, note_ids: list[str]) -> dict:
    published = [citation.published_date for citation in citations if citation.published_date]
    object_refs = ([location["id"]] if location else []) + _source_refs(citations) + note_ids
    units = [
        _present(name=part.unit.name, country=_country(part.unit.country), role=part.role)
        for part in event.event_units.all()
    ]
    return {
        **_common("report", f"event:{event.pk}", event),
        **_present(name=event.title, description=event.description),
        "report_types": ["conflict-event"],
        "published": timestamp(min(published)) if published else timestamp(event.created_at),
        "object_refs": object_refs or [SERVICE_IDENTITY_ID],
        **_extension(
            EVENT_EXTENSION_ID,
            type=event.type,
            start_date=event.start_date.isoformat(),
            end_date=event.end_date.isoformat(),
            date_precision=event.date_precision,
            date_text=event.date_text,
            expected=event.expected,
            location_precision=event.location_precision,
            personnel_low=event.personnel_low,
            personnel_best=event.personnel_best,
            personnel_high=event.personnel_high,
            units=units,
            status=getattr(event, "claim_status", None),
        ),
    }


def _summary(report: CasualtyReport) -> str:
    """``Casualties (killed and wounded): 4,000 (KP), count as of 2025-01-09``."""
    summary = f"{report}, {report.get_kind_display().lower()}"
    if report.horizon_date:
        summary += f" by {report.horizon_date.isoformat()}"
    if report.as_of_date:
        summary += f" as of {report.as_of_date.isoformat()}"
    return summary


def _generated_content(report: CasualtyReport, claimants: list[str]) -> str:
    figure = figure_range(report.low, report.best, report.high)
    what = report.get_category_display().lower()
    subject = f"{what} of {report.unit}" if report.unit_id else what
    sentence = (
        f"{report.get_kind_display()} of {subject}: {figure}" if figure else f"{report.get_kind_display()}: {subject}"
    )
    if claimants:
        sentence += f", claimed by {', '.join(claimants)}"
    return sentence + "."


def _note(report: CasualtyReport, citations: list[Citation], event_report_id: str | None) -> dict:
    claimants = _unique(
        citation.source.name for citation in citations if citation.role == choices.CitationRole.CLAIMED_BY
    )
    object_refs = ([event_report_id] if event_report_id else []) + _source_refs(citations)
    return {
        **_common("note", f"casualty-report:{report.pk}", report),
        "abstract": _summary(report),
        "content": report.description or _generated_content(report, claimants),
        **_present(authors=claimants, confidence=CREDIBILITY_CONFIDENCE.get(report.credibility)),
        "object_refs": object_refs or [SERVICE_IDENTITY_ID],
        **_extension(
            CASUALTY_REPORT_EXTENSION_ID,
            low=report.low,
            best=report.best,
            high=report.high,
            kind=report.kind,
            category=report.category,
            equipment_type=report.equipment_type,
            equipment_name=report.equipment_name,
            country=_country(report.country),
            as_of_date=report.as_of_date and report.as_of_date.isoformat(),
            period_start=report.period_start and report.period_start.isoformat(),
            horizon_date=report.horizon_date and report.horizon_date.isoformat(),
            date_precision=report.date_precision,
            date_text=report.date_text,
            credibility=report.credibility,
            status=getattr(report, "claim_status", None),
            unit_name=report.unit.name if report.unit_id else None,
        ),
    }


def _attribution(attribution) -> dict:
    """The quote, where the source said it (and an archived copy), and the citation's title and dates."""
    references = [
        _present(source_name=attribution.source.name, url=url, description=attribution.quote)
        for url in (attribution.url, attribution.archive_url, getattr(attribution, "evidence_url", ""))
        if url
    ]
    return {
        **_present(external_references=references),
        **_extension(
            CITATION_EXTENSION_ID,
            title=attribution.title,
            published_date=attribution.published_date and attribution.published_date.isoformat(),
            accessed_date=attribution.accessed_date and attribution.accessed_date.isoformat(),
        ),
    }


def _citation_object(citation: Citation, subject_id: str) -> dict:
    source_id = stix_id("identity", f"source:{citation.source_id}")
    if citation.role in CITATION_OPINIONS:
        return {
            **_common("opinion", f"citation:{citation.pk}", citation, created_by_ref=source_id),
            "opinion": CITATION_OPINIONS[citation.role],
            **_present(explanation=citation.quote, authors=[citation.source.name]),
            "object_refs": [subject_id],
            **_attribution(citation),
        }
    return {
        **_common("relationship", f"citation:{citation.pk}", citation),
        "relationship_type": CITATION_RELATIONSHIP_TYPES[citation.role],
        "source_ref": source_id,
        "target_ref": subject_id,
        **_present(description=citation.quote),
        **_attribution(citation),
    }


def _link_relationships(
    link_model, key: str, stix_type: str, ids: list[int], known_at: datetime.date | None
) -> list[dict]:
    """Links between two exported claims (known by ``known_at``, if given), in one query."""
    if not ids:
        return []
    links = known_by(
        link_model.objects.filter(from_claim_id__in=ids, to_claim_id__in=ids).select_related("source"), known_at
    )
    return [
        {
            **_common("relationship", f"{key}-link:{link.pk}", link),
            "relationship_type": link.relation,
            "source_ref": stix_id(stix_type, f"{key}:{link.from_claim_id}"),
            "target_ref": stix_id(stix_type, f"{key}:{link.to_claim_id}"),
            **_present(description=link.quote),
            **_attribution(link),
        }
        for link in links.order_by("pk")
    ]


def stix_bundle(
    *,
    events: Iterable[Event] = (),
    casualty_reports: Iterable[CasualtyReport] = (),
    known_at: datetime.date | None = None,
) -> dict:
    """A STIX 2.1 bundle of the given events and casualty claims, their sources and the links between them.

    Pass querysets from ``events.selectors`` so that citations, sources and units come prefetched;
    the mapping is in this module's docstring. Citations come as the querysets prefetched them;
    links are looked up here, so pass the same ``known_at`` as the querysets were built with
    (``as_known_at``) to leave out links published after that day.
    """
    events, casualty_reports = list(events), list(casualty_reports)
    event_ids = {event.pk for event in events}

    sources, locations, reports, notes, citation_objects = {}, [], [], [], []
    notes_by_event: dict[int, list[str]] = {}
    for report in casualty_reports:
        citations = list(report.citations.all())
        event_report_id = stix_id("report", f"event:{report.event_id}") if report.event_id in event_ids else None
        note = _note(report, citations, event_report_id)
        notes.append(note)
        if event_report_id:
            notes_by_event.setdefault(report.event_id, []).append(note["id"])
        for citation in citations:
            sources.setdefault(citation.source_id, citation.source)
            citation_objects.append(_citation_object(citation, note["id"]))

    for event in events:
        citations = list(event.citations.all())
        location = _location(event)
        if location:
            locations.append(location)
        event_report = _report(event, citations, location, notes_by_event.get(event.pk, []))
        reports.append(event_report)
        for citation in citations:
            sources.setdefault(citation.source_id, citation.source)
            citation_objects.append(_citation_object(citation, event_report["id"]))

    links = [
        *_link_relationships(EventLink, "event", "report", sorted(event_ids), known_at),
        *_link_relationships(
            CasualtyReportLink, "casualty-report", "note", sorted(report.pk for report in casualty_reports), known_at
        ),
    ]

    records = [
        *(_source_identity(sources[pk]) for pk in sorted(sources)),
        *locations,
        *reports,
        *notes,
        *citation_objects,
        *links,
    ]
    used_extensions = {extension_id for obj in records for extension_id in obj.get("extensions", ())}
    objects = [
        _service_identity(),
        *(_extension_definition(extension_id) for extension_id in EXTENSIONS if extension_id in used_extensions),
        *records,
    ]
    fingerprint = " ".join(f"{obj['id']}@{obj['modified']}" for obj in objects)
    return {"type": "bundle", "id": f"bundle--{uuid.uuid5(NAMESPACE, fingerprint)}", "objects": objects}
