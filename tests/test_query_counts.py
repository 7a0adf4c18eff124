"""A list page costs the same number of queries whatever its size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.models import CasualtyReportLink, EventLink

from .factories import make_event, make_position, make_report, make_source, make_unit

LINKS = {"/api/casualty-report-links/": CasualtyReportLink, "/api/event-links/": EventLink}
make_claim = {"/api/casualty-report-links/": make_report, "/api/event-links/": make_event}

pytestmark = pytest.mark.django_db


def make_rows(endpoint, count):
    source = make_source()
    parent = make_unit()
    for _ in range(count):
        if endpoint == "/api/sources/":
            make_report(citations=[(make_source(), "claimed_by")])
        elif endpoint == "/api/units/":
            make_unit(parent=parent)
        elif endpoint in LINKS:
            LINKS[endpoint].objects.create(
                from_claim=make_claim[endpoint](), to_claim=make_claim[endpoint](), relation="confirms", source=source
            )
        elif endpoint == "/api/unit-positions/":
            make_position(unit=make_unit(parent=parent), source=source)
        elif endpoint == "/api/events/":
            make_event(
                units=[make_unit(parent=parent)], citations=[(source, "claimed_by"), (make_source(), "reported_by")]
            )
        else:
            make_report(unit=make_unit(parent=parent), event=make_event(), citations=[(source, "claimed_by")])


def queries_for(api, url):
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200
    return len(captured), response.json()["count"]


# (endpoint, inline lists): events show their units and citations, reports their citations.
INLINE_LISTS = {
    "/api/sources/": 0,
    "/api/units/": 0,
    "/api/events/": 2,
    "/api/casualty-reports/": 1,
    "/api/casualty-report-links/": 0,
    "/api/event-links/": 0,
    "/api/unit-positions/": 0,
}
# Queries per page: the page's ids, its records; on SQLite one more per inline list, which on
# PostgreSQL come inside the records' JSON (events/api/pgjson.py).
EXPECTED = {
    endpoint: 2 + (0 if connection.vendor == "postgresql" else lists) for endpoint, lists in INLINE_LISTS.items()
}


@pytest.mark.parametrize("endpoint", EXPECTED)
def test_list_query_count_is_independent_of_page_size(api, endpoint):
    # More rows than the page shows, so that the list has to count them.
    make_rows(endpoint, 2)
    one, rows = queries_for(api, f"{endpoint}?limit=1")
    assert rows >= 2
    make_rows(endpoint, 50)
    fifty, rows = queries_for(api, f"{endpoint}?limit=50")
    assert rows >= 51
    # An unfiltered list reads the table's row estimate, then counts a table this small.
    assert one == fifty == EXPECTED[endpoint] + 2


@pytest.mark.parametrize("endpoint", EXPECTED)
def test_a_filtered_page_counts_the_list_in_its_own_query(api, endpoint):
    make_rows(endpoint, 3)
    queries, rows = queries_for(api, f"{endpoint}?limit=1&modified_since=2000-01-01T00:00:00Z")
    assert rows >= 3
    assert queries == EXPECTED[endpoint]


@pytest.mark.parametrize("endpoint", EXPECTED)
def test_a_page_that_ends_the_list_needs_no_count(api, endpoint):
    make_rows(endpoint, 3)
    queries, rows = queries_for(api, f"{endpoint}?limit=1000")
    assert queries == EXPECTED[endpoint]
    page = api.get(f"{endpoint}?limit=1000").json()
    assert (page["count"], page["count_exact"], page["next"]) == (len(page["results"]), True, None)


@pytest.mark.parametrize(
    "url",
    [
        "/api/events/?unit={unit}&source={source}&citation_role=claimed_by&bbox=-180,-90,180,90&q=event",
        "/api/casualty-reports/?unit={unit}&claimed_by={source}&min_reliability=F&q=x",
    ],
)
def test_filtered_list_query_count_is_independent_of_page_size(api, url):
    """Filters that take an id validate it with one query each; the rest add none."""
    source, parent = make_source(), make_unit()

    def add(count):
        for _ in range(count):
            unit = make_unit(parent=parent)
            make_event(units=[unit], citations=[(source, "claimed_by")], latitude=1, longitude=1)
            make_report(unit=unit, citations=[(source, "claimed_by")], description="x")

    url = url.format(unit=parent.pk, source=source.pk)
    add(1)
    one, _ = queries_for(api, url)
    add(49)
    fifty, rows = queries_for(api, url)
    assert rows == 50
    assert one == fifty


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's estimate is read on PostgreSQL only")
def test_large_lists_report_the_planner_estimate(api, monkeypatch):
    from events.api import pagination

    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 3)
    for _ in range(6):
        make_source(country="UA")
    make_source(country="RU")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE events_source")
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'events_source'")
        estimate = cursor.fetchone()[0]
    assert estimate > 3
    page = api.get("/api/sources/?limit=2").json()
    assert (page["count"], page["count_exact"]) == (estimate, False)
    page = api.get("/api/sources/?country=RU").json()
    assert (page["count"], page["count_exact"]) == (1, True), "small filtered lists count exactly"
    page = api.get("/api/sources/?country=UA&limit=2").json()
    assert page["count_exact"] is False
    assert page["count"] > 3, "an estimate above the limit never falls below it"
    assert len(page["results"]) == 2
    assert page["next"], "next follows from the rows, not from the estimate"
    page = api.get("/api/sources/?country=UA").json()
    assert (page["count"], page["count_exact"]) == (6, True), "a page holding every row counts them"


def test_a_large_filtered_list_says_its_count_is_not_exact(api, monkeypatch):
    from events.api import pagination

    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 3)
    for _ in range(6):
        make_source(country="UA")
    page = api.get("/api/sources/?country=UA&limit=2").json()
    assert page["count_exact"] is False
    assert page["count"] >= 4, "never less than the rows known to exist"
    assert [len(page["results"]), bool(page["next"])] == [2, True]
    last = api.get("/api/sources/?country=UA&limit=2&offset=4").json()
    assert (len(last["results"]), last["next"], last["count"], last["count_exact"]) == (2, None, 6, True)


def test_small_lists_count_exactly(api):
    for _ in range(3):
        make_source(country="UA")
    page = api.get("/api/sources/?country=UA").json()
    assert (page["count"], page["count_exact"]) == (3, True)
    page = api.get("/api/sources/?cursor=").json()
    assert (page["count"], page["count_exact"]) == (None, False)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_the_records_query_is_prepared_and_still_logged_with_its_sql(api):
    """After a couple of pages, PostgreSQL keeps the records query planned; debug logs still show it."""
    make_rows("/api/events/", 3)
    for _ in range(3):
        api.get("/api/events/?limit=2")
    with CaptureQueriesContext(connection) as captured:
        page = api.get("/api/events/?limit=2").json()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%json_build_object%"])
        assert cursor.fetchone()[0] == 1
    records = [query["sql"] for query in captured if "json_build_object" in (query["sql"] or "")]
    assert len(records) == 1
    assert all(str(row["id"]) in records[0] for row in page["results"])


@pytest.mark.parametrize("endpoint", EXPECTED)
def test_a_detail_reads_its_record_and_version_together(api, endpoint):
    """A detail is its record and its ETag: on PostgreSQL one query, on SQLite its version first,
    then its record as its list reads it. A client holding the ETag is answered from the version."""
    make_rows(endpoint, 1)
    pk = api.get(f"{endpoint}?limit=1").json()["results"][0]["id"]
    with CaptureQueriesContext(connection) as captured:
        response = api.get(f"{endpoint}{pk}/")
    assert response.status_code == 200 and response.json()["id"] == pk
    assert len(captured) == (1 if connection.vendor == "postgresql" else 2 + INLINE_LISTS[endpoint])
    with CaptureQueriesContext(connection) as captured:
        cached = api.get(f"{endpoint}{pk}/", HTTP_IF_NONE_MATCH=response["ETag"])
    assert cached.status_code == 304 and cached["ETag"] == response["ETag"]
    assert len(captured) == 1
