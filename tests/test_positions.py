"""Units' positions over time: the API, a unit's track, GeoJSON points and lines, the importer and the admin."""

import datetime
import io
import json
import shutil
from http import HTTPStatus
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from events import choices
from events.importers.positions import import_positions
from events.models import Source, Unit, UnitPosition

from .factories import make_position, make_source, make_unit

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).parent / "data" / "positions_sample.csv"
DAY = datetime.date(2023, 2, 1)


def day(offset):
    return (DAY + datetime.timedelta(days=offset)).isoformat()


def ids(response):
    assert response.status_code == HTTPStatus.OK, response.content
    return [row["id"] for row in response.json()["results"]]


def streamed(response):
    assert response.status_code == HTTPStatus.OK
    assert isinstance(response, StreamingHttpResponse), "exports are streamed"
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def division():
    """A division with a regiment under it (each with positions out of date order), and another unit."""
    division = make_unit(name="4th Guards Tank Division", country="RU", echelon="division")
    regiment = make_unit(name="13th Guards Tank Regiment", country="RU", echelon="regiment", parent=division)
    other = make_unit(name="47th Mechanized Brigade", country="UA")
    source = make_source(name="t.me/rybar", slug="t-me-rybar")
    positions = {
        "division_late": make_position(
            unit=division, date=DAY + datetime.timedelta(days=20), latitude=49.7, longitude=38.0
        ),
        "division_early": make_position(unit=division, date=DAY, latitude=49.8, longitude=38.2),
        "regiment_mid": make_position(
            unit=regiment, date=DAY + datetime.timedelta(days=10), latitude=49.6, longitude=37.8, source=source
        ),
        "regiment_early": make_position(
            unit=regiment, date=DAY + datetime.timedelta(days=1), latitude=49.74, longitude=38.06, strength="2 BTGs"
        ),
        "other_position": make_position(
            unit=other, date=DAY + datetime.timedelta(days=5), latitude=48.15, longitude=37.74
        ),
    }
    return {"division": division, "regiment": regiment, "other": other, "source": source, **positions}


# --- Writing and reading ------------------------------------------------------------------


def test_a_curator_records_a_position_and_anyone_reads_it(api, curator_api):
    unit, source = make_unit(name="155th Naval Infantry Brigade", country="RU"), make_source()
    response = curator_api.post(
        "/api/unit-positions/",
        {
            "unit": unit.pk,
            "date": "2023-02-08",
            "date_precision": "week",
            "latitude": 47.7655,
            "longitude": 37.2601,
            "strength": "about 1,200",
            "source": source.pk,
            "source_url": "https://t.me/rybar/43050",
            "source_date": "2023-02-09",
            "notes": "Assault on Vuhledar.",
        },
    )
    assert response.status_code == HTTPStatus.CREATED, response.json()
    created = response.json()
    assert response["Location"].endswith(f"/api/unit-positions/{created['id']}/")
    assert created["unit"]["name"] == "155th Naval Infantry Brigade"
    assert created["location_precision"] == "exact", "the default"
    detail = api.get(f"/api/unit-positions/{created['id']}/")
    assert detail.status_code == HTTPStatus.OK
    assert detail.json() == created
    assert (detail.json()["source"]["id"], detail.json()["strength"]) == (source.pk, "about 1,200")


