"""Boxes and circles read by either plan give the same pages (events/geo.py).

On SQLite a dense place, in date order, is met walking the date order, and any other place is
read by its strips of latitude; PostgreSQL plans by its own statistics. Whichever plan reads
it, a page holds the events that a client would compute from the coordinates.
"""

import datetime
import math
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events import geo
from events.models import Event

pytestmark = pytest.mark.django_db

D = datetime.date
ON_SQLITE = connection.vendor == "sqlite"
# Places that stress the strips: both sides of the equator (a strip truncates toward zero),
# the poles, the antimeridian, and a dense cluster around the front.
PLACES = [(48.5, 37.5, 1.5), (0.0, 10.0, 0.4), (-0.3, 10.2, 0.4), (-33.9, 18.4, 3), (89.6, 0.0, 0.5)]
PLACES += [(-89.7, 120.0, 0.5), (-17.0, 179.8, 0.5), (-17.0, -179.8, 0.5), (0.0, 0.0, 90)]


@pytest.fixture
def scattered():
    """600 events at places that stress the strips, on 300 days, a few without coordinates."""
    rng = random.Random(13)
    events = []
    for n in range(600):
        lat, lon, spread = rng.choice(PLACES)
        latitude = max(-90.0, min(90.0, lat + rng.uniform(-spread, spread)))
        longitude = lon + rng.uniform(-spread, spread)
        longitude = (longitude + 180) % 360 - 180
        day = D(2024, 1, 1) + datetime.timedelta(days=rng.randrange(300))
        coordinates = {"latitude": round(latitude, 5), "longitude": round(longitude, 5)} if n % 50 else {}
        events.append(
            Event(title=f"Event {n}", type="combat", start_date=day, end_date=day, country="UA", **coordinates)
        )
    Event.objects.bulk_create(events)
    return list(Event.objects.values("pk", "start_date", "latitude", "longitude"))


