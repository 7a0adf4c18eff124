"""The STIX 2.1 export: valid for STIX tools, faithful to the claims, stable across exports."""

import datetime
import json
from collections import Counter

import pytest
import stix2
from django.core.management import call_command
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from stix2validator import ValidationOptions, validate_parsed_json

from events import choices, selectors
from events.models import CasualtyReport, CasualtyReportLink, Citation, Event, EventLink, Source
from events.stix import (
    CASUALTY_REPORT_EXTENSION_ID,
    CITATION_EXTENSION_ID,
    EVENT_EXTENSION_ID,
    SERVICE_IDENTITY_ID,
    SOURCE_EXTENSION_ID,
    stix_bundle,
    stix_id,
)

from .factories import make_event, make_report, make_source

pytestmark = pytest.mark.django_db

# Strict validation, less four "SHOULD" checks we depart from on purpose: ids are UUIDv5 so that
# re-exports keep them (the spec suggests v4); "claims"/"reports" relationships and the
# "conflict-event" report type are open-vocabulary values the spec's lists do not have; and
# the service links to articles without fetching them, so it has no hash of what a URL serves.
VALIDATION = dict(
    version="2.1",
    strict=True,
    strict_types=True,
    strict_properties=True,
    enforce_refs=True,
    disabled="uuid-check,relationship-types,report-types,extref-hashes",
    silent=True,
)


@pytest.fixture
def seed(db):
    call_command("loaddata", "seed", verbosity=0)


def export(events=None, casualty_reports=None):
    """A bundle of the given querysets, all events and reports by default, checked by every validator."""
    bundle = stix_bundle(
        events=selectors.event_list() if events is None else events,
        casualty_reports=selectors.casualty_report_list() if casualty_reports is None else casualty_reports,
    )
    assert_valid(bundle)
    return bundle


def assert_valid(bundle):
    text = json.dumps(bundle)
    stix2.parse(text, allow_custom=False)
    result = validate_parsed_json(json.loads(text), ValidationOptions(**VALIDATION))
    assert result.is_valid, [str(error) for error in result.errors]
    # enforce_refs checks relationships only: every other reference must resolve in the bundle too.
    ids = [obj["id"] for obj in bundle["objects"]]
    assert len(ids) == len(set(ids))
    for obj in bundle["objects"]:
        for name, value in obj.items():
            refs = value if name.endswith("_refs") else [value] if name.endswith("_ref") else []
            assert set(refs) <= set(ids), (obj["id"], name)
        assert set(obj.get("extensions", {})) <= set(ids), obj["id"]


def by_id(bundle):
    return {obj["id"]: obj for obj in bundle["objects"]}


def of_type(bundle, stix_type):
    return [obj for obj in bundle["objects"] if obj["type"] == stix_type]


def note_of(bundle, report):
    return by_id(bundle)[stix_id("note", f"casualty-report:{report.pk}")]


def report_of(bundle, event):
    return by_id(bundle)[stix_id("report", f"event:{event.pk}")]


def test_seed_bundle_has_one_object_per_record(seed):
    bundle = export()

    roles = choices.CitationRole
    located = Event.objects.filter(Q(latitude__isnull=False) | ~Q(country=""))
    used_extensions = {ext for obj in bundle["objects"] for ext in obj.get("extensions", {})}
    expected = {
        # The cited sources and this service.
        "identity": Source.objects.filter(citations__isnull=False).distinct().count() + 1,
        "location": located.count(),
        "report": Event.objects.count(),
        "note": CasualtyReport.objects.count(),
        "opinion": Citation.objects.filter(role__in=[roles.CONFIRMED_BY, roles.DISPUTED_BY]).count(),
        "relationship": Citation.objects.filter(role__in=[roles.CLAIMED_BY, roles.REPORTED_BY]).count()
        + CasualtyReportLink.objects.count()
        + EventLink.objects.count(),
        "extension-definition": len(used_extensions),
    }
    assert Counter(obj["type"] for obj in bundle["objects"]) == expected
    assert {obj["id"] for obj in of_type(bundle, "extension-definition")} == used_extensions
    assert all(obj["spec_version"] == "2.1" for obj in bundle["objects"])