def test_writes_need_the_permission(api, reader_api):
    body = {"unit": make_unit().pk, "date": "2023-02-08", "latitude": 47.7, "longitude": 37.2}
    assert api.post("/api/unit-positions/", body).status_code == HTTPStatus.UNAUTHORIZED
    assert reader_api.post("/api/unit-positions/", body).status_code == HTTPStatus.FORBIDDEN
    assert not UnitPosition.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"latitude": 95.2}, "latitude"),
        ({"longitude": -181}, "longitude"),
        ({"latitude": None}, "latitude"),
        ({"date": "2023-02-30"}, "date"),
        ({"unit": 999999}, "unit"),
        ({"date_precision": "fortnight"}, "date_precision"),
        ({"source_url": "not an address"}, "source_url"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(curator_api, change, field):
    body = {"unit": make_unit().pk, "date": "2023-02-08", "latitude": 47.7, "longitude": 37.2, **change}
    response = curator_api.post("/api/unit-positions/", body)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json(), response.json()
    assert not UnitPosition.objects.exists()


def test_a_curator_moves_and_deletes_a_position(curator_api):
    position = make_position()
    response = curator_api.patch(f"/api/unit-positions/{position.pk}/", {"latitude": 51.2, "longitude": 35.3})
    assert response.status_code == HTTPStatus.OK
    assert (response.json()["latitude"], response.json()["longitude"]) == (51.2, 35.3)
    assert curator_api.delete(f"/api/unit-positions/{position.pk}/").status_code == HTTPStatus.NO_CONTENT
    deletions = curator_api.get("/api/deletions/?resource=unit-positions").json()["results"]
    assert [(row["resource"], row["id"]) for row in deletions] == [("unit-positions", position.pk)]


def test_list_rows_equal_their_detail(api, division):
    page = api.get("/api/unit-positions/?limit=1000").json()
    assert page["count"] == len(page["results"]) == 5
    for row in page["results"]:
        assert row == api.get(f"/api/unit-positions/{row['id']}/").json()


# --- A unit's track -------------------------------------------------------------------------


def test_the_list_is_in_unit_then_date_order(api, division):
    units = [division["division"], division["regiment"], division["other"]]
    expected = sorted(
        UnitPosition.objects.filter(unit__in=units), key=lambda position: (position.unit_id, position.date, position.pk)
    )
    assert ids(api.get("/api/unit-positions/")) == [position.pk for position in expected]


def test_a_units_track_has_its_sub_units_positions_in_date_order(api, division):
    track = ids(api.get(f"/api/units/{division['division'].pk}/track/"))
    assert track == [
        division[name].pk for name in ("division_early", "regiment_early", "regiment_mid", "division_late")
    ]
    assert ids(api.get(f"/api/units/{division['regiment'].pk}/track/")) == [
        division["regiment_early"].pk,
        division["regiment_mid"].pk,
    ]
    newest_first = ids(api.get(f"/api/units/{division['division'].pk}/track/?ordering=-date"))
    assert newest_first == track[::-1]


def test_a_track_takes_the_lists_filters(api, division):
    url = f"/api/units/{division['division'].pk}/track/"
    assert ids(api.get(f"{url}?date_from={day(1)}&date_to={day(10)}")) == [
        division["regiment_early"].pk,
        division["regiment_mid"].pk,
    ]
    assert ids(api.get(f"{url}?source={division['source'].pk}")) == [division["regiment_mid"].pk]
    assert ids(api.get(f"{url}?q=btg")) == [division["regiment_early"].pk]
    response = api.get(f"{url}?unit={division['other'].pk}")
    assert response.status_code == HTTPStatus.BAD_REQUEST, "the unit is the one in the path"
    assert "unit" in response.json()


def test_the_track_of_no_unit_is_a_404(api):
    assert api.get("/api/units/999999/track/").status_code == HTTPStatus.NOT_FOUND
    assert api.get("/api/units/99999999999999999999999/track/").status_code == HTTPStatus.NOT_FOUND
    assert api.get("/api/units/first/track/").status_code == HTTPStatus.NOT_FOUND


def test_the_unit_filter_takes_in_sub_units(api, division):
    whole = set(ids(api.get(f"/api/unit-positions/?unit={division['division'].pk}")))
    assert whole == {
        division[name].pk for name in ("division_late", "division_early", "regiment_mid", "regiment_early")
    }
    alone = set(ids(api.get(f"/api/unit-positions/?unit__exact={division['division'].pk}")))
    assert alone == {division["division_late"].pk, division["division_early"].pk}
    both = set(ids(api.get(f"/api/unit-positions/?unit__in={division['regiment'].pk},{division['other'].pk}")))
    assert both == {division["regiment_mid"].pk, division["regiment_early"].pk, division["other_position"].pk}


def test_date_window_country_and_source(api, division):
    window = ids(api.get(f"/api/unit-positions/?date_from={day(5)}&date_to={day(10)}"))
    assert set(window) == {division["other_position"].pk, division["regiment_mid"].pk}
    assert ids(api.get("/api/unit-positions/?country=UA")) == [division["other_position"].pk]
    assert len(ids(api.get("/api/unit-positions/?country__in=RU,UA"))) == 5
    assert ids(api.get(f"/api/unit-positions/?source={division['source'].pk}")) == [division["regiment_mid"].pk]
    assert len(ids(api.get("/api/unit-positions/?source__isnull=true"))) == 4


def test_bbox(api, division):
    assert ids(api.get("/api/unit-positions/?bbox=37,48,38,48.5")) == [division["other_position"].pk]
    assert len(ids(api.get("/api/unit-positions/?bbox=37,48,39,50"))) == 5


@pytest.mark.parametrize("bbox", ["34,50,39", "34,50,39,x", "39,50,34,53", "34,-91,39,53"])
def test_a_bad_bbox_is_the_same_400_as_for_events(api, bbox):
    response = api.get(f"/api/unit-positions/?bbox={bbox}")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == api.get(f"/api/events/?bbox={bbox}").json()
    assert list(response.json()) == ["bbox"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("contry=RU", "contry"),
        ("date_from=yesterday", "date_from"),
        ("unit=0", "unit"),
        ("country=XX", "country"),
        ("ordering=-strength", "ordering"),
        ("lines=true", "lines"),
        ("lines=maybe&format=geojson", "lines"),
        ("format=stix", "format"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(api, query, parameter):
    response = api.get(f"/api/unit-positions/?{query}")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert parameter in response.json(), response.json()


def test_lines_are_for_lists_only(api):
    position = make_position()
    response = api.get(f"/api/unit-positions/{position.pk}/?format=geojson&lines=true")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "lines" in response.json()


def test_modified_since_sees_a_renamed_unit(api, division):
    since = datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")
    assert ids(api.get("/api/unit-positions/", {"modified_since": since})) == []
    division["other"].name = "47th Separate Mechanized Brigade"
    division["other"].save()
    assert ids(api.get("/api/unit-positions/", {"modified_since": since})) == [division["other_position"].pk]


# --- Exports ------------------------------------------------------------------------------


def test_geojson_points(api, division):
    response = api.get("/api/unit-positions/?format=geojson")
    assert response["Content-Type"] == "application/geo+json"
    assert 'filename="unit-positions.geojson"' in response["Content-Disposition"]
    collection = json.loads(streamed(response))
    assert collection["type"] == "FeatureCollection"
    features = {feature["id"]: feature for feature in collection["features"]}
    assert len(features) == 5
    regiment = features[division["regiment_mid"].pk]
    assert regiment["geometry"] == {"type": "Point", "coordinates": [37.8, 49.6]}, "[lon, lat] order"
    properties = regiment["properties"]
    assert (properties["unit_id"], properties["unit_name"]) == (division["regiment"].pk, "13th Guards Tank Regiment")
    assert (properties["date"], properties["date_precision"]) == (day(10), "day")
    assert (properties["source_id"], properties["source_name"]) == (division["source"].pk, "t.me/rybar")
    assert features[division["regiment_early"].pk]["properties"]["strength"] == "2 BTGs"
    assert {"notes", "location_precision"} <= set(properties)


def test_a_position_alone_as_geojson_and_csv(api, division):
    position = division["regiment_mid"]
    feature = api.get(f"/api/unit-positions/{position.pk}/?format=geojson").json()
    assert (feature["type"], feature["id"], feature["geometry"]) == (
        "Feature",
        position.pk,
        {"type": "Point", "coordinates": [37.8, 49.6]},
    )
    assert feature["properties"]["unit_name"] == "13th Guards Tank Regiment"
    _, row = api.get(f"/api/unit-positions/{position.pk}/?format=csv").content.decode().splitlines()
    assert row.startswith(f"{position.pk},")


def test_the_schema_documents_the_track_and_its_lines(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    track = schema["paths"]["/api/units/{id}/track/"]["get"]
    parameters = {parameter["name"]: parameter for parameter in track["parameters"]}
    assert parameters["lines"]["schema"] == {"type": "boolean"} and "geojson" in parameters["lines"]["description"]
    assert {"bbox", "date_from", "date_to", "source", "country", "limit", "ordering"} <= set(parameters)
    assert not {"unit", "unit__in", "If-None-Match"} & set(parameters), "the unit is the path's"
    assert parameters["id"]["description"] == "The unit's id."
    ok = track["responses"]["200"]
    assert "ETag" not in ok.get("headers", {}) and "304" not in track["responses"], "a list has no ETag"
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PaginatedUnitPositionList"}
    collection = {"$ref": "#/components/schemas/UnitPositionFeatureCollection"}
    assert ok["content"]["application/geo+json"]["schema"] == collection
    listed = schema["paths"]["/api/unit-positions/"]["get"]["responses"]["200"]["content"]["application/geo+json"]
    assert listed["schema"] == collection
    assert {"UnitPositionFeature", "UnitTrackFeature"} <= set(schema["components"]["schemas"])


def test_geojson_lines_join_each_units_positions_in_date_order(api, division):
    collection = json.loads(streamed(api.get("/api/unit-positions/?format=geojson&lines=true")))
    points = [feature for feature in collection["features"] if feature["geometry"]["type"] == "Point"]
    lines = [feature for feature in collection["features"] if feature["geometry"]["type"] == "LineString"]
    assert len(points) == 5
    assert collection["features"][-len(lines) :] == lines, "the lines come after the points"
    by_unit = {line["properties"]["unit_id"]: line for line in lines}
    assert set(by_unit) == {division["division"].pk, division["regiment"].pk}, "one position draws no line"
    regiment = by_unit[division["regiment"].pk]
    assert regiment["geometry"]["coordinates"] == [[38.06, 49.74], [37.8, 49.6]]
    assert regiment["properties"] == {
        "unit_id": division["regiment"].pk,
        "unit_name": "13th Guards Tank Regiment",
        "first_date": day(1),
        "last_date": day(10),
        "positions": 2,
    }
    assert by_unit[division["division"].pk]["geometry"]["coordinates"] == [[38.2, 49.8], [38.0, 49.7]]


def test_a_tracks_geojson_and_csv(api, division):
    url = f"/api/units/{division['regiment'].pk}/track/"
    collection = json.loads(streamed(api.get(f"{url}?format=geojson&lines=true")))
    kinds = [feature["geometry"]["type"] for feature in collection["features"]]
    assert kinds == ["Point", "Point", "LineString"]
    csv_text = streamed(api.get(f"{url}?format=csv"))
    header, *rows = csv_text.splitlines()
    assert header.startswith("id,url,unit_id,unit_name,date,")
    assert [row.split(",")[0] for row in rows] == [str(division["regiment_early"].pk), str(division["regiment_mid"].pk)]


def test_geojson_of_a_page_draws_the_lines_of_its_positions(api, division):
    collection = json.loads(streamed(api.get("/api/unit-positions/?format=geojson&lines=true&limit=3")))
    points = [feature["id"] for feature in collection["features"] if feature["geometry"]["type"] == "Point"]
    lines = [feature for feature in collection["features"] if feature["geometry"]["type"] == "LineString"]
    # The page: the division's two positions and the regiment's first (unit, then date order).
    assert points == [division[name].pk for name in ("division_early", "division_late", "regiment_early")]
    assert [(line["properties"]["unit_id"], line["properties"]["positions"]) for line in lines] == [
        (division["division"].pk, 2)
    ]


# --- Queries --------------------------------------------------------------------------------


def queries(api, url):
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == HTTPStatus.OK
    return len(captured), response.json()["count"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/unit-positions/?unit={unit}&bbox=30,40,40,60&date_from=2023-01-01&source={source}&country=RU",
        "/api/units/{unit}/track/?date_to=2030-01-01",
        "/api/units/{unit}/track/",
    ],
)
def test_a_list_costs_the_same_queries_for_one_row_or_fifty(api, url):
    parent, source = make_unit(country="RU"), make_source()

    def add(count):
        for n in range(count):
            make_position(unit=make_unit(parent=parent, country="RU"), source=source, latitude=50 + n / 100)

    url = url.format(unit=parent.pk, source=source.pk)
    add(1)
    one, rows = queries(api, url)
    assert rows == 1
    add(49)
    fifty, rows = queries(api, url)
    assert rows == 50
    assert one == fifty


# --- The importer ---------------------------------------------------------------------------


def unit(name):
    return Unit.objects.get(name=name)


def test_importing_the_sample_file(tmp_path):
    summary = import_positions(path=SAMPLE)
    assert (summary.rows, summary.created, summary.updated, summary.unchanged, summary.rejected) == (25, 23, 0, 0, 2)
    assert (summary.units_created, summary.sources_created) == (12, 7)
    assert UnitPosition.objects.count() == 23
    # The hierarchy, with parents only named in subordinate_to.
    regiment = unit("13th Guards Tank Regiment")
    assert (regiment.parent.name, regiment.parent.parent.name) == ("4th Guards Tank Division", "1st Guards Tank Army")
    assert regiment.parent.parent.parent is None
    assert (unit("1st Guards Tank Army").country.code, unit("1st Guards Tank Army").echelon) == ("RU", "army")
    assert unit("423rd Guards Motor Rifle Regiment").parent == regiment.parent
    marines = unit("155-я отдельная гвардейская бригада морской пехоты")
    assert (marines.echelon, marines.parent.name, marines.parent.echelon) == (
        "brigade",
        "14-й армейский корпус",
        "corps",
    )
    assert (unit("Kastuś Kalinoŭski Regiment").parent.name, unit("International Legion").country.code) == (
        "International Legion",
        "UA",
    )
    assert unit("3rd Assault Brigade").country.code == "UA", "UKR"
    assert unit("1st Separate Assault Battalion Da Vinci Wolves").echelon == "battalion"
    assert unit("47th Mechanized Brigade").parent is None
    # Sources by the address's host, or the account on a social network.
    assert set(Source.objects.values_list("slug", "kind")) >= {
        ("understandingwar-org", "media"),
        ("t-me-rybar", "social_media"),
        ("mil-gov-ua", "government"),
    }
    first = UnitPosition.objects.get(unit=regiment, date="2023-01-20")
    assert (first.latitude, first.longitude, first.strength, first.source.slug) == (
        49.7412,
        38.0581,
        "~1 BTG",
        "understandingwar-org",
    )
    assert first.source_date == datetime.date(2023, 1, 21)
    assert first.history.get().history_change_reason == "unit positions import of positions_sample.csv"
    # Bad rows are reported by the line they start on (a note above holds a newline) and their column.
    assert [(problem.line, problem.column) for problem in summary.problems] == [(11, "date"), (22, "lat")]
    assert "2023-02-30" in summary.problems[0].message
    assert not UnitPosition.objects.filter(latitude=95.2).exists()


def test_importing_the_same_file_again_changes_nothing():
    import_positions(path=SAMPLE)
    before = (Unit.history.count(), Source.history.count(), UnitPosition.history.count())
    stamps = list(UnitPosition.objects.order_by("pk").values_list("updated_at", flat=True))
    again = import_positions(path=SAMPLE)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 23, 2)
    assert (again.units_created, again.sources_created, again.warnings) == (0, 0, [])
    assert (Unit.history.count(), Source.history.count(), UnitPosition.history.count()) == before
    assert list(UnitPosition.objects.order_by("pk").values_list("updated_at", flat=True)) == stamps


def test_a_changed_row_updates_its_position(tmp_path):
    import_positions(path=SAMPLE)
    changed = tmp_path / "positions.csv"
    changed.write_text(SAMPLE.read_text(encoding="utf-8").replace("~1 BTG", "2 BTGs"), encoding="utf-8")
    summary = import_positions(path=changed)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 22)
    position = UnitPosition.objects.get(unit=unit("13th Guards Tank Regiment"), date="2023-01-20")
    assert position.strength == "2 BTGs"
    assert [entry.history_type for entry in position.history.all()] == ["~", "+"]


def test_small_batches_give_the_same_hierarchy():
    summary = import_positions(path=SAMPLE, batch_size=2)
    assert (summary.created, summary.units_created) == (23, 12)
    division = unit("4th Guards Tank Division")
    assert (division.echelon, division.parent.name) == ("division", "1st Guards Tank Army")
    assert [entry.history_type for entry in division.history.all()] == ["~", "+"], "completed by a later batch"


def test_a_dry_run_writes_nothing():
    summary = import_positions(path=SAMPLE, dry_run=True)
    assert (summary.created, summary.rejected, summary.units_created) == (23, 2, 12)
    assert str(summary).startswith("Dry run, nothing was saved.")
    assert not UnitPosition.objects.exists() and not Unit.objects.exists() and not Source.objects.exists()
    assert not UnitPosition.history.exists()


def test_units_are_matched_by_name_or_alias_ignoring_case_and_left_as_they_are():
    division = make_unit(
        name="4th Guards Kantemirovskaya Tank Division",
        aliases=["4TH GUARDS TANK DIVISION", "Кантемировская дивизия"],
        country="RU",
        echelon="division",
    )
    marines = make_unit(name="155-Я ОТДЕЛЬНАЯ ГВАРДЕЙСКАЯ БРИГАДА МОРСКОЙ ПЕХОТЫ", country="RU")
    summary = import_positions(path=SAMPLE)
    assert summary.units_created == 8, "the division, the army over it, the marines and their corps are not created"
    assert unit("13th Guards Tank Regiment").parent == division
    assert UnitPosition.objects.filter(unit=division).count() == 2
    assert UnitPosition.objects.filter(unit=marines).count() == 4
    division.refresh_from_db()
    assert division.parent is None and not Unit.objects.filter(name="1st Guards Tank Army").exists()
    # The file puts the division under an army and the marines under a corps: the rows are
    # imported, with a warning that the units are left where they were.
    warned = [(warning.line, warning.column) for warning in summary.warnings]
    assert warned == [(line, "subordinate_to") for line in (9, 10, 12, 13, 14, 15)]
    assert "left there" in summary.warnings[0].message


def test_a_source_is_found_by_its_home_page():
    isw = make_source(name="Institute for the Study of War", slug="isw", homepage="https://www.understandingwar.org/")
    summary = import_positions(path=SAMPLE)
    assert summary.sources_created == 6
    assert UnitPosition.objects.filter(source=isw).count() == 4
    assert not Source.objects.filter(slug="understandingwar-org").exists()


def test_the_command_reports_progress_problems_and_a_summary(tmp_path):
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("import_positions", str(SAMPLE), stdout=stdout, stderr=stderr)
    assert "25 rows" in stdout.getvalue() and "23 created, 0 updated, 0 unchanged, 2 rejected" in stdout.getvalue()
    assert "12 new units" in stdout.getvalue()
    assert "rejected line 11, column date: '2023-02-30' is not a date" in stderr.getvalue()
    assert "rejected line 22, column lat:" in stderr.getvalue()
    other = tmp_path / "events.csv"
    shutil.copy(Path(__file__).parent / "data" / "acled_sample.csv", other)
    with pytest.raises(CommandError, match="not a unit positions file"):
        call_command("import_positions", str(other), stdout=io.StringIO(), stderr=io.StringIO())


def test_rows_naming_an_unknown_unit_without_a_country_or_a_unit_under_itself_are_rejected(tmp_path):
    path = tmp_path / "positions.csv"
    path.write_text(
        "date,lat,lng,unit,subordinate_to,country,strength,type,sources_url,sources_date,notes\n"
        "2023-01-20,49.7,38.0,Unknown Group,,,,,,,\n"
        "2023-01-20,49.7,38.0,Group Sever,Group Sever,Russia,,,,,\n"
        "2023-01-21,49.7,38.0,Group Sever,,Narnia,,,,,\n"
        "2023-01-22,49.7,38.0,Group Sever,,Russia,,,,,\n"
        "2023-01-22,49.7,38.0,group sever,,RU,,,,,\n",
        encoding="utf-8",
    )
    summary = import_positions(path=path)
    assert [(problem.line, problem.column) for problem in summary.problems] == [
        (2, "country"),
        (3, "subordinate_to"),
        (4, "country"),
        (6, ""),
    ]
    assert "same unit, date and place as line 5" in summary.problems[-1].message
    assert summary.created == 1 and list(Unit.objects.values_list("name", flat=True)) == ["Group Sever"]


# --- The admin ------------------------------------------------------------------------------


def test_admin_lists_searches_and_links_positions_from_the_unit(staff_client, division):
    changelist = reverse("admin:events_unitposition_changelist")
    response = staff_client.get(changelist)
    assert response.status_code == HTTPStatus.OK
    assert response.context["cl"].result_count == 5
    found = staff_client.get(changelist, {"q": "13th Guards"})
    assert {position.pk for position in found.context["cl"].result_list} == {
        division["regiment_mid"].pk,
        division["regiment_early"].pk,
    }
    within = staff_client.get(changelist, {"within": division["division"].pk, "date_precision__exact": "day"})
    assert within.context["cl"].result_count == 4
    page = staff_client.get(reverse("admin:events_unit_change", args=[division["division"].pk]))
    assert page.status_code == HTTPStatus.OK
    html = page.content.decode()
    assert f"{changelist}?unit__id__exact={division['division'].pk}" in html and "2 unit positions" in html
    exact = staff_client.get(changelist, {"unit__id__exact": division["division"].pk})
    assert exact.context["cl"].result_count == 2
    change = staff_client.get(reverse("admin:events_unitposition_change", args=[division["other_position"].pk]))
    assert change.status_code == HTTPStatus.OK


def test_a_position_has_the_defaults_its_fields_say():
    position = make_position()
    assert (position.date_precision, position.location_precision) == (
        choices.DatePrecision.DAY,
        choices.LocationPrecision.EXACT,
    )
    assert str(position) == f"{position.unit} on 2025-01-11"
