"""The shipped seed fixture: every claim of the Kursk article, queried the way a user would, through the API."""

import io
import json
import shlex
from collections import Counter
from http import HTTPStatus
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from events.services import historied_models

from .factories import make_source

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED_FIXTURE = REPO_ROOT / "fixtures" / "seed.json"
MAKEFILE = REPO_ROOT / "Makefile"
ARTICLE = Path(__file__).resolve().parents[2] / "shared" / "seed" / "kursk-north-korean-troops-2025.txt"

# Kursk Oblast lies within about 34.0–38.6 E, 50.8–52.5 N.
KURSK_BBOX = "34.0,50.8,38.6,52.5"


@pytest.fixture
def seed(db):
    call_command("loaddata", str(SEED_FIXTURE), verbosity=0)


# Helpers.


def get(api, path, **params):
    response = api.get(path, {"limit": 1000, **params})
    assert response.status_code == HTTPStatus.OK, response.content
    return response.json()


def results(api, path, **params):
    body = get(api, path, **params)
    assert body["count"] == len(body["results"])
    return body["results"]


def one(api, path, **params):
    found = results(api, path, **params)
    assert len(found) == 1, found
    return found[0]


def source_id(api, slug):
    return one(api, "/api/sources/", slug=slug)["id"]


def contingent_id(api):
    return one(api, "/api/units/", echelon="contingent")["id"]


def cited_by(record):
    """The record's citations as a set of (source slug, role)."""
    return {(citation["source"]["slug"], citation["role"]) for citation in record["citations"]}


def all_cited_records(api):
    return results(api, "/api/events/") + results(api, "/api/casualty-reports/")


# Casualty reports.


def test_isw_projection_of_losing_the_whole_contingent_by_mid_april(api, seed):
    report = one(api, "/api/casualty-reports/", kind="projection")

    assert report["best"] == 12000
    assert report["category"] == "casualties"
    assert report["country"] == "KP"
    assert report["horizon_date"] == "2025-04-15"
    assert report["date_precision"] == "approximate"
    assert report["date_text"] == "by mid-April 2025"
    assert report["unit"]["id"] == contingent_id(api)
    assert cited_by(report) == {("isw", "claimed_by")}


def test_zelenskyy_4000_casualties_as_of_9_january(api, seed):
    zelenskyy = source_id(api, "zelenskyy")

    report = one(api, "/api/casualty-reports/", claimed_by=zelenskyy, best__gte=4000)

    assert report["best"] == 4000
    assert report["kind"] == "count"
    assert report["category"] == "casualties"
    assert report["country"] == "KP"
    assert report["as_of_date"] == "2025-01-09"
    [citation] = report["citations"]
    assert citation["source"]["slug"] == "zelenskyy"
    assert citation["published_date"] == "2025-01-09"
    assert "4,000" in citation["quote"]


def test_three_brigades_one_destroyed_two_with_heavy_losses_per_zelenskyy_to_ap(api, seed):
    brigades = results(api, "/api/units/", echelon="brigade")
    assert len(brigades) == 3

    reports = [one(api, "/api/casualty-reports/", unit=brigade["id"]) for brigade in brigades]

    for report in reports:
        assert (report["low"], report["best"], report["high"]) == (None, None, None)
        assert report["country"] == "KP"
        assert cited_by(report) == {("zelenskyy", "claimed_by"), ("ap", "reported_by")}
    destroyed = [report for report in reports if "completely destroyed" in report["description"]]
    heavy_losses = [report for report in reports if "heavy losses" in report["description"]]
    assert len(destroyed) == 1
    assert len(heavy_losses) == 2


def test_unit_filter_on_the_contingent_includes_its_brigades_reports(api, seed):
    brigade_ids = {brigade["id"] for brigade in results(api, "/api/units/", echelon="brigade")}
    contingent = contingent_id(api)

    reports = results(api, "/api/casualty-reports/", unit=contingent)

    units = {report["unit"]["id"] for report in reports}
    assert units == brigade_ids | {contingent}


def test_significant_casualties_claimed_by_nis_and_by_the_prisoner(api, seed):
    nis = source_id(api, "nis")
    soldier = source_id(api, "captured-north-korean-soldier")

    from_nis = one(api, "/api/casualty-reports/", claimed_by=nis)
    from_soldier = one(api, "/api/casualty-reports/", claimed_by=soldier)

    assert from_nis["id"] != from_soldier["id"]
    assert cited_by(from_nis) == {("nis", "claimed_by"), ("nyt", "reported_by")}
    assert cited_by(from_soldier) == {("captured-north-korean-soldier", "claimed_by"), ("nis", "reported_by")}
    for report in (from_nis, from_soldier):
        assert report["category"] == "casualties"
        assert (report["low"], report["best"], report["high"]) == (None, None, None)
        assert report["unit"]["id"] == contingent_id(api)
    assert from_nis["credibility"] == 2


