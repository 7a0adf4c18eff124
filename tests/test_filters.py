"""Every list filter, as an API client uses it."""

import datetime
import math
import random
from http import HTTPStatus

import pytest

from events import geo
from events.filtersets import CasualtyReportFilterSet, EventFilterSet, SourceFilterSet, UnitFilterSet

from .factories import make_event, make_report, make_source, make_unit

pytestmark = pytest.mark.django_db

D = datetime.date


def ids(api, url):
    response = api.get(url)
    assert response.status_code == HTTPStatus.OK, response.json()
    return {row["id"] for row in response.json()["results"]}


def ordered_ids(api, url):
    return [row["id"] for row in api.get(url).json()["results"]]


# Sources.


def test_source_filters(api):
    nis = make_source(name="National Intelligence Service", kind="intelligence", country="KR", reliability="B")
    nyt = make_source(name="The New York Times", kind="media", country="US", reliability="A", description="newspaper")
    blog = make_source(name="Milblogger", kind="social_media", country="RU", reliability="E")
    assert ids(api, "/api/sources/?kind=intelligence") == {nis.pk}
    assert ids(api, "/api/sources/?kind__in=intelligence,media") == {nis.pk, nyt.pk}
    assert ids(api, "/api/sources/?country=US") == {nyt.pk}
    assert ids(api, "/api/sources/?country__in=KR,RU") == {nis.pk, blog.pk}
    assert ids(api, "/api/sources/?reliability=E") == {blog.pk}
    assert ids(api, "/api/sources/?reliability__in=A,B") == {nis.pk, nyt.pk}
    assert ids(api, "/api/sources/?min_reliability=B") == {nis.pk, nyt.pk}
    assert ids(api, f"/api/sources/?slug={nis.slug}") == {nis.pk}
    assert ids(api, "/api/sources/?q=intelligence") == {nis.pk}
    assert ids(api, "/api/sources/?q=NEWSPAPER") == {nyt.pk}
    assert ordered_ids(api, "/api/sources/?ordering=reliability") == [nyt.pk, nis.pk, blog.pk]
    assert ordered_ids(api, "/api/sources/?ordering=-name") == [nyt.pk, nis.pk, blog.pk]


# Units.


@pytest.fixture
def hierarchy():
    """A corps with a division, whose brigade has a battalion; plus an unrelated brigade."""
    corps = make_unit(name="11th Corps", echelon="corps", aliases=["Storm Corps"], status="deployed")
    division = make_unit(name="1st Division", echelon="division", parent=corps)
    brigade = make_unit(name="94th Brigade", echelon="brigade", parent=division, status="destroyed")
    battalion = make_unit(name="3rd Battalion", echelon="battalion", parent=brigade)
    other = make_unit(name="Other Brigade", echelon="brigade", country="RU", branch="marines")
    return corps, division, brigade, battalion, other


def test_unit_filters(api, hierarchy):
    corps, division, brigade, battalion, other = hierarchy
    assert ids(api, "/api/units/?country=RU") == {other.pk}
    assert ids(api, "/api/units/?echelon=brigade") == {brigade.pk, other.pk}
    assert ids(api, "/api/units/?echelon__in=corps,battalion") == {corps.pk, battalion.pk}
    assert ids(api, "/api/units/?status=destroyed") == {brigade.pk}
    assert ids(api, "/api/units/?status__in=deployed,destroyed") == {corps.pk, brigade.pk}
    assert ids(api, f"/api/units/?parent={division.pk}") == {brigade.pk}
    assert ids(api, "/api/units/?parent__isnull=true") == {corps.pk, other.pk}
    assert ids(api, "/api/units/?branch=marines") == {other.pk}
    assert ids(api, "/api/units/?q=storm") == {corps.pk}, "q searches aliases"
    assert ids(api, "/api/units/?q=brigade") == {brigade.pk, other.pk}


def test_within_returns_a_unit_and_all_its_descendants(api, hierarchy):
    corps, division, brigade, battalion, other = hierarchy
    assert ids(api, f"/api/units/?within={corps.pk}") == {corps.pk, division.pk, brigade.pk, battalion.pk}
    assert ids(api, f"/api/units/?within={brigade.pk}") == {brigade.pk, battalion.pk}
    assert ids(api, f"/api/units/?within={battalion.pk}") == {battalion.pk}
    assert ids(api, f"/api/units/?within={corps.pk}&echelon=brigade") == {brigade.pk}


