"""Lists are read without the serializers (events/api/rows.py); they must say exactly the same."""

import datetime
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from events import selectors
from events.api import exports, pgjson, serializers
from events.models import CasualtyReport, CasualtyReportLink, Event, EventLink, Source, Unit

from .factories import make_event, make_report, make_source, make_unit

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/sources/",
    "/api/units/",
    "/api/events/",
    "/api/casualty-reports/",
    "/api/casualty-report-links/",
    "/api/event-links/",
]


@pytest.fixture
def records(db):
    """The seed article's records, plus the empty and null values the seed does not have."""
    call_command("loaddata", "seed", verbosity=0)
    source = make_source(country="", homepage="", reliability="F")
    parent = make_unit(aliases=["Первая", "1st"])
    unit = make_unit(parent=parent, strength_low=None)
    bare = make_event(citations=[], latitude=None, longitude=None, country="", expected=True)
    event = make_event(units=[unit, parent], citations=[(source, "claimed_by"), (source, "disputed_by")])
    make_report(citations=[], unit=None, event=None, low=None, best=7, high=None)
    report = make_report(unit=unit, event=event, citations=[(source, "claimed_by")], as_of_date=None)
    EventLink.objects.create(from_claim=event, to_claim=bare, relation="disputes", source=source)
    EventLink.objects.create(from_claim=bare, to_claim=event, relation="confirms", source=source, quote="Да")
    CasualtyReportLink.objects.create(
        from_claim=report, to_claim=CasualtyReport.objects.first(), relation="supersedes", source=source
    )
    CasualtyReportLink.objects.create(from_claim=report, to_claim=CasualtyReport.objects.last(), relation="confirms",
                                      source=source, published_date=datetime.date(2025, 1, 15))  # fmt: skip


@pytest.mark.parametrize("endpoint", LISTS)
def test_list_rows_equal_their_detail(api, records, endpoint):
    """Each row of a list page is exactly the record's detail (which the serializer renders)."""
    page = api.get(f"{endpoint}?limit=1000").json()
    assert page["count"] == len(page["results"]) >= 2
    for row in page["results"]:
        detail = api.get(f"{endpoint}{row['id']}/")
        assert detail.status_code == 200
        assert row == detail.json(), f"{endpoint}{row['id']}/ differs between the list and the detail"


@pytest.mark.parametrize("endpoint", LISTS)
def test_list_order_and_pages_follow_the_ordering(api, records, endpoint):
    everything = [row["id"] for row in api.get(f"{endpoint}?limit=1000").json()["results"]]
    pages = []
    for offset in range(0, len(everything), 2):
        pages += [row["id"] for row in api.get(f"{endpoint}?limit=2&offset={offset}").json()["results"]]
    assert pages == everything


@pytest.mark.parametrize(
    ("endpoint", "model", "serializer_class"),
    [("/api/events/", Event, serializers.EventSerializer),
     ("/api/casualty-reports/", CasualtyReport, serializers.CasualtyReportSerializer)],
)  # fmt: skip
def test_known_at_rows_equal_the_serializer(api, records, endpoint, model, serializer_class):
    """As of a past day, rows carry the citations and status of then, as the serializer shows them."""
    day = datetime.date(2025, 1, 20)
    url = f"{endpoint}?limit=1000&known_at={day}"
    rows = api.get(url).json()["results"]
    request = Request(APIRequestFactory().get(url))
    queryset = selectors.as_known_at(
        selectors.event_list() if model is Event else selectors.casualty_report_list(), known_at=day
    )
    expected = serializer_class(queryset, many=True, context={"request": request}).data
    by_id = {row["id"]: row for row in expected}
    assert rows
    assert {row["id"] for row in rows} == set(by_id)
    assert rows == [by_id[row["id"]] for row in rows]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL writes JSON only there")
