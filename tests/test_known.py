"""The day each claim became known, kept by the database (``events/known.py``), on both databases.

``?known_at=`` lists read it: a claim is listed from the day of its earliest citation (its
publication date, else the day it was recorded).
"""

import datetime
from http import HTTPStatus
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Min

from events.models import CasualtyReport, Citation, Event
from events.selectors import known_on

from .factories import make_event, make_report, make_source

pytestmark = pytest.mark.django_db

UCDP_SAMPLE = Path(__file__).parent / "data" / "ucdp_ged_v23_1_sample200.csv"
DAY = datetime.date


def listed(api, resource, known_at, **params):
    response = api.get(f"/api/{resource}/", {"known_at": known_at.isoformat(), "limit": 1000, **params})
    assert response.status_code == HTTPStatus.OK, response.content
    return [row["id"] for row in response.json()["results"]]


def kept_days(model):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, known_since FROM {model._meta.db_table} ORDER BY id")
        return {pk: day if day is None or isinstance(day, DAY) else DAY.fromisoformat(day) for pk, day in cursor}


def earliest_citations(model):
    """Each claim's day as its citations say it, computed from them here."""
    field = "event" if model is Event else "casualty_report"
    days = dict.fromkeys(model.objects.values_list("pk", flat=True))
    rows = Citation.objects.filter(**{f"{field}__isnull": False}).alias(day=known_on())
    days.update(rows.values(field).annotate(first=Min("day")).values_list(field, "first"))
    return days


def cite(source, subject, published_date=None, role="reported_by"):
    field = "event" if isinstance(subject, Event) else "casualty_report"
    return Citation.objects.create(source=source, role=role, published_date=published_date, **{field: subject})


def test_a_claim_is_listed_from_its_earliest_citation(api):
    source = make_source()
    report = make_report(as_of_date=DAY(2023, 3, 1))
    assert listed(api, "casualty-reports", DAY(2023, 6, 1)) == [], "a claim nobody cited is known to nobody"

    late = cite(source, report, DAY(2023, 7, 1))
    assert listed(api, "casualty-reports", DAY(2023, 6, 1)) == []
    assert listed(api, "casualty-reports", DAY(2023, 7, 1)) == [report.pk]

    early = cite(source, report, DAY(2023, 4, 1))
    assert listed(api, "casualty-reports", DAY(2023, 4, 1)) == [report.pk]
    assert listed(api, "casualty-reports", DAY(2023, 3, 31)) == []

    early.published_date = DAY(2023, 8, 1)  # corrected: it came out later
    early.save()
    assert listed(api, "casualty-reports", DAY(2023, 6, 1)) == []
    assert listed(api, "casualty-reports", DAY(2023, 7, 1)) == [report.pk]

    late.delete()
    assert listed(api, "casualty-reports", DAY(2023, 7, 1)) == []
    assert listed(api, "casualty-reports", DAY(2023, 8, 1)) == [report.pk]

    undated = cite(source, report)  # no publication date: known from the day it was recorded
    today = undated.created_at.astimezone(datetime.UTC).date()
    assert listed(api, "casualty-reports", today) == [report.pk]
    assert kept_days(CasualtyReport) == earliest_citations(CasualtyReport) == {report.pk: DAY(2023, 8, 1)}


def test_the_day_follows_bulk_writes_and_moved_citations(api):
    source = make_source()
    first, second = make_event(start_date=DAY(2022, 3, 1)), make_event(start_date=DAY(2022, 3, 2))
    Citation.objects.bulk_create(
        [
            Citation(source=source, event=first, role="reported_by", published_date=DAY(2022, 3, 5)),
            Citation(source=source, event=first, role="confirmed_by", published_date=DAY(2022, 3, 3)),
            Citation(source=source, event=second, role="reported_by", published_date=DAY(2022, 4, 1)),
        ]
    )
    assert kept_days(Event) == earliest_citations(Event) == {first.pk: DAY(2022, 3, 3), second.pk: DAY(2022, 4, 1)}

    # One statement moves first's earliest citation to second, and dates another.
    Citation.objects.filter(event=first, role="confirmed_by").update(event=second)
    assert kept_days(Event) == earliest_citations(Event) == {first.pk: DAY(2022, 3, 5), second.pk: DAY(2022, 3, 3)}
    Citation.objects.filter(event=first).update(published_date=DAY(2022, 3, 2))
    assert listed(api, "events", DAY(2022, 3, 2)) == [first.pk]

    Citation.objects.filter(event=second).delete()
    assert kept_days(Event) == earliest_citations(Event) == {first.pk: DAY(2022, 3, 2), second.pk: None}
    assert listed(api, "events", DAY(2030, 1, 1)) == [first.pk]