# Events.


@pytest.fixture
def sources():
    return {
        "nyt": make_source(reliability="B"),
        "nis": make_source(reliability="B"),
        "blog": make_source(reliability="E"),
    }


def test_event_filters(api, sources, hierarchy):
    corps, division, brigade, battalion, other = hierarchy
    deployment = make_event(
        title="Deployment to Russia",
        type="deployment",
        start_date=D(2024, 10, 1),
        end_date=D(2024, 10, 31),
        date_precision="month",
        country="RU",
        units=[corps],
        citations=[(sources["nyt"], "reported_by")],
    )
    withdrawal = make_event(
        title="Withdrawal from the front",
        type="withdrawal",
        start_date=D(2025, 1, 11),
        end_date=D(2025, 1, 20),
        date_precision="approximate",
        admin1="Kursk Oblast",
        latitude=51.7,
        longitude=36.2,
        location_precision="admin1",
        units=[battalion],
        citations=[(sources["nyt"], "reported_by"), (sources["nis"], "confirmed_by")],
    )
    statement = make_event(
        title="Statement at Ramstein",
        type="statement",
        start_date=D(2025, 1, 9),
        country="DE",
        place_name="Ramstein Air Base",
        latitude=49.4369,
        longitude=7.6003,
        location_precision="exact",
        citations=[(sources["blog"], "claimed_by")],
    )
    expected = make_event(
        title="New deployment",
        type="deployment",
        start_date=D(2025, 3, 15),
        expected=True,
        country="RU",
        description="Sources expect new troops by mid-March",
    )
    assert ids(api, "/api/events/?type=deployment") == {deployment.pk, expected.pk}
    assert ids(api, "/api/events/?type__in=withdrawal,statement") == {withdrawal.pk, statement.pk}
    assert ids(api, "/api/events/?country=DE") == {statement.pk}
    assert ids(api, "/api/events/?country__in=DE,UA") == {statement.pk}
    assert ids(api, "/api/events/?admin1=Kursk%20Oblast") == {withdrawal.pk}
    assert ids(api, "/api/events/?admin1__icontains=kursk") == {withdrawal.pk}
    assert ids(api, "/api/events/?start_date__gte=2025-01-10") == {withdrawal.pk, expected.pk}
    assert ids(api, "/api/events/?start_date__lte=2025-01-09") == {deployment.pk, statement.pk}
    assert ids(api, "/api/events/?start_date=2025-01-09") == {statement.pk}
    assert ids(api, "/api/events/?end_date__gte=2025-01-15&end_date__lte=2025-01-31") == {withdrawal.pk}
    assert ids(api, "/api/events/?date_precision=approximate") == {withdrawal.pk}
    assert ids(api, "/api/events/?date_precision__in=month,approximate") == {deployment.pk, withdrawal.pk}
    assert ids(api, "/api/events/?location_precision=exact") == {statement.pk}
    assert ids(api, "/api/events/?expected=true") == {expected.pk}
    assert ids(api, "/api/events/?has_coordinates=true") == {withdrawal.pk, statement.pk}
    assert ids(api, "/api/events/?has_coordinates=false") == {deployment.pk, expected.pk}
    assert ids(api, "/api/events/?q=ramstein") == {statement.pk}
    assert ids(api, "/api/events/?q=mid-march") == {expected.pk}


def test_event_interval_overlap_window(api):
    october = make_event(start_date=D(2024, 10, 1), end_date=D(2024, 10, 31))
    mid_january = make_event(start_date=D(2025, 1, 11), end_date=D(2025, 1, 20))
    straddling = make_event(start_date=D(2024, 12, 20), end_date=D(2025, 1, 5))
    march = make_event(start_date=D(2025, 3, 15))
    assert ids(api, "/api/events/?date_from=2025-01-01&date_to=2025-01-31") == {mid_january.pk, straddling.pk}
    assert ids(api, "/api/events/?date_from=2025-01-20&date_to=2025-01-20") == {mid_january.pk}, "touching end"
    assert ids(api, "/api/events/?date_from=2024-10-31&date_to=2024-12-20") == {october.pk, straddling.pk}
    assert ids(api, "/api/events/?date_from=2025-02-01") == {march.pk}, "an open window"
    assert ids(api, "/api/events/?date_to=2024-11-01") == {october.pk}