def test_zelenskyys_4000_is_in_the_extension_of_his_ramstein_note(seed):
    bundle = export()
    ramstein = CasualtyReport.objects.get(description__contains="Ramstein")

    note = note_of(bundle, ramstein)
    figures = note["extensions"][CASUALTY_REPORT_EXTENSION_ID]
    assert (figures["best"], figures["kind"], figures["category"], figures["country"]) == (
        4000,
        "count",
        "casualties",
        "KP",
    )
    assert figures["as_of_date"] == "2025-01-09"
    assert "low" not in figures and "high" not in figures
    assert note["authors"] == ["Volodymyr Zelenskyy"]
    assert note["confidence"] == 50  # credibility 3, possibly true
    others = [obj for obj in of_type(bundle, "note") if obj["id"] != note["id"]]
    assert all(other["extensions"][CASUALTY_REPORT_EXTENSION_ID].get("best") != 4000 for other in others)


def test_nis_confirmation_of_the_capture_is_an_agreeing_opinion(seed):
    bundle = export()
    nis = stix_id("identity", f"source:{Source.objects.get(slug='nis').pk}")
    capture = Event.objects.get(type=choices.EventType.CAPTURE)
    captured = CasualtyReport.objects.get(event=capture, category=choices.CasualtyCategory.CAPTURED)

    opinions = [obj for obj in of_type(bundle, "opinion") if obj["created_by_ref"] == nis]
    on_capture = [obj for obj in opinions if obj["object_refs"] == [report_of(bundle, capture)["id"]]]
    assert len(on_capture) == 1
    assert on_capture[0]["opinion"] == "agree"
    assert "confirmed this capture" in on_capture[0]["explanation"]
    assert [obj["opinion"] for obj in opinions if obj["object_refs"] == [note_of(bundle, captured)["id"]]] == ["agree"]
    assert report_of(bundle, capture)["extensions"][EVENT_EXTENSION_ID]["status"] == "confirmed"


def test_claims_and_reports_are_relationships_from_the_source(seed):
    bundle = export()
    ramstein = CasualtyReport.objects.get(description__contains="Ramstein")
    zelenskyy = by_id(bundle)[stix_id("identity", f"source:{Source.objects.get(slug='zelenskyy').pk}")]
    claims = [
        obj
        for obj in of_type(bundle, "relationship")
        if obj["target_ref"] == note_of(bundle, ramstein)["id"] and obj["relationship_type"] == "claims"
    ]
    assert [obj["source_ref"] for obj in claims] == [zelenskyy["id"]]
    assert "4,000 troops" in claims[0]["description"]
    assert zelenskyy["identity_class"] == "individual"


def test_sources_carry_their_reliability(seed):
    bundle = export()
    nis = by_id(bundle)[stix_id("identity", f"source:{Source.objects.get(slug='nis').pk}")]
    unnamed = by_id(bundle)[stix_id("identity", f"source:{Source.objects.get(slug='unnamed-sources').pk}")]

    assert (nis["name"], nis["identity_class"]) == ("National Intelligence Service of South Korea", "organization")
    assert nis["extensions"][SOURCE_EXTENSION_ID] == {
        "extension_type": "property-extension",
        "reliability": "B",
        "kind": "intelligence",
        "country": "KR",
        "slug": "nis",
    }
    assert unnamed["identity_class"] == "unknown"
    assert unnamed["extensions"][SOURCE_EXTENSION_ID]["reliability"] == "F"
    assert "country" not in unnamed["extensions"][SOURCE_EXTENSION_ID]


