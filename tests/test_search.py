"""Full-text search (``?q=``, the admin's search box), on both databases alike."""

from http import HTTPStatus
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from events.models import CasualtyReport, Citation, Event, Unit
from events.search import Matches

from .factories import make_event, make_report, make_source, make_unit

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"


def found(api, q, path="/api/events/", **params):
    response = api.get(path, {"q": q, **params})
    assert response.status_code == HTTPStatus.OK, response.json()
    return [row["id"] for row in response.json()["results"]]


def cite(record, quote, source=None, role="reported_by"):
    subject = {"event": record} if isinstance(record, Event) else {"casualty_report": record}
    return Citation.objects.create(source=source or make_source(), role=role, quote=quote, **subject)


def test_an_event_is_found_by_each_part_of_its_text(api):
    title = make_event(title="Drone strike on a fuel depot")
    place = make_event(place_name="Ramstein Air Base", admin1="Rhineland-Palatinate")
    written = make_event(date_text="mid-March 2023")
    described = make_event(description="A convoy was hit near the bridge.")
    quoted = make_event()
    cite(quoted, "The checkpoint was abandoned overnight.")
    make_event(title="Unrelated shelling")
    assert found(api, "depot") == [title.pk]
    assert found(api, "ramstein") == [place.pk]
    assert found(api, "palatinate") == [place.pk]
    assert found(api, "mid-march") == [written.pk]
    assert found(api, "convoy") == [described.pk]
    assert found(api, "checkpoint") == [quoted.pk], "a citation's quote is part of the event's text"


def test_case_accents_and_word_forms_do_not_matter(api):
    zurich = make_event(title="Talks in Zürich", description="Drones were launched")
    kyiv = make_event(title="Удар по Киеву", description="Ёлка на площади")
    assert found(api, "ZURICH") == [zurich.pk]
    assert found(api, "zürich") == [zurich.pk]
    assert found(api, "drone") == [zurich.pk], "an English word finds its other forms"
    assert found(api, "launch") == [zurich.pk]
    assert found(api, "УДАР") == [kyiv.pk], "Cyrillic in any case"
    assert found(api, "удар по") == [kyiv.pk]
    assert found(api, "елка") == [kyiv.pk], "ё and е are the same letter to the search"
    assert found(api, "ЁЛКА") == [kyiv.pk]


@pytest.fixture(params=["matches read first", "order walked against the matches", "frequent words"])
def match_forms(request, monkeypatch):
    """SQLite writes the condition in three forms, by how many records match (``Matches``): each."""
    if request.param != "matches read first":
        monkeypatch.setattr(Matches, "FEWEST", 1)
    if request.param == "order walked against the matches":
        monkeypatch.setattr(Matches, "ORDERED", 2.0)
        monkeypatch.setattr(Matches, "WALKED", 0.0)
    if request.param == "frequent words":
        monkeypatch.setattr(Matches, "ORDERED", 0.0)
        monkeypatch.setattr(Matches, "UNORDERED", 0.0)


def test_web_search_syntax(api, match_forms):
    phrase = make_event(title="Combat operations resumed")
    reversed_words = make_event(title="Operations after combat")
    convoy = make_event(title="Convoy ambushed at the bridge")
    column = make_event(title="Column ambushed on the road")
    assert set(found(api, "combat operations")) == {phrase.pk, reversed_words.pk}, "every word, in any order"
    assert found(api, '"combat operations"') == [phrase.pk], "a quoted phrase: the words in that order"
    assert set(found(api, "convoy or column")) == {convoy.pk, column.pk}
    assert set(found(api, "ambushed convoy OR column")) == {convoy.pk, column.pk}, "or binds tighter than and"
    assert found(api, "ambushed -road") == [convoy.pk], "-word leaves out what has it"
    assert found(api, 'ambushed -"on the road"') == [convoy.pk]
    assert set(found(api, "-ambushed")) == {phrase.pk, reversed_words.pk}, "only exclusions: all the others"
    assert found(api, "!!!") == [], "a query without a word matches nothing"
    assert found(api, '"unclosed phrase') == []


def test_a_search_counts_its_matches(api, match_forms, monkeypatch):
    """A list filtered by a search alone is counted in the search index on SQLite: the same
    count as with other filters beside the search, and as on PostgreSQL."""
    convoys = [make_event(title=f"Convoy {n} hit", country="UA") for n in range(3)]
    make_event(title="Convoy turned back near the bridge", country="RU")
    make_event(title="Shelling")

    def count(q, **params):
        body = api.get("/api/events/", {"q": q, "limit": 1, **params}).json()
        return body["count"], body["count_exact"]

    assert count("convoy") == (4, True)
    assert count("convoy -bridge") == (3, True)
    assert count("convoy -bridge", country="UA") == (3, True)
    assert count("convoy or shelling") == (5, True)
    assert count("-convoy") == (1, True)
    Event.objects.filter(pk=convoys[0].pk).delete()
    assert count("convoy -bridge") == (2, True)
    monkeypatch.setattr("events.api.pagination.EXACT_COUNT_LIMIT", 1)
    total, exact = count("convoy")
    assert not exact and total >= 2, "past the exact limit, a lower bound"