def test_event_unit_filter_covers_sub_units(api, hierarchy):
    corps, division, brigade, battalion, other = hierarchy
    battalion_event = make_event(units=[battalion])
    corps_event = make_event(units=[corps])
    make_event(units=[other])
    make_event()
    assert ids(api, f"/api/events/?unit={corps.pk}") == {battalion_event.pk, corps_event.pk}
    assert ids(api, f"/api/events/?unit={brigade.pk}") == {battalion_event.pk}
    two_units = make_event(units=[brigade, battalion])
    response = api.get(f"/api/events/?unit={corps.pk}").json()
    assert response["count"] == 3, "an event with two matching units is listed once"
    assert two_units.pk in {row["id"] for row in response["results"]}


def test_event_source_and_citation_role_refer_to_one_citation(api, sources):
    nyt, nis = sources["nyt"], sources["nis"]
    reported_by_nyt = make_event(citations=[(nyt, "reported_by"), (nis, "claimed_by")])
    confirmed_by_nis = make_event(citations=[(nis, "confirmed_by"), (nyt, "claimed_by")])
    assert ids(api, f"/api/events/?source={nyt.pk}") == {reported_by_nyt.pk, confirmed_by_nis.pk}
    assert ids(api, "/api/events/?citation_role=confirmed_by") == {confirmed_by_nis.pk}
    assert ids(api, f"/api/events/?source={nis.pk}&citation_role=confirmed_by") == {confirmed_by_nis.pk}
    assert ids(api, f"/api/events/?source={nyt.pk}&citation_role=confirmed_by") == set()
    assert ids(api, "/api/events/?min_reliability=C") == {reported_by_nyt.pk, confirmed_by_nis.pk}


def test_event_bbox(api):
    kursk = make_event(latitude=51.7, longitude=36.2)
    ramstein = make_event(latitude=49.4369, longitude=7.6003)
    make_event()
    assert ids(api, "/api/events/?bbox=34,50,39,53") == {kursk.pk}
    assert ids(api, "/api/events/?bbox=0,45,40,55") == {kursk.pk, ramstein.pk}
    assert ids(api, "/api/events/?bbox=7.6003,49.4369,7.6003,49.4369") == {ramstein.pk}, "edges are inside"
    assert ids(api, "/api/events/?bbox=-10,-10,0,0") == set()


def test_events_near_a_point_by_great_circle_distance(api):
    kursk = make_event(latitude=51.7304, longitude=36.1926)
    sudzha = make_event(latitude=51.1917, longitude=35.2722)  # 87 km from Kursk
    belgorod = make_event(latitude=50.5997, longitude=36.5983)  # 129 km
    moscow = make_event(latitude=55.7558, longitude=37.6173)  # 460 km
    make_event()  # no coordinates
    assert ids(api, "/api/events/?near=51.7304,36.1926,100") == {kursk.pk, sudzha.pk}
    assert ids(api, "/api/events/?near=51.7304,36.1926,130") == {kursk.pk, sudzha.pk, belgorod.pk}
    nearest = api.get("/api/events/?near=51.7304,36.1926,500&ordering=distance").json()["results"]
    assert [e["id"] for e in nearest] == [kursk.pk, sudzha.pk, belgorod.pk, moscow.pk]
    farthest = api.get("/api/events/?near=51.7304,36.1926,500&ordering=-distance").json()["results"]
    assert [e["id"] for e in farthest] == [moscow.pk, belgorod.pk, sudzha.pk, kursk.pk]
    # With other filters, and a box.
    assert ids(api, "/api/events/?near=51.7304,36.1926,500&bbox=35,50,37,52") == {kursk.pk, sudzha.pk, belgorod.pk}


