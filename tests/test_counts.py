"""Each source's citation count, kept by the database (``events/counts.py``), on both databases."""

from http import HTTPStatus
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from events.models import CasualtyReport, Citation, Event, Source

from .factories import make_event, make_report, make_source

pytestmark = pytest.mark.django_db

UCDP_SAMPLE = Path(__file__).parent / "data" / "ucdp_ged_v23_1_sample200.csv"


def listed_counts(api, **params):
    response = api.get("/api/sources/", {"limit": 1000, **params})
    assert response.status_code == HTTPStatus.OK
    return {row["id"]: row["citation_count"] for row in response.json()["results"]}


def actual_counts():
    return dict(Source.objects.annotate(n=Count("citations")).values_list("pk", "n"))


def cite(source, subject, role="reported_by"):
    field = "event" if isinstance(subject, Event) else "casualty_report"
    return Citation.objects.create(source=source, role=role, **{field: subject})


def test_the_count_follows_every_kind_of_write(api):
    ministry, agency, newspaper = make_source(), make_source(), make_source()
    event, report = make_event(), make_report()
    first = cite(ministry, event)
    cite(ministry, report, role="claimed_by")
    cite(agency, report, role="confirmed_by")
    Citation.objects.bulk_create(
        [Citation(source=newspaper, event=event, role="reported_by") for _ in range(3)]
        + [Citation(source=agency, event=event, role="reported_by")]
    )
    assert listed_counts(api) == actual_counts() == {ministry.pk: 2, agency.pk: 2, newspaper.pk: 3}

    first.source = agency
    first.save()
    Citation.objects.filter(source=newspaper).order_by("pk")[:1].get().delete()
    assert listed_counts(api) == actual_counts() == {ministry.pk: 1, agency.pk: 3, newspaper.pk: 2}

    Citation.objects.filter(source=newspaper).update(source=ministry)
    assert listed_counts(api) == actual_counts() == {ministry.pk: 3, agency.pk: 3, newspaper.pk: 0}

    CasualtyReport.objects.filter(pk=report.pk).delete()  # its citations go with it
    assert listed_counts(api) == actual_counts() == {ministry.pk: 2, agency.pk: 2, newspaper.pk: 0}
    Citation.objects.filter(source=agency).delete()
    newspaper.delete()
    assert listed_counts(api) == actual_counts() == {ministry.pk: 2, agency.pk: 0}


def test_an_import_counts_what_it_cites(api):
    call_command("import_ucdp", str(UCDP_SAMPLE), "--no-progress", stdout=StringIO(), stderr=StringIO())
    counts = listed_counts(api)
    assert counts == actual_counts()
    assert sum(counts.values()) == Citation.objects.count() > 400
    assert counts[Source.objects.get(slug="ucdp").pk] >= 400, "UCDP cites each event and each of its reports"
    # Filters and ordering leave the counts as they are.
    ucdp = Source.objects.get(slug="ucdp")
    assert listed_counts(api, q="uppsala") == {ucdp.pk: counts[ucdp.pk]}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
def test_truncating_the_citations_empties_the_counts(api):
    source = make_source()
    cite(source, make_event())
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the foreign keys checked: no event pending
        cursor.execute("TRUNCATE events_citation")
    assert listed_counts(api) == {source.pk: 0}


def test_the_admin_sorts_sources_by_their_count(staff_client):
    few, many = make_source(name="Few"), make_source(name="Many")
    event = make_event()
    cite(few, event)
    for _ in range(3):
        cite(many, event)
    response = staff_client.get("/admin/events/source/", {"o": "-6"})
    assert response.status_code == HTTPStatus.OK
    assert [(row.name, row.citation_count) for row in response.context["cl"].result_list] == [("Many", 3), ("Few", 1)]
