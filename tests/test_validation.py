"""Bad input is a 400 naming the field; the database refuses what validation might miss."""

from http import HTTPStatus

import pytest
from django.db import IntegrityError, transaction

from events.models import CasualtyReport, Citation, Event, Unit

from .factories import make_event, make_report, make_source, make_unit

pytestmark = pytest.mark.django_db

REPORT = {"country": "KP", "category": "killed", "kind": "estimate"}
EVENT = {"title": "Strike", "type": "strike", "start_date": "2025-01-31"}


@pytest.mark.parametrize(
    "endpoint, body, field",
    [
        ("/api/casualty-reports/", {**REPORT, "low": 5000, "high": 4000}, "high"),
        ("/api/casualty-reports/", {**REPORT, "low": 5000, "best": 4000}, "low"),
        ("/api/casualty-reports/", {**REPORT, "best": 5000, "high": 4000}, "high"),
        ("/api/casualty-reports/", {**REPORT, "best": -1}, "best"),
        ("/api/casualty-reports/", REPORT, "best"),
        ("/api/casualty-reports/", {**REPORT, "best": 1, "kind": "rumour"}, "kind"),
        ("/api/casualty-reports/", {**REPORT, "best": 1, "credibility": 7}, "credibility"),
        ("/api/casualty-reports/", {**REPORT, "best": 1, "country": "XX"}, "country"),
        ("/api/casualty-reports/", {**REPORT, "best": 1, "as_of_date": "9 January"}, "as_of_date"),
        (
            "/api/casualty-reports/",
            {**REPORT, "best": 1, "as_of_date": "2025-01-09", "period_start": "2025-02-01"},
            "period_start",
        ),
        ("/api/casualty-reports/", {**REPORT, "best": 1, "unit": 999999}, "unit"),
        ("/api/events/", {**EVENT, "end_date": "2025-01-30"}, "end_date"),
        ("/api/events/", {**EVENT, "latitude": 91, "longitude": 0}, "latitude"),
        ("/api/events/", {**EVENT, "latitude": 0, "longitude": -181}, "longitude"),
        ("/api/events/", {**EVENT, "latitude": 51.7}, "longitude"),
        ("/api/events/", {**EVENT, "type": "bombing"}, "type"),
        ("/api/events/", {**EVENT, "personnel_low": 12000, "personnel_high": 10000}, "personnel_high"),
        ("/api/events/", {**EVENT, "citations": [{"role": "claimed_by"}]}, "citations"),
        ("/api/events/", {**EVENT, "citations": [{"source": 1, "role": "said_by"}]}, "citations"),
        (
            "/api/units/",
            {"name": "x", "country": "KP", "echelon": "brigade", "strength_low": 3, "strength_high": 2},
            "strength_high",
        ),
        ("/api/units/", {"name": "x", "country": "KP", "echelon": "legion"}, "echelon"),
        ("/api/units/", {"name": "x", "country": "KP", "echelon": "brigade", "aliases": "one"}, "aliases"),
        ("/api/sources/", {"name": "x", "slug": "x", "kind": "media", "reliability": "G"}, "reliability"),
        ("/api/sources/", {"name": "x", "slug": "not a slug", "kind": "media"}, "slug"),
        ("/api/sources/", {"name": "x", "slug": "x", "kind": "media", "homepage": "not a url"}, "homepage"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(curator_api, endpoint, body, field):
    make_source()  # so that citation source 1 may exist
    response = curator_api.post(endpoint, body, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json(), response.json()


def test_low_above_high_on_update_keeps_stored_figures(curator_api):
    report = make_report(low=10, best=20, high=30)
    response = curator_api.patch(f"/api/casualty-reports/{report.pk}/", {"low": 40}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "low" in response.json()
    report.refresh_from_db()
    assert (report.low, report.best, report.high) == (10, 20, 30)


def test_patch_of_start_date_past_end_date_is_rejected(curator_api):
    event = make_event()
    response = curator_api.patch(f"/api/events/{event.pk}/", {"start_date": "2030-01-01"}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "end_date" in response.json()


def test_unit_cannot_be_moved_under_its_own_descendant(curator_api):
    corps = make_unit()
    brigade = make_unit(parent=corps)
    response = curator_api.patch(f"/api/units/{corps.pk}/", {"parent": brigade.pk}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "parent" in response.json()
    corps.refresh_from_db()
    assert corps.parent is None


def test_duplicate_slug_is_a_400(curator_api):
    make_source(slug="nis")
    response = curator_api.post("/api/sources/", {"name": "NIS", "slug": "nis", "kind": "intelligence"}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "slug" in response.json()


def test_unit_reported_destroyed_needs_no_figure(curator_api):
    unit = make_unit()
    response = curator_api.post(
        "/api/casualty-reports/", {**REPORT, "category": "unspecified", "unit": unit.pk}, format="json"
    )
    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["best"] is None


def test_open_ended_figure(curator_api):
    response = curator_api.post("/api/casualty-reports/", {**REPORT, "low": 4000}, format="json")
    assert response.status_code == HTTPStatus.CREATED
    assert (response.json()["low"], response.json()["high"]) == (4000, None)


# The database constraints hold even for code that skips validation.


def refused(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_database_refuses_inverted_ranges():
    refused(lambda: CasualtyReport.objects.create(category="killed", kind="count", low=5, high=4))
    refused(lambda: CasualtyReport.objects.create(category="killed", kind="count", best=5, high=4))
    refused(lambda: Unit.objects.create(name="x", country="KP", echelon="brigade", strength_low=5, strength_best=4))
    refused(lambda: Event.objects.create(title="x", type="combat", start_date="2025-02-01", end_date="2025-01-01"))


def test_database_refuses_impossible_values():
    refused(lambda: CasualtyReport.objects.create(category="killed", kind="count"))
    refused(lambda: CasualtyReport.objects.create(category="killed", kind="count", best=-3))
    refused(lambda: CasualtyReport.objects.create(category="killed", kind="count", best=1, credibility=0))
    refused(
        lambda: Event.objects.create(
            title="x", type="combat", start_date="2025-01-01", end_date="2025-01-01", latitude=95, longitude=0
        )
    )
    refused(
        lambda: Event.objects.create(
            title="x", type="combat", start_date="2025-01-01", end_date="2025-01-01", latitude=0, longitude=190
        )
    )
    refused(
        lambda: Event.objects.create(
            title="x", type="combat", start_date="2025-01-01", end_date="2025-01-01", latitude=0
        )
    )


def test_database_refuses_a_citation_of_nothing_or_of_two_things():
    source = make_source()
    refused(lambda: Citation.objects.create(source=source, role="claimed_by"))
    refused(
        lambda: Citation.objects.create(
            source=source, role="claimed_by", event=make_event(), casualty_report=make_report()
        )
    )


def test_database_refuses_a_unit_as_its_own_parent():
    unit = make_unit()
    unit.parent_id = unit.pk
    refused(unit.save)


def test_malformed_json_is_a_400(curator_api):
    response = curator_api.post("/api/sources/", "{not json", content_type="application/json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "detail" in response.json()


UNIT = {"name": "x", "country": "KP", "echelon": "brigade"}


@pytest.mark.parametrize(
    "endpoint, body, field, problem",
    [
        ("/api/units/", {**UNIT, "country": {}}, "country", "Expected a string."),
        ("/api/units/", {**UNIT, "name": 0}, "name", "Expected a string."),
        ("/api/units/", {**UNIT, "strength_best": "3000"}, "strength_best", "Expected a whole number."),
        ("/api/units/", {**UNIT, "strength_best": True}, "strength_best", "Expected a whole number."),
        ("/api/units/", {**UNIT, "parent": "1"}, "parent", "Expected a whole number."),
        ("/api/units/", {**UNIT, "aliases": ["Storm", 3]}, "aliases", {"1": ["Expected a string."]}),
        ("/api/events/", {**EVENT, "expected": "yes"}, "expected", "Expected true or false."),
        ("/api/events/", {**EVENT, "latitude": "51.7", "longitude": 35.2}, "latitude", "Expected a number."),
        ("/api/events/", {**EVENT, "citations": {"source": 1}}, "citations", "Expected a list."),
        (
            "/api/casualty-reports/",
            {**REPORT, "best": 1, "credibility": "3"},
            "credibility",
            "Expected a whole number.",
        ),
    ],
)
def test_a_json_value_of_the_wrong_type_is_a_400_not_a_guess(curator_api, endpoint, body, field, problem):
    make_unit()
    response = curator_api.post(endpoint, body, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    errors = response.json()[field]
    assert (errors if isinstance(problem, dict) else errors[0]) == problem
    assert not Unit.objects.filter(name="x").exists()


def test_whole_numbers_written_as_floats_are_whole_numbers(curator_api):
    response = curator_api.post("/api/units/", {**UNIT, "strength_best": 3000.0}, format="json")
    assert response.status_code == HTTPStatus.CREATED, response.json()
    assert response.json()["strength_best"] == 3000


def test_a_new_inline_item_in_a_patch_needs_its_required_fields(curator_api):
    event = make_event(units=[make_unit()])
    response = curator_api.patch(
        f"/api/events/{event.pk}/", {"units": [{"role": "participant"}], "citations": [{}]}, format="json"
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "units": {"0": {"unit": ["This field is required."]}},
        "citations": {"0": {"source": ["This field is required."], "role": ["This field is required."]}},
    }
    assert event.event_units.count() == 1


def test_an_inline_item_of_another_record_is_a_400(curator_api):
    event, other = make_event(units=[make_unit()]), make_event(units=[make_unit()])
    link = other.event_units.get()
    response = curator_api.patch(
        f"/api/events/{event.pk}/", {"units": [{"id": link.pk, "role": "participant"}]}, format="json"
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "not one of this record's" in str(response.json()["units"])


def test_an_inline_update_may_leave_out_what_it_keeps(curator_api):
    unit = make_unit()
    event = make_event(units=[unit])
    link = event.event_units.get()
    response = curator_api.patch(
        f"/api/events/{event.pk}/", {"units": [{"id": link.pk, "role": "target"}]}, format="json"
    )
    assert response.status_code == HTTPStatus.OK, response.json()
    assert [(u["unit"]["id"], u["role"]) for u in response.json()["units"]] == [(unit.pk, "target")]