def test_nearest_first_is_the_great_circle_order(api):
    """ordering=distance pages through a circle's events by their distance, ties by id."""
    rng = random.Random(4)
    centre = (48.0, 37.8)
    points = [(centre[0] + rng.uniform(-1, 1), centre[1] + rng.uniform(-1.5, 1.5)) for _ in range(40)]
    points += points[:5]  # the same places twice: ties
    events = [make_event(latitude=lat, longitude=lon) for lat, lon in points]
    make_event()  # no coordinates

    def km(event):
        return (
            geo.EARTH_RADIUS_KM
            * 2
            * math.asin(
                math.sqrt(
                    math.sin(math.radians(event.latitude - centre[0]) / 2) ** 2
                    + math.cos(math.radians(centre[0]))
                    * math.cos(math.radians(event.latitude))
                    * math.sin(math.radians(event.longitude - centre[1]) / 2) ** 2
                )
            )
        )

    expected = [e.pk for e in sorted((e for e in events if km(e) <= 100), key=lambda e: (km(e), e.pk))]
    assert 10 < len(expected) < len(events)
    url = "/api/events/?near=48.0,37.8,100&ordering=distance&limit=7"
    pages = [ordered_ids(api, f"{url}&offset={offset}") for offset in range(0, len(expected), 7)]
    assert [pk for page in pages for pk in page] == expected


def test_events_near_the_antimeridian_and_the_poles(api):
    fiji_east = make_event(latitude=-17.0, longitude=179.9)
    fiji_west = make_event(latitude=-17.0, longitude=-179.9)  # 21 km from the other across the 180th meridian
    make_event(latitude=-17.0, longitude=170.0)
    pole = make_event(latitude=89.9, longitude=0.0)
    beyond_the_pole = make_event(latitude=89.9, longitude=180.0)  # 22 km away, over the pole
    assert ids(api, "/api/events/?near=-17,179.9,50") == {fiji_east.pk, fiji_west.pk}
    assert ids(api, "/api/events/?near=-17,-179.95,50") == {fiji_east.pk, fiji_west.pk}
    assert ids(api, "/api/events/?near=89.9,0,30") == {pole.pk, beyond_the_pole.pk}
    # Half the Earth's circumference reaches every point.
    assert len(ids(api, "/api/events/?near=0,0,20015")) == 5


def test_event_search_includes_citation_quotes(api, sources):
    quoted = make_event(citations=[(sources["nis"], "claimed_by")])
    quoted.citations.update(quote="have not participated in combat operations")
    assert ids(api, "/api/events/?q=combat%20operations") == {quoted.pk}


def test_event_ordering(api):
    early = make_event(start_date=D(2024, 10, 1), title="b")
    late = make_event(start_date=D(2025, 3, 1), title="a")
    middle = make_event(start_date=D(2025, 1, 1), title="c")
    assert ordered_ids(api, "/api/events/") == [late.pk, middle.pk, early.pk], "newest first by default"
    assert ordered_ids(api, "/api/events/?ordering=start_date") == [early.pk, middle.pk, late.pk]
    assert ordered_ids(api, "/api/events/?ordering=title") == [late.pk, early.pk, middle.pk]


# Casualty reports.


