"""Claims over time: links and status, edit history, deletions, sync, time travel, lost updates."""

import datetime
from http import HTTPStatus

import pytest
from django.utils import timezone

from events.models import CasualtyReport, CasualtyReportLink, Citation, Event, EventLink, Source
from events.services import restore_deleted

from .factories import make_event, make_report, make_source, make_unit

pytestmark = pytest.mark.django_db
D = datetime.date


def get(api, url):
    response = api.get(url)
    assert response.status_code == HTTPStatus.OK, response.json()
    return response.json()


def statuses(api, endpoint="/api/casualty-reports/", query=""):
    return {row["id"]: row["status"] for row in get(api, f"{endpoint}?limit=1000{query}")["results"]}


def link(model, from_claim, to_claim, relation, source=None, **fields):
    return model.objects.create(
        from_claim=from_claim, to_claim=to_claim, relation=relation, source=source or make_source(), **fields
    )


# Claim links and the derived status.


def test_status_follows_citations_and_links(api):
    nis = make_source()
    plain = make_report()
    confirmed_by_source = make_report(citations=[(nis, "confirmed_by")])
    disputed_by_source = make_report(citations=[(nis, "disputed_by"), (make_source(), "confirmed_by")])
    confirmed_by_claim, disputed_by_claim = make_report(), make_report()
    old, revised, retracted = make_report(), make_report(), make_report()
    newer = make_report()
    link(CasualtyReportLink, newer, confirmed_by_claim, "confirms")
    link(CasualtyReportLink, newer, disputed_by_claim, "disputes")
    link(CasualtyReportLink, newer, old, "supersedes")
    link(CasualtyReportLink, newer, revised, "revises")
    link(CasualtyReportLink, newer, retracted, "retracts")
    link(CasualtyReportLink, newer, retracted, "confirms", source=nis)

    assert statuses(api) == {
        plain.pk: "claimed",
        confirmed_by_source.pk: "confirmed",
        disputed_by_source.pk: "disputed",
        confirmed_by_claim.pk: "confirmed",
        disputed_by_claim.pk: "disputed",
        old.pk: "superseded",
        revised.pk: "superseded",
        retracted.pk: "retracted",
        newer.pk: "claimed",
    }
    assert set(statuses(api, query="&status=superseded")) == {old.pk, revised.pk}
    assert set(statuses(api, query="&status__in=retracted,disputed")) == {
        retracted.pk,
        disputed_by_claim.pk,
        disputed_by_source.pk,
    }
    assert get(api, f"/api/casualty-reports/{old.pk}/")["status"] == "superseded"


def test_event_status_and_links(api):
    nyt_report, nis_report = make_event(), make_event()
    link(EventLink, nis_report, nyt_report, "confirms")
    assert statuses(api, "/api/events/") == {nyt_report.pk: "confirmed", nis_report.pk: "claimed"}
    assert set(statuses(api, "/api/events/", "&status=confirmed")) == {nyt_report.pk}