def km_between(lat1, lon1, lat2, lon2):
    a = (
        math.sin(math.radians(lat2 - lat1) / 2) ** 2
        + math.cos(math.radians(lat1)) * math.cos(math.radians(lat2)) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * geo.EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def newest_first(rows):
    return [row["pk"] for row in sorted(rows, key=lambda row: (row["start_date"], row["pk"]), reverse=True)]


def page(api, url):
    response = api.get(url)
    assert response.status_code == 200, response.json()
    body = response.json()
    return [row["id"] for row in body["results"]], body["count"]


BOXES = [
    (36.0, 47.0, 39.0, 50.0),  # the front, dense
    (9.6, -0.5, 10.6, 0.5),  # across the equator
    (9.9, -0.2, 10.1, -0.01),  # south of it, inside strip 0
    (-180.0, 89.0, 180.0, 90.0),  # the North Pole's cap
    (179.0, -18.0, 180.0, -16.0),  # the antimeridian's east side
    (-180.0, -90.0, 180.0, 90.0),  # the world
    (100.0, 10.0, 110.0, 20.0),  # nothing there
]
CIRCLES = [(48.5, 37.5, 120), (0.0, 10.0, 40), (-17.0, 180.0, 60), (89.9, 90.0, 100), (-33.9, 18.4, 500)]


@pytest.fixture(params=["walk", "strips"])
def plan(request, monkeypatch):
    """Either plan on SQLite: the walk wherever the sample meets the place, or never."""
    monkeypatch.setattr(geo, "WALK_BUDGET", 10**12 if request.param == "walk" else 0)
    return request.param


def test_a_box_gives_the_same_pages_by_either_plan(api, scattered, plan):
    for box in BOXES:
        min_lon, min_lat, max_lon, max_lat = box
        inside = [
            row
            for row in scattered
            if row["latitude"] is not None
            and min_lat <= row["latitude"] <= max_lat
            and min_lon <= row["longitude"] <= max_lon
        ]
        expected = newest_first(inside)
        url = f"/api/events/?bbox={min_lon},{min_lat},{max_lon},{max_lat}&limit=40"
        for offset in (0, 40, 120):
            assert page(api, f"{url}&offset={offset}") == (expected[offset : offset + 40], len(expected)), box
        oldest = page(api, f"{url}&ordering=start_date")[0]
        assert oldest == expected[::-1][:40], box


def test_a_circle_gives_the_same_pages_by_either_plan(api, scattered, plan):
    for lat, lon, km in CIRCLES:
        inside = [
            row
            for row in scattered
            if row["latitude"] is not None and km_between(lat, lon, row["latitude"], row["longitude"]) <= km
        ]
        assert inside, (lat, lon, km)
        expected = newest_first(inside)
        url = f"/api/events/?near={lat},{lon},{km}&limit=30"
        assert page(api, url) == (expected[:30], len(expected)), (lat, lon, km)
        assert page(api, f"{url}&offset=30")[0] == expected[30:60], (lat, lon, km)
        distance = sorted(inside, key=lambda row: (km_between(lat, lon, row["latitude"], row["longitude"]), row["pk"]))
        assert page(api, f"{url}&ordering=distance")[0] == [row["pk"] for row in distance][:30], (lat, lon, km)


def test_a_box_with_other_filters_gives_the_same_page_by_either_plan(api, scattered, plan):
    inside = [
        row
        for row in scattered
        if row["latitude"] is not None
        and 47 <= row["latitude"] <= 50
        and 36 <= row["longitude"] <= 39
        and D(2024, 3, 1) >= row["start_date"]
    ]
    url = "/api/events/?bbox=36,47,39,50&date_to=2024-03-01&limit=25"
    assert page(api, url) == (newest_first(inside)[:25], len(inside))


def list_plan(api, url):
    """SQLite's plan of the list's page query."""
    with CaptureQueriesContext(connection) as captured:
        assert api.get(url).status_code == 200
    (sql,) = [q["sql"] for q in captured.captured_queries if "_bounded_count" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return [row[-1] for row in cursor.fetchall()]


@pytest.mark.skipif(not ON_SQLITE, reason="PostgreSQL plans from its own statistics of the coordinates")
def test_sqlite_walks_the_date_order_for_a_dense_box_and_reads_strips_for_a_sparse_one(api, scattered):
    # A fifth of the events are at the front: the walk fills a page within a few rows.
    dense = list_plan(api, "/api/events/?bbox=36,47,39,50&limit=100")
    assert dense[0] == "SCAN events_event USING COVERING INDEX event_start_place_idx", dense
    assert not any("TEMP B-TREE" in line for line in dense), "the walk needs no sort"
    # Nothing near Cape Town's east: the strips of its latitudes, read across its longitudes.
    sparse = list_plan(api, "/api/events/?bbox=30,-35,31,-33&limit=100")
    assert sparse[0].startswith("SEARCH events_event USING COVERING INDEX event_strip_place_idx"), sparse
    # Nearest first needs every event of the circle: always by strips.
    nearest = list_plan(api, "/api/events/?near=48.5,37.5,100&ordering=distance&limit=100")
    assert nearest[0].startswith("SEARCH events_event USING COVERING INDEX event_strip_place_idx"), nearest


@pytest.mark.skipif(not ON_SQLITE, reason="PostgreSQL plans from its own statistics of the coordinates")
def test_an_export_of_a_dense_box_is_read_by_strips(api, scattered):
    """An export reads every event of the place: walking the whole date order would read them all."""
    with CaptureQueriesContext(connection) as captured:
        response = api.get("/api/events/?bbox=36,47,39,50&format=csv")
        body = b"".join(response.streaming_content)
    assert response.status_code == 200 and body.count(b"\n") > 50
    sql = "\n".join(q["sql"] for q in captured.captured_queries)
    assert 'CAST("events_event"."latitude" * 4 AS INTEGER) IN' in sql
    assert '+"events_event"."latitude"' not in sql
