"""CSV and GeoJSON exports with the same filters as the JSON lists."""

import csv
import datetime
import io
import json
from http import HTTPStatus
from urllib.parse import unquote

import pandas
import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone

from events.models import CasualtyReport, CasualtyReportLink, Event, EventLink, Source, Unit

from .factories import make_event, make_report, make_source, make_unit

pytestmark = pytest.mark.django_db


def body(response):
    assert isinstance(response, StreamingHttpResponse), "exports are streamed"
    return b"".join(response.streaming_content).decode()


def csv_rows(response):
    return list(csv.DictReader(io.StringIO(body(response))))


def test_csv_export_of_a_filtered_list(api):
    source = make_source(name="National Intelligence Service")
    unit = make_unit(name="94th Brigade")
    kursk = make_event(
        title="Withdrawal", country="RU", admin1="Kursk Oblast", units=[unit], citations=[(source, "confirmed_by")]
    )
    make_event(title="Elsewhere", country="UA")
    response = api.get("/api/events/?format=csv&country=RU")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="events.csv"' in response["Content-Disposition"]
    rows = csv_rows(response)
    assert [row["id"] for row in rows] == [str(kursk.pk)]
    row = rows[0]
    assert row["title"] == "Withdrawal"
    assert row["admin1"] == "Kursk Oblast"
    assert (row["units"], row["units_ids"]) == ("94th Brigade (participant)", str(unit.pk))
    assert (row["citations"], row["citations_source_ids"]) == (
        "National Intelligence Service (confirmed_by)",
        str(source.pk),
    )
    assert row["status"] == "confirmed"
    assert row["url"].endswith(f"/api/events/{kursk.pk}/")


def test_csv_by_accept_header_and_nested_columns(api):
    unit = make_unit(name="11th Corps")
    report = make_report(unit=unit, low=10, best=20, high=30)
    response = api.get("/api/casualty-reports/", HTTP_ACCEPT="text/csv")
    rows = csv_rows(response)
    assert len(rows) == 1
    assert (rows[0]["unit_id"], rows[0]["unit_name"]) == (str(unit.pk), "11th Corps")
    assert (rows[0]["low"], rows[0]["best"], rows[0]["high"]) == ("10", "20", "30")
    assert rows[0]["id"] == str(report.pk)


@pytest.mark.parametrize("endpoint", ["sources", "units", "events", "casualty-reports", "event-links"])
def test_every_list_exports_csv_with_the_json_rows(api, endpoint):
    make_source(), make_unit(), make_event(), make_report()
    json_ids = [row["id"] for row in api.get(f"/api/{endpoint}/").json()["results"]]
    rows = csv_rows(api.get(f"/api/{endpoint}/?format=csv"))
    assert [int(row["id"]) for row in rows] == json_ids


def test_csv_export_is_not_paginated_unless_asked(api):
    for _ in range(60):
        make_source()
    assert len(csv_rows(api.get("/api/sources/?format=csv"))) == 60
    assert len(csv_rows(api.get("/api/sources/?format=csv&limit=10&offset=55"))) == 5


def test_empty_export_still_has_its_header(api):
    rows = body(api.get("/api/events/?format=csv")).splitlines()
    assert rows[0].startswith("id,url,title,")
    assert len(rows) == 1


def test_export_errors_are_json(api):
    response = api.get("/api/events/?format=csv&contry=RU")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Content-Type"] == "application/json"
    assert "contry" in response.json()


def test_detail_as_csv(api):
    event = make_event(title="Capture")
    rows = list(csv.DictReader(io.StringIO(api.get(f"/api/events/{event.pk}/?format=csv").content.decode())))
    assert [row["title"] for row in rows] == ["Capture"]


def geojson(api, query=""):
    response = api.get(f"/api/events/?format=geojson{query}")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/geo+json"
    return body(response)