def test_casualty_report_filters(api, sources, hierarchy):
    corps, division, brigade, battalion, other = hierarchy
    zelenskyy, isw = make_source(reliability="C"), make_source(reliability="B")
    strike = make_event(type="strike")
    four_thousand = make_report(
        category="casualties",
        best=4000,
        kind="count",
        unit=corps,
        as_of_date=D(2025, 1, 9),
        credibility=3,
        citations=[(zelenskyy, "claimed_by"), (sources["blog"], "reported_by")],
        description="Ramstein remarks",
    )
    projection = make_report(
        category="casualties",
        best=12000,
        kind="projection",
        unit=corps,
        horizon_date=D(2025, 4, 15),
        as_of_date=D(2025, 2, 1),
        credibility=6,
        citations=[(isw, "claimed_by")],
    )
    captured = make_report(
        category="captured",
        low=2,
        best=2,
        high=2,
        kind="count",
        as_of_date=D(2025, 1, 11),
        credibility=1,
        citations=[(sources["blog"], "claimed_by"), (sources["nis"], "confirmed_by")],
    )
    destroyed = make_report(category="unspecified", best=None, unit=battalion, kind="estimate", credibility=3)
    officers = make_report(
        category="casualties", best=None, low=24, country="", event=strike, as_of_date=D(2025, 1, 31)
    )
    russian = make_report(country="RU", category="killed", low=100, high=300, best=None)

    assert ids(api, "/api/casualty-reports/?country=RU") == {russian.pk}
    assert ids(api, "/api/casualty-reports/?country__in=RU,UA") == {russian.pk}
    assert ids(api, f"/api/casualty-reports/?unit={corps.pk}") == {four_thousand.pk, projection.pk, destroyed.pk}
    assert ids(api, f"/api/casualty-reports/?unit={brigade.pk}") == {destroyed.pk}
    assert ids(api, f"/api/casualty-reports/?event={strike.pk}") == {officers.pk}
    assert ids(api, "/api/casualty-reports/?event__isnull=false") == {officers.pk}
    assert ids(api, "/api/casualty-reports/?category=captured") == {captured.pk}
    assert ids(api, "/api/casualty-reports/?category__in=captured,killed") == {captured.pk, russian.pk}
    assert ids(api, "/api/casualty-reports/?kind=projection") == {projection.pk}
    assert ids(api, "/api/casualty-reports/?kind__in=projection,estimate") == {
        projection.pk,
        destroyed.pk,
        officers.pk,
        russian.pk,
    }
    assert ids(api, "/api/casualty-reports/?as_of_date__gte=2025-01-10&as_of_date__lte=2025-01-31") == {
        captured.pk,
        officers.pk,
    }
    assert ids(api, "/api/casualty-reports/?horizon_date__lte=2025-04-30") == {projection.pk}
    assert ids(api, "/api/casualty-reports/?best__gte=4000") == {four_thousand.pk, projection.pk}
    assert ids(api, "/api/casualty-reports/?best__lte=2") == {captured.pk}
    assert ids(api, "/api/casualty-reports/?low__gte=24") == {officers.pk, russian.pk}
    assert ids(api, "/api/casualty-reports/?high__lte=300") == {captured.pk, russian.pk}
    assert ids(api, "/api/casualty-reports/?credibility__lte=3") == {four_thousand.pk, captured.pk, destroyed.pk}
    assert ids(api, "/api/casualty-reports/?credibility=1") == {captured.pk}
    assert ids(api, f"/api/casualty-reports/?claimed_by={zelenskyy.pk}") == {four_thousand.pk}
    assert ids(api, f"/api/casualty-reports/?claimed_by={sources['blog'].pk}") == {captured.pk}, (
        "reported_by is not claimed_by"
    )
    assert ids(api, f"/api/casualty-reports/?source={sources['blog'].pk}") == {four_thousand.pk, captured.pk}
    assert ids(api, f"/api/casualty-reports/?source={sources['nis'].pk}&citation_role=confirmed_by") == {captured.pk}
    assert ids(api, "/api/casualty-reports/?min_reliability=B") == {projection.pk, captured.pk}
    assert ids(api, "/api/casualty-reports/?min_reliability=C") == {four_thousand.pk, projection.pk, captured.pk}
    assert ids(api, "/api/casualty-reports/?q=ramstein") == {four_thousand.pk}
    assert ordered_ids(api, "/api/casualty-reports/?ordering=-best&best__gte=1") == [
        projection.pk,
        four_thousand.pk,
        captured.pk,
    ]
    by_best = ordered_ids(api, "/api/casualty-reports/?ordering=-best")
    assert by_best[:3] == [projection.pk, four_thousand.pk, captured.pk], "reports without a best figure sort last"
    assert set(by_best[3:]) == {destroyed.pk, officers.pk, russian.pk}
    assert ordered_ids(api, "/api/casualty-reports/?ordering=low")[:2] == [captured.pk, officers.pk]


# Bad parameters.


@pytest.mark.parametrize(
    "url, parameter",
    [
        ("/api/events/?contry=UA", "contry"),
        ("/api/events/?start_date__gt=2025-01-01", "start_date__gt"),
        ("/api/sources/?reliabilty=A", "reliabilty"),
        ("/api/units/?within=999999", "within"),
        ("/api/units/?within=abc", "within"),
        ("/api/events/?type=bombing", "type"),
        ("/api/events/?type__in=strike,bombing", "type__in"),
        ("/api/events/?start_date__gte=2025-13-01", "start_date__gte"),
        ("/api/events/?date_from=yesterday", "date_from"),
        ("/api/events/?bbox=1,2,3", "bbox"),
        ("/api/events/?bbox=40,50,30,52", "bbox"),
        ("/api/events/?bbox=0,0,200,10", "bbox"),
        ("/api/events/?near=51.7,36.2", "near"),
        ("/api/events/?near=95,36.2,10", "near"),
        ("/api/events/?near=51.7,36.2,0", "near"),
        ("/api/events/?near=51.7,36.2,30000", "near"),
        ("/api/events/?ordering=distance", "ordering"),
        ("/api/events/?has_coordinates=maybe", "has_coordinates"),
        ("/api/events/?unit=0", "unit"),
        ("/api/events/?ordering=-nonexistent", "ordering"),
        ("/api/casualty-reports/?best__gte=many", "best__gte"),
        ("/api/casualty-reports/?credibility__lte=9", "credibility__lte"),
        ("/api/casualty-reports/?min_reliability=Z", "min_reliability"),
        ("/api/casualty-reports/?claimed_by=999999", "claimed_by"),
        ("/api/sources/?limit=ten", "limit"),
        ("/api/sources/?limit=100000", "limit"),
        ("/api/sources/?offset=-1", "offset"),
    ],
)
def test_bad_parameter_is_a_400_naming_it(api, url, parameter):
    response = api.get(url)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    body = response.json()
    assert parameter in body, body
    assert body[parameter] and all(isinstance(message, str) and message for message in body[parameter])