def test_two_soldiers_captured_on_11_january_confirmed_by_nis(api, seed):
    report = one(api, "/api/casualty-reports/", category="captured")

    assert (report["low"], report["best"], report["high"]) == (2, 2, 2)
    assert report["kind"] == "count"
    assert report["as_of_date"] == "2025-01-11"
    assert report["credibility"] == 1
    assert report["event"]["type"] == "capture"
    assert report["event"]["start_date"] == "2025-01-11"
    assert cited_by(report) == {("ukraine-government", "claimed_by"), ("nis", "confirmed_by")}


def test_command_post_strike_dozens_of_officer_casualties_of_several_countries(api, seed):
    strike = one(api, "/api/events/", type="strike")

    report = one(api, "/api/casualty-reports/", event=strike["id"])

    assert report["country"] == ""
    assert (report["low"], report["best"], report["high"]) == (24, None, None)
    assert report["as_of_date"] == "2025-01-31"
    assert "dozens" in report["description"].lower()
    [citation] = report["citations"]
    assert (citation["source"]["slug"], citation["role"]) == ("zelenskyy", "claimed_by")
    assert citation["published_date"] == "2025-02-02"


# Events.


def test_january_window_returns_exactly_the_january_events(api, seed):
    events = results(api, "/api/events/", date_from="2025-01-01", date_to="2025-01-31")

    assert sorted(event["type"] for event in events) == ["capture", "statement", "strike", "withdrawal"]
    assert all(event["start_date"] >= "2025-01-01" and event["end_date"] <= "2025-01-31" for event in events)
    assert not any(event["expected"] for event in events)


def test_october_deployment_of_10000_to_12000_troops(api, seed):
    event = one(api, "/api/events/", type="deployment", expected=False)

    assert (event["personnel_low"], event["personnel_high"]) == (10000, 12000)
    assert (event["start_date"], event["end_date"]) == ("2024-10-01", "2024-10-31")
    assert event["date_precision"] == "month"
    assert event["date_text"] == "October"
    assert event["country"] == "RU"
    assert [citation["role"] for citation in event["citations"]] == ["claimed_by"] * 3
    assert {citation["source"]["slug"] for citation in event["citations"]} == {
        "us-government",
        "south-korea-government",
        "ukraine-government",
    }
    assert "Moscow and Pyongyang never confirmed" in event["description"]
    assert [link["unit"]["id"] for link in event["units"]] == [contingent_id(api)]


def test_new_deployment_by_mid_march_is_an_expectation(api, seed):
    event = one(api, "/api/events/", expected=True)

    assert event["type"] == "deployment"
    assert (event["start_date"], event["end_date"]) == ("2025-03-15", "2025-03-15")
    assert event["date_precision"] == "approximate"
    assert event["date_text"] == "by mid-March"
    assert cited_by(event) == {("unnamed-sources", "claimed_by")}


def test_nis_confirmed_the_withdrawal_and_the_capture(api, seed):
    nis = source_id(api, "nis")

    events = results(api, "/api/events/", source=nis, citation_role="confirmed_by")

    assert sorted(event["type"] for event in events) == ["capture", "withdrawal"]


def test_withdrawal_in_mid_january_reported_by_nyt_confirmed_by_nis(api, seed):
    event = one(api, "/api/events/", type="withdrawal")

    assert (event["start_date"], event["end_date"]) == ("2025-01-11", "2025-01-20")
    assert event["date_precision"] == "approximate"
    assert event["date_text"] == "mid-January 2025"
    assert event["admin1"] == "Kursk Oblast"
    assert cited_by(event) == {("nyt", "reported_by"), ("nis", "confirmed_by"), ("nis", "claimed_by")}


def test_kursk_bounding_box_finds_the_kursk_events_but_not_ramstein(api, seed):
    in_kursk = results(api, "/api/events/", bbox=KURSK_BBOX)

    assert sorted(event["type"] for event in in_kursk) == ["capture", "strike", "withdrawal"]
    assert {event["admin1"] for event in in_kursk} == {"Kursk Oblast"}
    ramstein = one(api, "/api/events/", country="DE")
    assert ramstein["place_name"] == "Ramstein Air Base"
    assert ramstein["location_precision"] == "exact"
    assert ramstein["id"] not in {event["id"] for event in in_kursk}


def test_ramstein_statement_on_9_january(api, seed):
    event = one(api, "/api/events/", type="statement")

    assert (event["start_date"], event["end_date"], event["date_precision"]) == ("2025-01-09", "2025-01-09", "day")
    assert cited_by(event) == {("zelenskyy", "claimed_by")}


# Units and sources.


def test_contingent_and_its_three_brigades(api, seed):
    contingent = contingent_id(api)

    units = results(api, "/api/units/", within=contingent)

    assert sorted(unit["echelon"] for unit in units) == ["brigade", "brigade", "brigade", "contingent"]
    assert all(unit["parent"]["id"] == contingent for unit in units if unit["echelon"] == "brigade")
    head = next(unit for unit in units if unit["id"] == contingent)
    assert (head["strength_low"], head["strength_high"]) == (10000, 12000)
    assert head["country"] == "KP"