def test_citation_keeps_its_url_archive_title_and_dates():
    source = make_source(name="Daily Paper", homepage="https://paper.example/")
    report = make_report(citations=[(make_source(), "disputed_by")])
    Citation.objects.create(
        casualty_report=report,
        source=source,
        role="reported_by",
        quote="Officials said 300 were killed.",
        url="https://paper.example/a",
        archive_url="https://archive.example/a",
        title="Heavy losses",
        published_date="2025-01-20",
    )

    bundle = export()

    reported = next(obj for obj in of_type(bundle, "relationship") if obj["relationship_type"] == "reports")
    assert reported["source_ref"] == stix_id("identity", f"source:{source.pk}")
    assert reported["external_references"] == [
        {"source_name": "Daily Paper", "url": url, "description": "Officials said 300 were killed."}
        for url in ("https://paper.example/a", "https://archive.example/a")
    ]
    assert reported["extensions"][CITATION_EXTENSION_ID] == {
        "extension_type": "property-extension",
        "title": "Heavy losses",
        "published_date": "2025-01-20",
    }
    assert [obj["opinion"] for obj in of_type(bundle, "opinion")] == ["disagree"]
    assert by_id(bundle)[reported["source_ref"]]["external_references"] == [
        {"source_name": "Daily Paper", "url": "https://paper.example/"}
    ]
    assert note_of(bundle, report)["extensions"][CASUALTY_REPORT_EXTENSION_ID]["status"] == "disputed"


def test_ids_do_not_change_between_releases():
    """Consumers merge exports by id: the namespace and the extension ids are part of the format."""
    assert stix_id("note", "casualty-report:1") == "note--f3d4d954-497e-5147-8685-636437422287"
    assert SOURCE_EXTENSION_ID == "extension-definition--38656d72-41e5-5812-b82f-10bd90b23e64"
    assert EVENT_EXTENSION_ID == "extension-definition--bc2819c5-e7e1-55a4-9abe-14bfb37a8d46"
    assert CASUALTY_REPORT_EXTENSION_ID == "extension-definition--39cd4710-9779-5358-a612-36f000aeb8f5"
    assert CITATION_EXTENSION_ID == "extension-definition--c049ee03-2aa0-5f92-bd5b-0799c76dbefc"


def test_ids_are_stable_across_exports(seed):
    first, second = export(), export()
    assert first == second

    capture = Event.objects.get(type=choices.EventType.CAPTURE)
    alone = export(events=selectors.event_list().filter(pk=capture.pk), casualty_reports=[])
    assert report_of(alone, capture)["id"] in by_id(first)
    assert by_id(alone)[report_of(alone, capture)["id"]]["created"] == report_of(first, capture)["created"]


@pytest.mark.parametrize(
    ("make_claim", "link_model", "queryset", "stix_type", "key"),
    [
        (make_report, CasualtyReportLink, selectors.casualty_report_list, "note", "casualty-report"),
        (make_event, EventLink, selectors.event_list, "report", "event"),
    ],
)
def test_supersedes_link_is_a_relationship_between_the_two_claims(make_claim, link_model, queryset, stix_type, key):
    source = make_source(name="Ministry")
    old, new, unexported = make_claim(), make_claim(), make_claim()
    link_model.objects.create(
        from_claim=new,
        to_claim=old,
        relation="supersedes",
        source=source,
        quote="Revised figures.",
        url="https://e.x/1",
    )
    link_model.objects.create(from_claim=unexported, to_claim=old, relation="disputes", source=source)
    claims = queryset().exclude(pk=unexported.pk)

    bundle = export(**{"casualty_reports" if stix_type == "note" else "events": claims})

    links = [obj for obj in of_type(bundle, "relationship") if obj["relationship_type"] in choices.LinkRelation.values]
    assert len(links) == 1
    assert links[0]["relationship_type"] == "supersedes"
    assert links[0]["source_ref"] == stix_id(stix_type, f"{key}:{new.pk}")
    assert links[0]["target_ref"] == stix_id(stix_type, f"{key}:{old.pk}")
    assert links[0]["description"] == "Revised figures."
    assert links[0]["external_references"] == [
        {"source_name": "Ministry", "url": "https://e.x/1", "description": "Revised figures."}
    ]
    superseded = by_id(bundle)[stix_id(stix_type, f"{key}:{old.pk}")]
    assert next(iter(superseded["extensions"].values()))["status"] == "superseded"