def test_geojson_feature_collection(api):
    kursk = make_event(title="Strike", latitude=51.7, longitude=36.2, location_precision="admin1")
    undated_place = make_event(title="Somewhere in Russia")
    collection = json.loads(geojson(api))
    assert collection["type"] == "FeatureCollection"
    features = {feature["id"]: feature for feature in collection["features"]}
    assert features[kursk.pk]["geometry"] == {"type": "Point", "coordinates": [36.2, 51.7]}, "[lon, lat] order"
    assert features[kursk.pk]["properties"]["title"] == "Strike"
    assert features[undated_place.pk]["geometry"] is None
    assert json.loads(geojson(api, "&has_coordinates=true"))["features"][0]["id"] == kursk.pk


def test_geojson_of_a_box_or_a_circle_streams_their_features_nearest_first(api):
    kursk = make_event(title="Kursk", latitude=51.73, longitude=36.19)
    sudzha = make_event(title="Sudzha", latitude=51.19, longitude=35.27)
    make_event(title="Ramstein", latitude=49.4369, longitude=7.6003)
    in_box = json.loads(geojson(api, "&bbox=34,50,39,53"))
    assert {feature["id"] for feature in in_box["features"]} == {kursk.pk, sudzha.pk}
    near = json.loads(geojson(api, "&near=51.2,35.3,200&ordering=distance"))
    assert [feature["id"] for feature in near["features"]] == [sudzha.pk, kursk.pk]


def test_geojson_opens_in_geopandas(api, tmp_path):
    """geopandas reads it through GDAL's GeoJSON driver, the one QGIS uses."""
    import geopandas

    make_event(title="Withdrawal", latitude=51.7, longitude=36.2, citations=[(make_source(), "claimed_by")])
    make_event(title="Ramstein", latitude=49.4369, longitude=7.6003)
    path = tmp_path / "events.geojson"
    path.write_text(geojson(api, "&has_coordinates=true"))
    frame = geopandas.read_file(path)
    assert sorted(frame["title"]) == ["Ramstein", "Withdrawal"]
    assert frame.crs.to_epsg() == 4326
    ramstein = frame[frame["title"] == "Ramstein"].geometry.iloc[0]
    assert (ramstein.x, ramstein.y) == (7.6003, 49.4369)


def test_geojson_is_only_for_events(api):
    response = api.get("/api/sources/?format=geojson")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "csv" in response.json()["format"][0]
    assert api.get("/api/sources/", HTTP_ACCEPT="application/geo+json").status_code == HTTPStatus.NOT_ACCEPTABLE


def stix_objects(response, expected_type):
    import stix2

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/stix+json;version=2.1"
    bundle = response.json()
    stix2.parse(json.dumps(bundle), allow_custom=False)
    return [obj for obj in bundle["objects"] if obj["type"] == expected_type]


def test_stix_export_uses_the_list_filters_and_pages(api):
    make_event(title="In Russia", country="RU", citations=[(make_source(), "claimed_by")])
    make_event(title="In Ukraine", country="UA")
    make_event(title="Also in Russia", country="RU")
    reports = stix_objects(api.get("/api/events/?format=stix&country=RU&limit=1"), "report")
    assert [report["name"] for report in reports] == ["Also in Russia"]
    response = api.get("/api/events/?format=stix&country=RU&limit=1")
    assert 'rel="next"' in response["Link"]
    assert len(stix_objects(api.get("/api/events/?format=stix&country=RU"), "report")) == 2


def test_stix_export_of_claims_and_of_one_record(api):
    report = make_report(best=4000, citations=[(make_source(name="Volodymyr Zelenskyy"), "claimed_by")])
    notes = stix_objects(api.get("/api/casualty-reports/?format=stix", HTTP_ACCEPT="*/*"), "note")
    assert len(notes) == 1
    extension = next(iter(notes[0]["extensions"].values()))
    assert extension["best"] == 4000
    one = api.get(f"/api/casualty-reports/{report.pk}/?format=stix")
    assert len(stix_objects(one, "note")) == 1
    assert one["ETag"] == api.get(f"/api/casualty-reports/{report.pk}/")["ETag"]
    again = api.get(f"/api/casualty-reports/{report.pk}/?format=stix", HTTP_IF_NONE_MATCH=one["ETag"])
    assert again.status_code == HTTPStatus.NOT_MODIFIED
    assert api.get("/api/sources/?format=stix").status_code == HTTPStatus.BAD_REQUEST