def test_sources_and_their_reliability(api, seed):
    sources = results(api, "/api/sources/")

    assert {source["slug"]: source["reliability"] for source in sources} == {
        "nis": "B",
        "nyt": "B",
        "zelenskyy": "C",
        "ap": "B",
        "us-government": "B",
        "south-korea-government": "B",
        "ukraine-government": "C",
        "isw": "B",
        "unnamed-sources": "F",
        "captured-north-korean-soldier": "F",
    }
    assert all(source["citation_count"] > 0 for source in sources)


# Faithfulness to the article.


def test_every_record_is_cited_with_a_quote(api, seed):
    records = all_cited_records(api)

    assert records
    for record in records:
        assert record["citations"], record
        assert all(citation["quote"] for citation in record["citations"]), record


def test_every_quote_appears_verbatim_in_the_article(api, seed):
    if not ARTICLE.exists():
        pytest.skip(f"{ARTICLE} is not available")
    text = ARTICLE.read_text(encoding="utf-8")

    quotes = [citation["quote"] for record in all_cited_records(api) for citation in record["citations"]]

    assert quotes
    missing = [quote for quote in quotes if quote not in text]
    assert missing == []


def test_read_also_headlines_are_not_claims(api, seed):
    for word in ("tuberculosis", "30%", "train new soldiers"):
        assert get(api, "/api/events/", q=word)["count"] == 0
        assert get(api, "/api/casualty-reports/", q=word)["count"] == 0


def test_every_fixture_object_passes_full_clean(seed):
    checked = 0
    for model in apps.get_app_config("events").get_models():
        for instance in model.objects.all():
            instance.full_clean()
            checked += 1
    assert checked > 0


# Starting the service.


def setup_commands():
    """The manage.py commands of `make run`'s recipe, but the server, as call_command arguments."""
    recipe = MAKEFILE.read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    commands = [shlex.split(line.split("manage.py", 1)[1]) for line in recipe.splitlines() if "manage.py" in line]
    assert commands[-1][0] == "runserver"
    return commands[:-1]


def start_the_service():
    """What `make run` does before it serves."""
    output = io.StringIO()
    for command, *arguments in setup_commands():
        call_command(command, *arguments, stdout=output, stderr=io.StringIO())
    return output.getvalue()


def read(api, path):
    """A detail or a history, which take no list parameters."""
    response = api.get(path)
    assert response.status_code == HTTPStatus.OK, response.content
    return response.json()


def record_counts():
    return {model._meta.label: model.objects.count() for model in historied_models()}


def history_counts():
    return {model._meta.label: model.history.count() for model in historied_models()}


def test_the_first_start_loads_the_seed_with_a_created_entry_for_every_record(db, api):
    output = start_the_service()

    fixture = Counter(item["model"] for item in json.loads(SEED_FIXTURE.read_text()))
    assert {label.lower(): count for label, count in record_counts().items() if count} == fixture
    for model in historied_models():
        created = model.history.filter(history_type="+")
        assert sorted(created.values_list("id", flat=True)) == sorted(model.objects.values_list("pk", flat=True))
        assert model.history.count() == created.count()
    entries = read(api, "/api/casualty-reports/1/history/")
    assert {(entry["record"], entry["action"]) for entry in entries} == {
        ("casualtyreport", "created"),
        ("citation", "created"),
    }
    report = next(entry for entry in entries if entry["record"] == "casualtyreport")
    assert {"field": "best", "old": None, "new": 4000} in report["changes"]
    assert report["date"] == "2025-02-03T00:00:00Z", "dated when the fixture says the record was created"
    assert "Loaded the seed data" in output


def test_a_second_start_keeps_a_curators_edit_its_history_and_its_sync(db, api, curator_api):
    start_the_service()
    url = "/api/casualty-reports/1/"
    edited_after = timezone.now()
    response = curator_api.patch(url, {"credibility": 2, "description": "Revised by a curator."}, format="json")
    assert response.status_code == HTTPStatus.OK, response.content
    counts, histories = record_counts(), history_counts()

    output = start_the_service()

    report = read(api, url)
    assert (report["credibility"], report["description"]) == (2, "Revised by a curator.")
    entries = read(api, f"{url}history/")
    assert [entry["action"] for entry in entries].count("changed") == 1
    latest = entries[0]
    assert (latest["action"], latest["user"]) == ("changed", "curator")
    assert {"field": "credibility", "old": 3, "new": 2} in latest["changes"]
    assert [row["id"] for row in results(api, "/api/casualty-reports/", modified_since=edited_after.isoformat())] == [1]
    assert results(api, "/api/events/", modified_since=edited_after.isoformat()) == []
    assert (record_counts(), history_counts()) == (counts, histories)
    assert "the seed data is not loaded" in output


@pytest.mark.parametrize("deleted", [False, True], ids=["a record exists", "a record was deleted"])
def test_the_seed_is_not_loaded_where_a_record_exists_or_existed(db, deleted):
    source = make_source(name="Entered by hand")
    if deleted:
        source.delete()  # a deleted record stays in history and can be restored under its id

    output = start_the_service()

    assert sum(record_counts().values()) == (0 if deleted else 1)
    assert "not loaded" in output