def test_known_at_leaves_out_links_published_later():
    source = make_source()
    old, new = make_report(), make_report()
    for report in (old, new):
        Citation.objects.create(casualty_report=report, source=source, role="claimed_by", published_date="2025-01-01")
    CasualtyReportLink.objects.create(
        from_claim=new, to_claim=old, relation="retracts", source=source, published_date="2025-03-01"
    )

    def export_known_at(known_at):
        reports = selectors.as_known_at(selectors.casualty_report_list(), known_at=known_at)
        bundle = stix_bundle(casualty_reports=reports, known_at=known_at)
        assert_valid(bundle)
        return bundle

    before, after = export_known_at(datetime.date(2025, 2, 28)), export_known_at(datetime.date(2025, 3, 1))
    assert [obj["relationship_type"] for obj in of_type(before, "relationship")] == ["claims", "claims"]
    assert [obj["relationship_type"] for obj in of_type(after, "relationship")] == ["claims", "claims", "retracts"]
    assert note_of(before, old)["extensions"][CASUALTY_REPORT_EXTENSION_ID]["status"] == "claimed"
    assert note_of(after, old)["extensions"][CASUALTY_REPORT_EXTENSION_ID]["status"] == "retracted"


def test_event_without_coordinates_gets_a_country_only_location(seed):
    bundle = export()
    arrival = Event.objects.get(latitude__isnull=True, start_date="2024-10-01")

    location = by_id(bundle)[report_of(bundle, arrival)["object_refs"][0]]
    assert location["type"] == "location"
    assert (location["country"], location["name"]) == ("RU", "Russia")
    assert "latitude" not in location and "longitude" not in location


def test_event_with_coordinates_gets_them_and_its_region():
    event = make_event(
        latitude=51.7, longitude=36.2, admin1="Kursk Oblast", place_name="Sudzha", location_precision="near"
    )
    location = of_type(export(), "location")[0]
    assert location["id"] == stix_id("location", f"event-location:{event.pk}")
    assert (location["latitude"], location["longitude"], location["precision"]) == (51.7, 36.2, 25000.0)
    assert (location["administrative_area"], location["country"]) == ("Kursk Oblast", "RU")


def test_bare_claims_still_make_valid_objects():
    """No place, no citations, no description: STIX's required properties are still filled."""
    event = make_event(country="")
    report = make_report(description="", best=None, low=300, credibility=choices.Credibility.CANNOT_BE_JUDGED)

    bundle = export()

    assert of_type(bundle, "location") == []
    assert report_of(bundle, event)["object_refs"] == [SERVICE_IDENTITY_ID]
    note = note_of(bundle, report)
    assert note["object_refs"] == [SERVICE_IDENTITY_ID]
    assert note["content"] == "Estimate of killed: ≥ 300."
    assert "confidence" not in note and "authors" not in note


def test_empty_export_is_a_valid_bundle():
    bundle = export()
    assert [obj["type"] for obj in bundle["objects"]] == ["identity"]


def queries_for_export():
    with CaptureQueriesContext(connection) as captured:
        stix_bundle(events=selectors.event_list(), casualty_reports=selectors.casualty_report_list())
    return len(captured)


def test_query_count_is_independent_of_the_number_of_rows():
    source = make_source()
    first = make_report(event=make_event(citations=[(source, "claimed_by")]), citations=[(source, "claimed_by")])
    one = queries_for_export()
    for _ in range(10):
        report = make_report(
            event=make_event(citations=[(make_source(), "reported_by")]), citations=[(source, "confirmed_by")]
        )
        CasualtyReportLink.objects.create(from_claim=report, to_claim=first, relation="revises", source=source)
    assert queries_for_export() == one