@pytest.mark.parametrize(
    "url",
    [*[f"{endpoint}?limit=1000" for endpoint in LISTS], "/api/events/?known_at=2025-01-20&ordering=title",
     "/api/casualty-reports/?known_at=2025-01-20&limit=3", "/api/events/?format=json&country=UA"],
)  # fmt: skip
def test_json_written_by_postgresql_equals_the_python_path(api, records, monkeypatch, url):
    """On PostgreSQL a page's records come as JSON text from the database; they say exactly
    what the rows path says, down to the type of every number."""
    Event.objects.filter(pk=Event.objects.first().pk).update(
        latitude=48.0, longitude=-37.25, created_at=timezone.make_aware(datetime.datetime(2025, 1, 2, 3, 4, 5))
    )
    Event.objects.filter(pk=Event.objects.last().pk).update(
        description='Two lines,\nand a "quote" \\ \t \x01 </script> Курськ 🛰', title="", country="UA"
    )

    def page_and_details():
        page = api.get(url).json()
        details = [api.get(f"{url.split('?')[0]}{row['id']}/") for row in page["results"]]
        # A detail's record and ETag come from one query on PostgreSQL, from two on the other path.
        return page, [(detail.json(), detail["ETag"]) for detail in details]

    by_postgresql = page_and_details()
    monkeypatch.setattr(pgjson, "records", lambda *args, **kwargs: None)
    by_python = page_and_details()
    assert by_postgresql[0]["results"]
    # json.dumps tells 48 from 48.0, which == does not.
    assert json.dumps(by_postgresql) == json.dumps(by_python)


def test_csv_export_has_every_row_of_the_list(api, records):
    listed = api.get("/api/events/?limit=1000").json()["results"]
    lines = api.get("/api/events/?format=csv").getvalue().decode().splitlines()
    assert len(lines) == len(listed) + 1
    assert [line.split(",", 1)[0] for line in lines[1:]] == [str(row["id"]) for row in listed]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
@pytest.mark.parametrize(
    "url",
    [
        *[f"{endpoint}?format=csv" for endpoint in LISTS],
        "/api/events/?format=csv&known_at=2025-01-20&ordering=title",
        "/api/casualty-reports/?format=csv&limit=3&offset=1",
    ],
)
def test_csv_written_by_postgresql_equals_the_python_path(api, records, monkeypatch, url):
    """On PostgreSQL the CSV comes from COPY; byte for byte it is what the Python path writes."""
    # Values the seed lacks: a whole-number float, a time without microseconds, newlines and quotes,
    # and names with the list separator and its escape character in them.
    Event.objects.filter(pk=Event.objects.first().pk).update(
        latitude=48.0, longitude=-37.25, created_at=timezone.make_aware(datetime.datetime(2025, 1, 2, 3, 4, 5))
    )
    Event.objects.filter(pk=Event.objects.last().pk).update(description='Two lines,\nand a "quote"', title="")
    Source.objects.filter(slug="nis").update(name="NIS; South Korea (100%)")
    Unit.objects.filter(echelon="contingent").update(name="Contingent;%3B")
    by_postgresql = api.get(url).getvalue()
    monkeypatch.setattr(exports, "copy_csv", lambda *args: None)
    by_python = api.get(url).getvalue()
    assert by_postgresql.count(b"\n") >= 2
    assert by_postgresql == by_python


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_long_csv_written_by_two_backends_is_the_same_csv(api, monkeypatch):
    """Long exports are split at their middle row and written by two backends at once."""
    from events.api import copy as copy_module

    call_command("loaddata", "seed", verbosity=0)
    source = make_source()
    for day in range(1, 29):
        make_event(citations=[(source, "claimed_by")], start_date=datetime.date(2024, 2, day))
        make_event(citations=[(source, "reported_by")], start_date=datetime.date(2024, 2, day))
    with connection.cursor() as cursor:  # the split follows the planner's estimate: fresh, whatever ran before
        cursor.execute(f"ANALYZE {Event._meta.db_table}")
    monkeypatch.setattr(copy_module, "PARALLEL_MIN_ROWS", 2)
    halves = []
    original = copy_module._two_halves
    monkeypatch.setattr(copy_module, "_two_halves", lambda *args: halves.append(1) or original(*args))
    by_two = api.get("/api/events/?format=csv").getvalue()
    assert halves, "the export was split"
    monkeypatch.setattr(exports, "copy_csv", lambda *args: None)
    by_python = api.get("/api/events/?format=csv").getvalue()
    assert by_two.count(b"\n") == Event.objects.count() + 1
    assert by_two == by_python