def test_ordering_by_relevance(api, match_forms):
    in_quote = make_event(title="Statement")
    cite(in_quote, "The brigade withdrew.")
    in_title = make_event(title="Brigade withdrew from the town")
    in_description = make_event(title="Report", description="A brigade withdrew.")
    assert found(api, "brigade", ordering="-relevance") == [in_title.pk, in_description.pk, in_quote.pk]
    response = api.get("/api/events/", {"ordering": "-relevance"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["ordering"] == ["Ordering by relevance needs q."]
    response = api.get("/api/casualty-reports/", {"ordering": "relevance", "q": "  "})
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_a_report_is_found_by_its_text_unit_event_and_quotes(api):
    unit = make_unit(name="94th Brigade")
    event = make_event(title="Fighting near Kursk")
    described = make_report(description="Losses admitted by the ministry")
    on_unit = make_report(unit=unit)
    on_event = make_report(event=event)
    quoted = make_report()
    cite(quoted, "at least 4,000 killed or wounded")
    path = "/api/casualty-reports/"
    assert found(api, "ministry", path) == [described.pk]
    assert found(api, "94th", path) == [on_unit.pk]
    assert found(api, "kursk", path) == [on_event.pk]
    assert found(api, '"killed or wounded"', path) == [quoted.pk]


def test_the_search_follows_every_change(api, curator_api):
    """Whatever writes the text (the API, a bulk update, a rename elsewhere), the search sees it at once."""
    source = make_source()
    event = make_event(title="Shelling of the port")
    citation = cite(event, "witnesses saw smoke")
    report = make_report(event=event, unit=make_unit(name="Pacific Fleet"))
    response = curator_api.patch(
        f"/api/events/{event.pk}/",
        {
            "title": "Strike on the harbour",
            "citations": [{"id": citation.pk, "source": source.pk, "role": "reported_by", "quote": ""}],
        },
        format="json",
    )
    assert response.status_code == HTTPStatus.OK, response.json()
    assert found(api, "harbour") == [event.pk]
    assert found(api, "shelling") == []
    assert found(api, "smoke") == [], "the quote was cleared"
    assert found(api, "harbour", "/api/casualty-reports/") == [report.pk], "a report shows its event's title"
    Citation.objects.filter(pk=citation.pk).update(quote="flames over the docks")  # no save(), no signal
    assert found(api, "flames") == [event.pk]
    Unit.objects.filter(pk=report.unit_id).update(name="Northern Fleet")
    assert found(api, "northern", "/api/casualty-reports/") == [report.pk]
    assert found(api, "pacific", "/api/casualty-reports/") == []
    Citation.objects.filter(pk=citation.pk).delete()
    assert found(api, "flames") == []
    moved = cite(event, "a second wave")
    Citation.objects.filter(pk=moved.pk).update(event=None, casualty_report=report)
    assert found(api, "wave") == []
    assert found(api, "wave", "/api/casualty-reports/") == [report.pk]
    CasualtyReport.objects.filter(pk=report.pk).delete()
    Event.objects.filter(pk=event.pk).delete()
    assert found(api, "harbour") == []
    assert found(api, "wave", "/api/casualty-reports/") == []


def test_imported_records_are_searchable(api):
    call_command("import_ucdp", str(DATA / "ucdp_ged_v23_1_sample200.csv"), "--no-progress", verbosity=0)
    rami = Event.objects.get(external_id="ucdp-ged:300380")
    assert rami.pk in found(api, '"rami village"')
    reports = set(CasualtyReport.objects.filter(event=rami).values_list("pk", flat=True))
    assert reports, "the sample's row has its figures"
    assert set(found(api, '"rami village"', "/api/casualty-reports/", limit=100)) == reports


def test_admin_search_uses_the_index_and_matches_as_you_type(staff_client, match_forms):
    ramstein = make_event(title="Meeting at Ramstein")
    make_event(title="Meeting in Kyiv")
    report = make_report(unit=make_unit(name="Storm Corps"))
    response = staff_client.get(reverse("admin:events_event_changelist"), {"q": "ramst"})
    assert list(response.context["cl"].result_list) == [ramstein]
    response = staff_client.get(reverse("admin:events_event_changelist"), {"q": "meeting -kyiv"})
    assert list(response.context["cl"].result_list) == [ramstein]
    response = staff_client.get(reverse("admin:events_casualtyreport_changelist"), {"q": "storm"})
    assert list(response.context["cl"].result_list) == [report]
    response = staff_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "events", "model_name": "casualtyreport", "field_name": "event", "term": "Rams"},
    )
    assert [row["id"] for row in response.json()["results"]] == [str(ramstein.pk)]


def test_best_matches_first_reads_the_matches_first_on_sqlite(api, match_forms):
    """Ranking needs every match: a word common enough to be looked up record by record in the
    list's order is read first when the order is relevance (on SQLite, the form is chosen)."""
    make_event(title="Convoy hit")
    with CaptureQueriesContext(connection) as queries:
        assert len(found(api, "convoy", ordering="-relevance")) == 1
    if connection.vendor == "sqlite":
        page = next(q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"] and "MATCH" in q["sql"])
        assert '"events_event"."id" IN (SELECT rowid FROM events_event_search' in page
