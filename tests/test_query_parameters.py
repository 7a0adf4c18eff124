"""Query parameters are never read silently wrong: lists as generated clients send them, one value
where one is meant, page sizes inside their documented range, cursors on every feed."""

import datetime
from http import HTTPStatus

import pytest

from events.models import Source

from .factories import make_event, make_report, make_source, make_unit

pytestmark = pytest.mark.django_db


def ids(response):
    assert response.status_code == HTTPStatus.OK, response.json()
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def typed_events():
    strike = make_event(type="strike")
    deployment = make_event(type="deployment")
    make_event(type="combat")
    return strike, deployment


@pytest.mark.parametrize(
    "query",
    [
        "type__in=strike&type__in=deployment",  # repeated, as most generated clients send an array
        "type__in=strike,deployment",  # comma-separated, the schema's canonical form
        "type__in=strike,deployment&type__in=deployment",  # both at once
    ],
)
def test_a_list_filter_takes_repeated_and_comma_separated_values_alike(api, typed_events, query):
    strike, deployment = typed_events
    assert ids(api.get(f"/api/events/?{query}")) == {strike.pk, deployment.pk}


def test_ordering_is_a_list_too(api):
    early = make_event(start_date=datetime.date(2025, 1, 1), title="b")
    late_b = make_event(start_date=datetime.date(2025, 2, 1), title="b")
    late_a = make_event(start_date=datetime.date(2025, 2, 1), title="a")
    expected = [late_a.pk, late_b.pk, early.pk]
    for query in ("ordering=-start_date,title", "ordering=-start_date&ordering=title"):
        assert [row["id"] for row in api.get(f"/api/events/?{query}").json()["results"]] == expected


def test_every_value_of_a_repeated_list_filter_is_checked(api, typed_events):
    response = api.get("/api/events/?type__in=strike&type__in=bombing")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "bombing" in str(response.json()["type__in"])


def test_the_schema_says_lists_are_comma_separated(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/events/"]["get"]["parameters"]}
    assert parameters["type__in"]["style"] == "form"
    assert parameters["type__in"]["explode"] is False
    assert "repeated" in parameters["type__in"]["description"]


@pytest.mark.parametrize(
    "url, name",
    [
        ("/api/events/?country=UA&country=RU", "country"),
        ("/api/events/?limit=10&limit=20", "limit"),
        ("/api/casualty-reports/?best__gte=10&best__gte=1000", "best__gte"),
        ("/api/events/1/?format=json&format=csv", "format"),
        ("/api/deletions/?since=2025-01-01T00:00:00Z&since=2026-01-01T00:00:00Z", "since"),
        ("/api/events/?cursor=&cursor=", "cursor"),
    ],
)
def test_a_single_valued_parameter_sent_twice_is_a_400_naming_it(api, url, name):
    make_event()
    response = api.get(url)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()) == [name]
    assert "2 times" in response.json()[name][0]


@pytest.mark.parametrize(
    "url, name",
    [
        # Page sizes and offsets outside their documented range.
        ("/api/sources/?limit=0", "limit"),
        ("/api/sources/?limit=1001", "limit"),
        ("/api/sources/?limit=-1", "limit"),
        ("/api/sources/?limit=", "limit"),
        ("/api/sources/?offset=-1", "offset"),
        ("/api/sources/?offset=2147483648", "offset"),
        # Empty dates, numbers, choices, ids, boxes and formats: no value at all.
        ("/api/events/?modified_since=", "modified_since"),
        ("/api/events/?country=", "country"),
        ("/api/events/?type__in=", "type__in"),
        ("/api/events/?start_date__gte=", "start_date__gte"),
        ("/api/events/?bbox=", "bbox"),
        ("/api/events/?unit=", "unit"),
        ("/api/events/?has_coordinates=", "has_coordinates"),
        ("/api/events/?format=", "format"),
        # Figures no column holds, and ids below 1.
        ("/api/casualty-reports/?low=-1", "low"),
        ("/api/casualty-reports/?best__gte=-28409", "best__gte"),
        ("/api/casualty-reports/?high__lte=99999999999999999999", "high__lte"),
        ("/api/casualty-reports/?best=0.5", "best"),
        ("/api/event-links/?claim=0", "claim"),
        ("/api/event-links/?claim=333273736735510691840", "claim"),
    ],
)
def test_a_value_outside_what_a_parameter_takes_is_a_400_naming_it(api, url, name):
    make_event(), make_report()
    response = api.get(url)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()) == [name]