def test_a_claim_known_before_its_own_date_is_listed(api):
    """An announced operation, a forecast: known before the day it is about, listed all the same,
    in the list's order among the others."""
    source = make_source()
    announced = make_event(start_date=DAY(2024, 5, 1), expected=True)
    cite(source, announced, DAY(2023, 1, 10))
    past = make_event(start_date=DAY(2023, 1, 5))
    cite(source, past, DAY(2023, 1, 6))
    later = make_event(start_date=DAY(2023, 1, 8))
    cite(source, later, DAY(2023, 2, 1))
    assert listed(api, "events", DAY(2023, 1, 5)) == []
    assert listed(api, "events", DAY(2023, 1, 9)) == [past.pk]
    assert listed(api, "events", DAY(2023, 1, 10)) == [announced.pk, past.pk]
    assert listed(api, "events", DAY(2023, 3, 1)) == [announced.pk, later.pk, past.pk]

    projection = make_report(as_of_date=DAY(2023, 1, 10), kind="projection", horizon_date=DAY(2025, 12, 31))
    cite(source, projection, DAY(2023, 1, 10))
    ahead = make_report(as_of_date=DAY(2025, 12, 31), best=50)  # dated after the day it was told
    cite(source, ahead, DAY(2023, 1, 3))
    undated = make_report(as_of_date=None, best=300)
    cite(source, undated, DAY(2023, 1, 2))
    assert listed(api, "casualty-reports", DAY(2023, 1, 2)) == [undated.pk]
    assert listed(api, "casualty-reports", DAY(2023, 1, 10)) == [ahead.pk, projection.pk, undated.pk]
    assert listed(api, "casualty-reports", DAY(2023, 1, 10), ordering="-best") == [undated.pk, projection.pk, ahead.pk]


def test_an_import_keeps_the_days(api):
    call_command("import_ucdp", str(UCDP_SAMPLE), "--no-progress", stdout=StringIO(), stderr=StringIO())
    for model in (Event, CasualtyReport):
        days = kept_days(model)
        assert days == earliest_citations(model)
        assert sum(day is not None for day in days.values()) > 100
    # What the API lists as of a day is what the citations say was known by then.
    cut = sorted(day for day in kept_days(Event).values() if day)[len(kept_days(Event)) // 2]
    expected = {pk for pk, day in earliest_citations(Event).items() if day and day <= cut}
    assert set(listed(api, "events", cut)) == expected


def test_a_rebuild_gives_the_same_days():
    """What generate_data runs after a load with the triggers off."""
    from events import known

    source = make_source()
    for n in range(3):
        cite(source, make_event(), DAY(2022, 1, 1 + n))
        cite(source, make_report(), DAY(2022, 2, 1 + n))
    before = kept_days(Event), kept_days(CasualtyReport)
    with connection.cursor() as cursor:
        for table in ("events_event", "events_casualtyreport"):
            cursor.execute(f"UPDATE {table} SET known_since = NULL")
        for statement in known.rebuild_sql(connection.vendor):
            cursor.execute(statement)
    assert (kept_days(Event), kept_days(CasualtyReport)) == before
    assert before[0] == earliest_citations(Event)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
def test_truncating_the_citations_forgets_the_days(api):
    source = make_source()
    event = make_event()
    cite(source, event, DAY(2022, 1, 1))
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE events_citation")
    assert kept_days(Event) == {event.pk: None}


def test_generate_data_rebuilds_the_search_documents_with_the_days():
    """generate_data computes both in one pass over each claim table on PostgreSQL, clearing the
    documents as the search module's own rebuild does."""
    from events import known, search

    documents = search.rebuild_sql("postgresql")
    assert documents == [f"UPDATE {claims.table} SET search_vector = NULL" for claims in known.CLAIMS]