def test_pagination(api):
    sources = [make_source(name=f"Source {n:02}") for n in range(5)]
    page = api.get("/api/sources/?limit=2&offset=2&ordering=name").json()
    assert page["count"] == 5
    assert [row["id"] for row in page["results"]] == [sources[2].pk, sources[3].pk]
    assert "offset=4" in page["next"] and "limit=2" in page["next"]
    assert page["previous"] is not None
    assert api.get(page["next"]).json()["next"] is None


# Every model field can be filtered on, or is listed here as deliberately not filterable.
UNFILTERED = {
    SourceFilterSet: {"id", "name", "aliases", "homepage", "description", "created_at", "updated_at"},
    UnitFilterSet: {
        "id",
        "name",
        "aliases",
        "strength_low",
        "strength_best",
        "strength_high",
        "description",
        "created_at",
        "updated_at",
    },
    EventFilterSet: {
        "id",
        "title",
        "description",
        "date_text",
        "place_name",
        "latitude",
        "longitude",
        "personnel_low",
        "personnel_best",
        "personnel_high",
        "created_at",
        "updated_at",
    },
    CasualtyReportFilterSet: {
        "id",
        "period_start",
        "date_precision",
        "date_text",
        "description",
        "created_at",
        "updated_at",
    },
}


@pytest.mark.parametrize("filterset", list(UNFILTERED), ids=lambda f: f.__name__)
def test_every_model_field_has_a_filter(filterset):
    model = filterset._meta.model
    filtered = {f.field_name for f in filterset.base_filters.values()} | set(filterset.base_filters)
    for field in model._meta.concrete_fields:
        assert field.name in filtered or field.attname in filtered or field.name in UNFILTERED[filterset], (
            f"{model.__name__}.{field.name} has no filter in {filterset.__name__}"
        )


def test_search_finds_aliases_in_any_script(api):
    unit = make_unit(name="11th Corps", aliases=["Штурмовой корпус", "폭풍군단"])
    assert ids(api, "/api/units/?q=Штурмовой") == {unit.pk}
    assert ids(api, "/api/units/?q=폭풍") == {unit.pk}


def test_cursor_pages_scan_everything_once_in_id_order(api):
    sources = [make_source(country="UA" if n % 2 else "RU") for n in range(7)]
    seen, url = [], "/api/sources/?cursor=&limit=3&country=UA"
    while url:
        page = api.get(url).json()
        assert page["count"] is None and page["previous"] is None
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert seen == [s.pk for s in sources if s.country == "UA"]


@pytest.mark.parametrize(
    "query, parameter",
    [("cursor=!!!", "cursor"), ("cursor=&ordering=name", "ordering"), ("cursor=&offset=10", "offset")],
)
def test_bad_cursor_requests(api, query, parameter):
    response = api.get(f"/api/sources/?{query}")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert parameter in response.json()


# Ids in lists, the cited sources' country and kind, missing values, figures as ranges.