def test_an_empty_text_parameter_filters_nothing(api):
    event = make_event()
    response = api.get("/api/events/?q=&admin1__icontains=")
    assert response.status_code == HTTPStatus.OK
    assert [row["id"] for row in response.json()["results"]] == [event.pk]


def test_the_browsable_apis_filter_form_may_leave_fields_empty(api):
    event = make_event()
    response = api.get("/api/events/?country=&type__in=&start_date__gte=&q=", HTTP_ACCEPT="text/html")
    assert response.status_code == HTTPStatus.OK
    assert f"/api/events/{event.pk}/" in response.content.decode()


def test_the_schema_gives_the_range_that_the_server_enforces(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/sources/"]["get"]["parameters"]}
    assert (parameters["limit"]["minimum"], parameters["limit"]["maximum"]) == (1, 1000)
    assert parameters["offset"]["minimum"] == 0
    assert ids(api.get("/api/sources/?limit=1")) == set()  # the bounds themselves are accepted
    assert api.get("/api/sources/?limit=1000").status_code == HTTPStatus.OK


def test_query_parameters_of_a_history_are_not_ignored(api):
    source = make_source()
    response = api.get(f"/api/sources/{source.pk}/history/?limit=5")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "limit" in response.json()


def test_the_deletions_feed_scans_by_cursor_across_lists(curator_api):
    sources = [make_source() for _ in range(3)]
    reports = [make_report() for _ in range(2)]
    for record in [*sources, *reports]:
        path = "sources" if isinstance(record, Source) else "casualty-reports"
        assert curator_api.delete(f"/api/{path}/{record.pk}/").status_code == HTTPStatus.NO_CONTENT
    everything = curator_api.get("/api/deletions/").json()["results"]
    assert len(everything) == 5

    seen, url = [], "/api/deletions/?cursor=&limit=2"
    while url:
        page = curator_api.get(url)
        assert page.status_code == HTTPStatus.OK, page.json()
        body = page.json()
        assert body["count"] is None and body["previous"] is None
        seen += body["results"]
        url = body["next"]
    assert seen == everything  # same rows, same order, none twice


def test_the_deletions_feed_takes_lists_of_resources_both_ways(curator_api):
    source, report = make_source(), make_report()
    curator_api.delete(f"/api/sources/{source.pk}/")
    curator_api.delete(f"/api/casualty-reports/{report.pk}/")
    for query in ("resource=sources,casualty-reports", "resource=sources&resource=casualty-reports"):
        rows = curator_api.get(f"/api/deletions/?{query}").json()["results"]
        assert {row["resource"] for row in rows} == {"sources", "casualty-reports"}
    rows = curator_api.get("/api/deletions/?resource=sources").json()["results"]
    assert [row["resource"] for row in rows] == ["sources"]


@pytest.mark.parametrize("cursor", ["bm90LWEta2V5", "!!", "MTIz"])
def test_a_cursor_no_page_gave_is_a_400(api, cursor):
    response = api.get(f"/api/deletions/?cursor={cursor}")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "cursor" in response.json()


def test_a_record_cursor_still_pages_by_id(api):
    first, second = make_source(), make_source()
    page = api.get("/api/sources/?cursor=&limit=1").json()
    assert [row["id"] for row in page["results"]] == [first.pk]
    assert [row["id"] for row in api.get(page["next"]).json()["results"]] == [second.pk]


def test_deletions_since_a_time_still_filter(curator_api):
    source = make_source()
    curator_api.delete(f"/api/sources/{source.pk}/")
    later = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert curator_api.get(f"/api/deletions/?since={later}").json()["results"] == []


@pytest.mark.parametrize("export", ["csv", "geojson"])
@pytest.mark.parametrize("path", ["/api/events/", "/api/events/{event}/", "/api/units/{unit}/track/"])
def test_a_method_a_route_does_not_take_is_a_405_whatever_the_format(api, export, path):
    path = path.format(event=make_event().pk, unit=make_unit().pk)
    response = api.generic("TRACE", f"{path}?format={export}")
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED, response.content