# Reading the CSV back in a data tool.

LISTS = ["sources", "units", "events", "casualty-reports", "casualty-report-links", "event-links"]
TIMESTAMP = "%Y-%m-%dT%H:%M:%S.%f%z"  # one format for every time of every export


def read_export(api, path):
    """The export as pandas reads it, every column as text (an id list like "7" is not a number)."""
    return pandas.read_csv(io.StringIO(body(api.get(path))), dtype=str, keep_default_na=False)


@pytest.mark.parametrize("endpoint", LISTS)
def test_times_are_in_one_format_pandas_parses_to_the_microsecond(api, endpoint):
    source, _ = make_source(), make_unit()
    report, other = make_report(citations=[(source, "claimed_by")]), make_report()
    event = make_event(citations=[(source, "claimed_by")])
    EventLink.objects.create(from_claim=event, to_claim=make_event(), relation="confirms", source=source)
    CasualtyReportLink.objects.create(from_claim=report, to_claim=other, relation="supersedes", source=source)
    for model in (Source, Unit, Event, CasualtyReport, EventLink, CasualtyReportLink):
        # A time on the second exactly, which the JSON writes without its microseconds.
        model.objects.filter(pk=model.objects.order_by("pk").first().pk).update(
            created_at=timezone.make_aware(datetime.datetime(2025, 1, 2, 3, 4, 5))
        )
    listed = api.get(f"/api/{endpoint}/?limit=1000").json()["results"]

    frame = read_export(api, f"/api/{endpoint}/?format=csv")

    for column in ("created_at", "updated_at"):
        times = pandas.to_datetime(frame[column], format=TIMESTAMP)  # raises on a value in another form
        assert isinstance(times.dtype, pandas.DatetimeTZDtype) and str(times.dt.tz) == "UTC"
        assert list(times) == [pandas.Timestamp(row[column]) for row in listed]
        assert set(frame[column].str.len()) == {len("2025-01-02T03:04:05.000000Z")}
    assert "2025-01-02T03:04:05.000000Z" in set(frame["created_at"])


def split(column):
    return column.str.split("; ").map(lambda items: [] if items == [""] else items)


def test_inline_lists_split_without_ambiguity_and_join_to_sources_and_units_by_id(api):
    tricky = make_source(name="Rybar; “milblogger” (Telegram) 100%")
    plain = make_source(name="National Intelligence Service")
    unit = make_unit(name="11th Corps; Kursk group (north)")
    event = make_event(units=[unit, make_unit()], citations=[(tricky, "claimed_by"), (plain, "confirmed_by")])
    make_event(citations=[(plain, "reported_by"), (tricky, "disputed_by"), (tricky, "reported_by")])
    make_event()
    make_report(event=event, citations=[(plain, "claimed_by"), (tricky, "reported_by")])
    sources = read_export(api, "/api/sources/?format=csv")[["id", "name"]]
    units = read_export(api, "/api/units/?format=csv")[["id", "name"]]

    for path, column, ids, others in [
        ("events", "citations", "citations_source_ids", sources),
        ("events", "units", "units_ids", units),
        ("casualty-reports", "citations", "citations_source_ids", sources),
    ]:
        frame = read_export(api, f"/api/{path}/?format=csv")
        items = frame.assign(item=split(frame[column]), other_id=split(frame[ids])).explode(["item", "other_id"])
        items = items.dropna(subset=["item"])
        joined = items.merge(others, left_on="other_id", right_on="id", suffixes=("", "_other"), validate="m:1")
        name_and_role = joined["item"].str.rsplit(" (", n=1)
        from_the_csv = list(
            zip(
                joined["id"],
                joined["name"],
                name_and_role.str[0].map(unquote),
                name_and_role.str[1].str[:-1],
                strict=True,
            )
        )

        nested = "source" if column == "citations" else "unit"
        expected = [
            (str(record["id"]), item[nested]["name"], item[nested]["name"], item["role"])
            for record in api.get(f"/api/{path}/?limit=1000").json()["results"]
            for item in record[column]
        ]
        assert from_the_csv == expected, path