def test_id_filters_take_lists(api, sources, hierarchy):
    corps, division, brigade, battalion, other = hierarchy
    nyt, nis, blog = sources["nyt"], sources["nis"], sources["blog"]
    first = make_report(unit=battalion, citations=[(nyt, "claimed_by")])
    second = make_report(unit=other, citations=[(nis, "claimed_by"), (blog, "reported_by")])
    third = make_report(unit=corps, event=make_event(), citations=[(blog, "claimed_by")])
    assert ids(api, f"/api/casualty-reports/?unit__in={division.pk},{other.pk}") == {first.pk, second.pk}
    assert ids(api, f"/api/casualty-reports/?unit__in={other.pk}&unit__in={battalion.pk}") == {first.pk, second.pk}
    assert ids(api, f"/api/casualty-reports/?unit__exact={corps.pk}") == {third.pk}
    assert ids(api, f"/api/casualty-reports/?claimed_by__in={nyt.pk},{nis.pk}") == {first.pk, second.pk}
    assert ids(api, f"/api/casualty-reports/?source__in={blog.pk}") == {second.pk, third.pk}
    assert ids(api, f"/api/casualty-reports/?source__in={blog.pk}&citation_role=claimed_by") == {third.pk}
    assert ids(api, f"/api/casualty-reports/?event__in={third.event_id}") == {third.pk}
    event = make_event(units=[battalion], citations=[(nis, "reported_by")])
    assert ids(api, f"/api/events/?unit__in={corps.pk}") == {event.pk}
    assert ids(api, f"/api/events/?source__in={nis.pk},{nyt.pk}") == {event.pk}
    missing = api.get(f"/api/casualty-reports/?source__in={nyt.pk},999999")
    assert missing.status_code == HTTPStatus.BAD_REQUEST
    assert "999999" in missing.json()["source__in"][0]


def test_filters_on_the_cited_sources_country_and_kind(api):
    ukrainian = make_source(country="UA", kind="government")
    american = make_source(country="US", kind="media")
    ours = make_report(citations=[(ukrainian, "claimed_by"), (american, "reported_by")])
    theirs = make_report(citations=[(american, "claimed_by")])
    assert ids(api, "/api/casualty-reports/?source_country=UA") == {ours.pk}
    assert ids(api, "/api/casualty-reports/?source_country__in=UA,US") == {ours.pk, theirs.pk}
    assert ids(api, "/api/casualty-reports/?source_kind=media&citation_role=claimed_by") == {theirs.pk}
    assert ids(api, "/api/casualty-reports/?source_country=UA&source_kind=media") == set()  # one citation, both
    assert ids(api, "/api/events/?source_kind__in=government") == set()


def test_missing_figures_and_relations(api, hierarchy):
    unit = hierarchy[0]
    open_ended = make_report(low=4000, best=None)
    exact = make_report(best=10)
    of_unit = make_report(best=None, unit=unit, as_of_date=D(2025, 1, 1))
    assert ids(api, "/api/casualty-reports/?best__isnull=true") == {open_ended.pk, of_unit.pk}
    assert ids(api, "/api/casualty-reports/?low__isnull=false") == {open_ended.pk}
    assert ids(api, "/api/casualty-reports/?unit__isnull=true") == {open_ended.pk, exact.pk}
    assert ids(api, "/api/casualty-reports/?as_of_date__isnull=false") == {of_unit.pk}


def test_a_figure_filter_and_order_consider_the_whole_range(api):
    over = make_report(low=4000, best=None)  # "over 4,000": no upper end
    ranged = make_report(low=10_000, best=None, high=12_000)
    point = make_report(best=300)
    upto = make_report(best=None, high=500)  # "up to 500"
    assert ids(api, "/api/casualty-reports/?figure__gte=100000") == {over.pk}
    assert ids(api, "/api/casualty-reports/?figure__gte=11000") == {over.pk, ranged.pk}
    assert ids(api, "/api/casualty-reports/?figure__lte=400") == {point.pk, upto.pk}
    assert ids(api, "/api/casualty-reports/?figure=11000") == {over.pk, ranged.pk}
    assert ids(api, "/api/casualty-reports/?figure=450") == {upto.pk}
    order = [row["id"] for row in api.get("/api/casualty-reports/?ordering=-figure").json()["results"]]
    assert order == [ranged.pk, over.pk, upto.pk, point.pk]  # 11,000, 4,000, 500, 300


def test_sources_are_found_by_their_aliases_and_parties(api):
    mod = make_source(name="UK Ministry of Defence", aliases=["UK MoD", "MoD"], party=False)
    kyiv = make_source(name="Government of Ukraine", party=True)
    assert ids(api, "/api/sources/?q=uk%20mod") == {mod.pk}
    assert ids(api, "/api/sources/?party=true") == {kyiv.pk}