def test_links_are_written_through_the_api_with_their_own_citation(curator_api, api):
    old, new = make_report(best=4000), make_report(best=12000)
    isw = make_source(name="Institute for the Study of War")
    response = curator_api.post(
        "/api/casualty-report-links/",
        {
            "from_claim": new.pk,
            "to_claim": old.pk,
            "relation": "supersedes",
            "source": isw.pk,
            "quote": "could lose its entire contingent",
            "published_date": "2025-02-10",
        },
        format="json",
    )
    assert response.status_code == HTTPStatus.CREATED, response.json()
    created = response.json()
    assert created["source"]["name"] == "Institute for the Study of War"
    assert response.headers["ETag"]
    assert get(api, f"/api/casualty-reports/{old.pk}/")["status"] == "superseded"
    assert [row["id"] for row in get(api, f"/api/casualty-report-links/?claim={old.pk}")["results"]] == [created["id"]]
    assert get(api, "/api/casualty-report-links/?relation=confirms")["count"] == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ({"relation": "endorses"}, "relation"),
        ({"to_claim": "self"}, "to_claim"),
        ({"to_claim": 999999}, "to_claim"),
        ({"source": None}, "source"),
    ],
)
def test_bad_links_are_400s(curator_api, body, field):
    old, new = make_report(), make_report()
    data = {"from_claim": new.pk, "to_claim": old.pk, "relation": "confirms", "source": make_source().pk, **body}
    if data["to_claim"] == "self":
        data["to_claim"] = new.pk
    response = curator_api.post("/api/casualty-report-links/", data, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()
    assert not CasualtyReportLink.objects.exists()


def test_same_link_twice_is_a_400(curator_api):
    old, new = make_report(), make_report()
    data = {"from_claim": new.pk, "to_claim": old.pk, "relation": "confirms", "source": make_source().pk}
    assert curator_api.post("/api/casualty-report-links/", data, format="json").status_code == HTTPStatus.CREATED
    response = curator_api.post("/api/casualty-report-links/", data, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST


# Edit history.


def test_history_shows_who_changed_what_with_old_and_new_values(curator_api, api):
    source = make_source()
    created = curator_api.post(
        "/api/casualty-reports/",
        {
            "country": "KP",
            "category": "casualties",
            "best": 3000,
            "kind": "count",
            "citations": [{"source": source.pk, "role": "claimed_by", "quote": "3,000"}],
        },
        format="json",
    ).json()
    url = f"/api/casualty-reports/{created['id']}/"
    curator_api.patch(url, {"best": 4000, "credibility": 3}, format="json")
    entries = get(api, f"{url}history/")
    latest = entries[0]
    assert latest["action"] == "changed"
    assert latest["user"] == "curator"
    assert latest["record"] == "casualtyreport"
    assert {"field": "best", "old": 3000, "new": 4000} in latest["changes"]
    assert {"field": "credibility", "old": 6, "new": 3} in latest["changes"]
    assert all(change["field"] != "updated_at" for change in latest["changes"])
    created_entries = [e for e in entries if e["action"] == "created"]
    assert {e["record"] for e in created_entries} == {"casualtyreport", "citation"}


def test_history_of_inline_citation_changes(curator_api, api):
    source = make_source()
    event = make_event(citations=[(source, "claimed_by")])
    citation = event.citations.get()
    curator_api.patch(
        f"/api/events/{event.pk}/",
        {"citations": [{"id": citation.pk, "source": source.pk, "role": "confirmed_by"}]},
        format="json",
    )
    change = next(e for e in get(api, f"/api/events/{event.pk}/history/") if e["record"] == "citation")
    assert change["user"] == "curator"
    assert {"field": "role", "old": "claimed_by", "new": "confirmed_by"} in change["changes"]


def test_history_survives_deletion(curator_api, api):
    source = make_source(name="Milblogger")
    assert curator_api.delete(f"/api/sources/{source.pk}/").status_code == HTTPStatus.NO_CONTENT
    entries = get(api, f"/api/sources/{source.pk}/history/")
    assert [e["action"] for e in entries] == ["deleted", "created"]
    assert entries[0]["user"] == "curator"
    assert api.get("/api/sources/999999/history/").status_code == HTTPStatus.NOT_FOUND


# Deletions and restoring.


def test_deleted_event_is_restored_with_its_id_and_citations(curator_api, api):
    unit = make_unit()
    event = make_event(units=[unit], citations=[(make_source(), "claimed_by"), (make_source(), "reported_by")])
    other = make_event()
    link(EventLink, other, event, "confirms")
    before = get(api, f"/api/events/{event.pk}/")
    assert curator_api.delete(f"/api/events/{event.pk}/").status_code == HTTPStatus.NO_CONTENT
    assert not Citation.objects.exists()
    restore_deleted(Event, event.pk)
    after = get(api, f"/api/events/{event.pk}/")
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }
    assert after["status"] == "confirmed", "the link deleted with it is back too"
    assert get(api, "/api/deletions/")["count"] == 0


def test_deletions_feed(curator_api, api):
    kept, gone = make_source(), make_source()
    report = make_report()
    start = timezone.now()
    curator_api.delete(f"/api/sources/{gone.pk}/")
    curator_api.delete(f"/api/casualty-reports/{report.pk}/")
    feed = get(api, f"/api/deletions/?since={start.isoformat().replace('+00:00', 'Z')}")
    assert [(row["resource"], row["id"]) for row in feed["results"]] == [
        ("sources", gone.pk),
        ("casualty-reports", report.pk),
    ]
    assert get(api, "/api/deletions/?resource=sources")["count"] == 1
    later = (timezone.now() + datetime.timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    assert get(api, f"/api/deletions/?since={later}")["count"] == 0
    assert ("sources", kept.pk) not in {(row["resource"], row["id"]) for row in feed["results"]}


@pytest.mark.parametrize(
    "query, parameter", [("since=yesterday", "since"), ("resource=people", "resource"), ("sinse=2025-01-01", "sinse")]
)
def test_deletions_feed_rejects_bad_parameters(api, query, parameter):
    response = api.get(f"/api/deletions/?{query}")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert parameter in response.json()


# Incremental sync.


def test_modified_since_includes_changes_to_what_a_record_shows(curator_api, api):
    source = make_source(name="NIS")
    cited = make_report(citations=[(source, "claimed_by")])
    make_report()
    unit = make_unit(name="Old name")
    event = make_event(units=[unit])
    checkpoint = timezone.now()
    assert (
        get(api, f"/api/casualty-reports/?modified_since={checkpoint.isoformat().replace('+00:00', 'Z')}")["count"] == 0
    )
    curator_api.patch(f"/api/sources/{source.pk}/", {"name": "National Intelligence Service"}, format="json")
    curator_api.patch(f"/api/units/{unit.pk}/", {"name": "New name"}, format="json")
    since = checkpoint.isoformat().replace("+00:00", "Z")
    assert [r["id"] for r in get(api, f"/api/casualty-reports/?modified_since={since}")["results"]] == [cited.pk]
    assert [r["id"] for r in get(api, f"/api/events/?modified_since={since}")["results"]] == [event.pk]
    assert [r["id"] for r in get(api, f"/api/sources/?modified_since={since}")["results"]] == [source.pk]
    assert api.get("/api/events/?modified_since=last-tuesday").status_code == HTTPStatus.BAD_REQUEST


def test_modified_since_takes_any_iso_offset(api):
    """ISO 8601 allows offsets to ±23:59 (PostgreSQL only to ±15:59): the moment is what counts."""
    event = make_event()
    moment = event.updated_at.astimezone(datetime.timezone(datetime.timedelta(hours=-22, minutes=54)))
    before, after = ((moment + datetime.timedelta(seconds=delta)).isoformat().replace("+", "%2B") for delta in (-1, 1))
    assert [r["id"] for r in get(api, f"/api/events/?modified_since={before}")["results"]] == [event.pk]
    assert get(api, f"/api/events/?modified_since={after}")["count"] == 0
    # Out of the years a date holds once in UTC: before or after anything.
    assert get(api, "/api/events/?modified_since=0001-01-01T00:00:00%2B22:54")["count"] == 1
    assert get(api, "/api/event-links/?modified_since=9999-12-31T23:00:00-22:54")["count"] == 0


RESOURCES = ["sources", "units", "events", "casualty-reports", "casualty-report-links", "event-links"]


def download(api, resource, query=""):
    rows, url = {}, f"/api/{resource}/?limit=1000{query}"
    while url:
        page = get(api, url)
        rows.update({row["id"]: row for row in page["results"]})
        url = page["next"]
    return rows


def test_a_mirror_applying_changes_and_deletions_equals_a_fresh_download(curator_api, api):
    """The sync recipe of the README, end to end."""
    nis, nyt = make_source(name="NIS"), make_source(name="NYT")
    corps = make_unit(name="Corps")
    brigade = make_unit(name="Brigade", parent=corps)
    withdrawal = make_event(units=[brigade], citations=[(nyt, "reported_by")])
    capture = make_event(citations=[(nis, "claimed_by")])
    first = make_report(unit=brigade, citations=[(nis, "claimed_by")])
    second = make_report(event=capture, citations=[(nyt, "claimed_by")])
    make_report(unit=corps)

    mirror = {resource: download(api, resource) for resource in RESOURCES}
    last_sync = timezone.now()

    # A morning of curation.
    curator_api.patch(f"/api/sources/{nis.pk}/", {"name": "National Intelligence Service"}, format="json")
    curator_api.patch(f"/api/units/{corps.pk}/", {"name": "11th Corps"}, format="json")
    curator_api.patch(
        f"/api/events/{withdrawal.pk}/",
        {"citations": [{"source": nyt.pk, "role": "reported_by"}, {"source": nis.pk, "role": "confirmed_by"}]},
        format="json",
    )
    curator_api.post(
        "/api/casualty-report-links/",
        {"from_claim": second.pk, "to_claim": first.pk, "relation": "supersedes", "source": nyt.pk},
        format="json",
    )
    curator_api.delete(f"/api/casualty-reports/{make_report().pk}/")
    curator_api.delete(f"/api/units/{make_unit().pk}/")
    new_source = curator_api.post("/api/sources/", {"name": "AP", "slug": "ap", "kind": "media"}, format="json")
    assert new_source.status_code == HTTPStatus.CREATED

    # The mirror syncs: drop deletions, then upsert what changed.
    since = last_sync.isoformat().replace("+00:00", "Z")
    url = f"/api/deletions/?since={since}"
    while url:
        page = get(api, url)
        for row in page["results"]:
            mirror[row["resource"]].pop(row["id"], None)
        url = page["next"]
    for resource in RESOURCES:
        mirror[resource].update(download(api, resource, f"&modified_since={since}"))

    fresh = {resource: download(api, resource) for resource in RESOURCES}
    assert mirror == fresh
    assert mirror["casualty-reports"][first.pk]["status"] == "superseded"


# Time travel.


def test_known_at_shows_what_was_known_then(api):
    zelenskyy, nis, isw = make_source(), make_source(), make_source()
    january = make_report(best=4000, citations=[(zelenskyy, "claimed_by")])
    january.citations.update(published_date=D(2025, 1, 9))
    Citation.objects.create(casualty_report=january, source=nis, role="confirmed_by", published_date=D(2025, 1, 20))
    april = make_report(best=12000, kind="projection", citations=[(isw, "claimed_by")])
    april.citations.update(published_date=D(2025, 2, 10))
    link(CasualtyReportLink, april, january, "supersedes", source=isw, published_date=D(2025, 2, 10))

    assert statuses(api) == {january.pk: "superseded", april.pk: "claimed"}
    assert statuses(api, query="&known_at=2025-01-08") == {}
    assert statuses(api, query="&known_at=2025-01-10") == {january.pk: "claimed"}
    assert statuses(api, query="&known_at=2025-01-20") == {january.pk: "confirmed"}
    assert statuses(api, query="&known_at=2025-02-10") == {january.pk: "superseded", april.pk: "claimed"}
    assert set(statuses(api, query="&known_at=2025-01-31&status=confirmed")) == {january.pk}
    then = get(api, "/api/casualty-reports/?known_at=2025-01-10")["results"][0]
    assert [c["source"]["id"] for c in then["citations"]] == [zelenskyy.pk], "later citations are not shown"


def test_known_at_on_events_and_bad_dates(api):
    event = make_event(citations=[(make_source(), "claimed_by")])
    event.citations.update(published_date=D(2025, 2, 2))
    assert get(api, "/api/events/?known_at=2025-02-01")["count"] == 0
    assert get(api, "/api/events/?known_at=2025-02-02")["count"] == 1
    response = api.get("/api/events/?known_at=2025-02-30")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "known_at" in response.json()


# No lost updates.


def test_etag_and_if_match_prevent_lost_updates(curator_api):
    report = make_report(best=100)
    url = f"/api/casualty-reports/{report.pk}/"
    etag = curator_api.get(url).headers["ETag"]
    assert curator_api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == HTTPStatus.NOT_MODIFIED

    first = curator_api.patch(url, {"best": 200}, format="json", HTTP_IF_MATCH=etag)
    assert first.status_code == HTTPStatus.OK
    assert first.headers["ETag"] != etag

    stale = curator_api.patch(url, {"best": 300}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == HTTPStatus.PRECONDITION_FAILED
    assert "changed" in stale.json()["detail"]
    report.refresh_from_db()
    assert report.best == 200

    assert curator_api.delete(url, HTTP_IF_MATCH=etag).status_code == HTTPStatus.PRECONDITION_FAILED
    assert CasualtyReport.objects.filter(pk=report.pk).exists()
    current = curator_api.get(url).headers["ETag"]
    assert current == first.headers["ETag"]
    assert (
        curator_api.put(
            url,
            {**curator_api.get(url).json(), "best": 300, "unit": None, "event": None, "citations": []},
            format="json",
            HTTP_IF_MATCH=current,
        ).status_code
        == 200
    )
    assert curator_api.delete(url, HTTP_IF_MATCH="*").status_code == HTTPStatus.NO_CONTENT


def test_inline_citation_change_moves_the_etag(curator_api):
    source = make_source()
    event = make_event(citations=[(source, "claimed_by")])
    url = f"/api/events/{event.pk}/"
    etag = curator_api.get(url).headers["ETag"]
    Citation.objects.create(event=event, source=source, role="confirmed_by")
    assert curator_api.get(url).headers["ETag"] != etag
    assert curator_api.patch(url, {"title": "x"}, format="json", HTTP_IF_MATCH=etag).status_code == 412


def test_source_rename_keeps_citing_records_etag(curator_api):
    """An ETag guards the record's own fields; a renamed source shows up through modified_since."""
    source = make_source()
    report = make_report(citations=[(source, "claimed_by")])
    etag = curator_api.get(f"/api/casualty-reports/{report.pk}/").headers["ETag"]
    Source.objects.filter(pk=source.pk).update(name="Renamed")
    assert curator_api.get(f"/api/casualty-reports/{report.pk}/").headers["ETag"] == etag
