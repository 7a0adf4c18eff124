"""/api/consensus/: the standing claims of each subject, how they relate, and the grade."""

import datetime
import random
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events import consensus
from events.models import CasualtyReport, CasualtyReportLink, Citation

from .factories import make_event, make_source, make_unit

pytestmark = pytest.mark.django_db

D = datetime.date
SUBJECT = {"country": "KP", "category": "killed"}


def claim(source, *, role="claimed_by", published=None, confirmed_by=(), reported_by=None, **fields):
    """A report on the KP contingent's dead, claimed by ``source``."""
    fields = {**SUBJECT, "kind": "estimate", "best": None, **fields}
    report = CasualtyReport.objects.create(**fields)
    Citation.objects.create(casualty_report=report, source=source, role=role, published_date=published)
    for other in confirmed_by:
        Citation.objects.create(casualty_report=report, source=other, role="confirmed_by", published_date=published)
    if reported_by is not None:
        Citation.objects.create(
            casualty_report=report, source=reported_by, role="reported_by", published_date=published
        )
    return report


def link(newer, older, relation, *, source, published):
    return CasualtyReportLink.objects.create(
        from_claim=newer, to_claim=older, relation=relation, source=source, published_date=published
    )


def answer(api, query=""):
    response = api.get(f"/api/consensus/?country=KP&category=killed&{query}")
    assert response.status_code == HTTPStatus.OK, response.json()
    return response.json()


def only_period(api, query=""):
    body = answer(api, query)
    assert len(body["results"]) == 1, body["results"]
    (period,) = body["results"][0]["periods"]
    return period


@pytest.fixture
def reliable():
    return make_source(name="Intelligence", reliability="B")


@pytest.fixture
def fair():
    return make_source(name="Newspaper", reliability="C")


@pytest.fixture
def belligerent():
    return make_source(name="Ministry of Defence", kind="military", reliability="C", party=True)


def test_corroborated_when_an_independent_and_a_reliable_source_agree(api, reliable, fair):
    claim(reliable, low=3000, high=5000, as_of_date=D(2025, 1, 10))
    claim(fair, best=4000, as_of_date=D(2025, 1, 12))
    period = only_period(api, "as_of=2025-02-01")
    assert period["grade"] == "corroborated"
    assert (period["claimants"], period["independent_claimants"], period["party_claimants"]) == (2, 2, 0)
    assert period["envelope"] == {"low": 3000, "high": 5000}
    assert period["agreement"] == {"low": 4000, "high": 4000, "claims": 2}
    assert period["spread"] == 1.0  # 3,000 to 5,000 counts as its middle, 4,000
    assert period["end"] == "2025-02-01" and period["start"] is None


def test_consistent_when_only_parties_or_only_the_less_reliable_agree(api, belligerent, fair):
    other_party = make_source(name="General Staff", kind="military", reliability="B", party=True)
    claim(belligerent, best=4000, as_of_date=D(2025, 1, 10))
    claim(other_party, low=3500, high=4500, as_of_date=D(2025, 1, 11))
    period = only_period(api, "as_of=2025-02-01")
    assert period["grade"] == "consistent"  # agreeing, but no independent source
    assert (period["claimants"], period["independent_claimants"], period["party_claimants"]) == (2, 0, 2)


def test_contested_when_ranges_share_no_figure(api, reliable, fair):
    claim(reliable, low=100, high=300, as_of_date=D(2025, 1, 10))
    claim(fair, best=4000, as_of_date=D(2025, 1, 12))
    period = only_period(api, "as_of=2025-02-01")
    assert period["grade"] == "contested"
    assert period["agreement"] is None
    assert period["spread"] == pytest.approx(4000 / 200)  # best of 100-300 is its middle


def test_a_denial_against_a_report_is_contested_and_listed_apart(api, reliable, belligerent):
    claim(reliable, best=4000, as_of_date=D(2025, 1, 10))
    denial = claim(belligerent, kind="denial", best=0, as_of_date=D(2025, 1, 11))
    period = only_period(api, "as_of=2025-02-01")
    assert period["grade"] == "contested"
    assert [c["id"] for c in period["denials"]] == [denial.pk]
    assert period["envelope"] == {"low": 4000, "high": 4000}  # of what happened, not of the denial


def test_a_disputed_report_is_contested_from_the_day_of_the_dispute(api, reliable, fair):
    report = claim(reliable, best=4000, as_of_date=D(2025, 1, 10))
    Citation.objects.create(casualty_report=report, source=fair, role="disputed_by", published_date=D(2025, 1, 20))
    assert only_period(api, "as_of=2025-01-15")["grade"] == "single_source"
    assert only_period(api, "as_of=2025-01-25")["grade"] == "contested"


def test_single_source_and_unquantified(api, reliable, fair):
    claim(reliable, best=4000, as_of_date=D(2025, 1, 10), reported_by=fair)
    period = only_period(api, "as_of=2025-02-01")
    assert period["grade"] == "single_source"
    assert period["claimants"] == 1  # the newspaper only reported the agency's claim
    assert period["claims"][0]["claimant"]["name"] == "Intelligence"
    CasualtyReport.objects.all().delete()
    claim(reliable, unit=make_unit(), description="heavy losses", as_of_date=D(2025, 1, 10))
    period = answer(api, "as_of=2025-02-01")["results"][0]["periods"][0]
    assert period["grade"] == "unquantified"
    assert period["envelope"] is None and period["weighted_median"] is None


def test_a_confirmation_corroborates_a_partys_claim(api, belligerent, reliable):
    claim(belligerent, best=2, as_of_date=D(2025, 1, 11), confirmed_by=[reliable])
    period = only_period(api, "as_of=2025-02-01")
    assert period["grade"] == "corroborated"
    assert (period["claimants"], period["independent_claimants"], period["party_claimants"]) == (2, 1, 1)
    assert [s["name"] for s in period["claims"][0]["confirmed_by"]] == ["Intelligence"]
    assert period["claims"][0]["claimant"]["party"] is True


def test_the_claimant_is_who_claims_else_who_reports_else_who_confirms(api, reliable, fair, belligerent):
    third = make_source(name="Agency", reliability="A")
    reported = claim(fair, role="reported_by", best=10, as_of_date=D(2025, 1, 5), confirmed_by=[third, reliable, third])
    Citation.objects.create(casualty_report=reported, source=belligerent, role="claimed_by")
    confirmed = claim(third, role="confirmed_by", best=12, as_of_date=D(2025, 1, 6), confirmed_by=[reliable, third])
    claims = {c["id"]: c for c in only_period(api, "as_of=2025-02-01")["claims"]}
    # The claiming citation wins over the earlier reporting one; confirmers in citation order, once each.
    assert claims[reported.pk]["claimant"]["name"] == belligerent.name
    assert [s["name"] for s in claims[reported.pk]["confirmed_by"]] == ["Agency", "Intelligence"]
    # Only confirmations: the first is the claimant, the others confirm it.
    assert claims[confirmed.pk]["claimant"]["name"] == "Agency"
    assert [s["name"] for s in claims[confirmed.pk]["confirmed_by"]] == ["Intelligence"]


def test_a_random_series_matches_a_plain_reading_of_the_rules(api):
    """Random claims, retractions and projections by a few sources, compared month by month
    with what the rules say, worked out the plain way: claim by claim, day by day."""
    generator = random.Random(12)
    sources = [make_source(name=f"Source {n}", reliability="ABCDEF"[n % 6]) for n in range(12)]
    made = []
    for _ in range(36):
        low = generator.randint(0, 500)
        figures = generator.choice(
            [{"best": low}, {"low": low, "high": low + generator.randint(0, 300)}, {"low": low}, {"high": low + 1}]
        )
        kind = generator.choice(["estimate", "count", "count", "projection"])
        dated = D(2024, 1, 1) + datetime.timedelta(days=generator.randint(0, 360))
        source = generator.choice(sources)
        report = claim(source, kind=kind, as_of_date=dated, **figures)
        made.append({"report": report, "id": report.pk, "source": source, "kind": kind, "date": dated, "ended": None})
        made[-1].update(figures)
    for item in generator.sample(made, 12):  # retracted some days on, by a link from another claim
        item["ended"] = item["date"] + datetime.timedelta(days=generator.randint(0, 90))
        other = generator.choice([other for other in made if other is not item])
        link(other["report"], item["report"], "retracts", source=item["source"], published=item["ended"])
    weights = consensus.RELIABILITY_WEIGHTS
    rows = answer(api, "interval=month&date_from=2024-01-01&date_to=2024-12-31")["results"][0]["periods"]
    for row in rows:
        day = D.fromisoformat(row["end"])
        standing = {}
        for item in sorted(made, key=lambda item: (item["date"], item["id"])):
            if item["date"] <= day and (item["ended"] is None or item["ended"] > day):
                standing[(item["source"].pk, item["kind"] == "projection")] = item
        reports = [item for item in standing.values() if item["kind"] != "projection"]
        assert row["standing"] == len(standing), row["end"]
        listed = only_period(api, f"as_of={row['end']}")  # on one day, every standing claim is listed
        listed = {c["id"] for name in ("claims", "projections", "denials") for c in listed[name]}
        assert listed == {item["id"] for item in standing.values()}, row["end"]
        lows = [item.get("low", item.get("best", 0)) for item in reports]
        highs = [item.get("high", item.get("best")) for item in reports]
        expected_envelope = None
        if reports:
            expected_envelope = {"low": min(lows), "high": None if None in highs else max(highs)}
        assert row["envelope"] == expected_envelope, row["end"]
        bests = sorted(
            (
                consensus.best_figure({"low": None, "best": None, "high": None, **item}),
                weights[item["source"].reliability],
            )
            for item in reports
        )
        running, median = 0, None
        for value, weight in bests:
            running += weight
            if running >= sum(weight for _, weight in bests) / 2:
                median = value
                break
        assert row["weighted_median"] == median, row["end"]
        spread = None
        if len(bests) > 1 and bests[0][0] > 0:
            spread = round(bests[-1][0] / bests[0][0], 4)
        assert row["spread"] == spread, row["end"]
        assert row["claimants"] == len({item["source"].pk for item in standing.values()}), row["end"]


def test_each_claimant_stands_by_its_latest_claim(api, reliable):
    first = claim(reliable, best=1000, as_of_date=D(2025, 1, 5))
    second = claim(reliable, best=3000, as_of_date=D(2025, 1, 20))
    assert [c["id"] for c in only_period(api, "as_of=2025-01-10")["claims"]] == [first.pk]
    assert [c["id"] for c in only_period(api, "as_of=2025-01-25")["claims"]] == [second.pk]


def test_a_superseded_or_retracted_claim_stops_standing_on_the_links_day(api, reliable, fair):
    older = claim(reliable, best=1000, as_of_date=D(2025, 1, 5), published=D(2025, 1, 5))
    kept = claim(fair, best=1100, as_of_date=D(2025, 1, 6), published=D(2025, 1, 6))
    newer = claim(
        fair,
        kind="projection",
        best=5000,
        as_of_date=D(2025, 1, 7),
        horizon_date=D(2025, 4, 15),
        published=D(2025, 1, 7),
    )
    link(newer, older, "retracts", source=reliable, published=D(2025, 1, 15))
    assert {c["id"] for c in only_period(api, "as_of=2025-01-14")["claims"]} == {older.pk, kept.pk}
    after = only_period(api, "as_of=2025-01-16")
    assert [c["id"] for c in after["claims"]] == [kept.pk]
    assert [(c["id"], c["horizon_date"]) for c in after["projections"]] == [(newer.pk, "2025-04-15")]
    # What was known on 10 January knows nothing of the retraction published later.
    assert {c["id"] for c in only_period(api, "as_of=2025-01-16&known_at=2025-01-10")["claims"]} == {
        older.pk,
        kept.pk,
    }


def test_known_at_leaves_out_claims_published_later(api, reliable, fair):
    claim(reliable, best=1000, as_of_date=D(2025, 1, 5), published=D(2025, 1, 5))
    claim(fair, best=9000, as_of_date=D(2025, 1, 6), published=D(2025, 2, 1))
    assert len(only_period(api, "as_of=2025-03-01&known_at=2025-01-10")["claims"]) == 1
    assert len(only_period(api, "as_of=2025-03-01")["claims"]) == 2


def test_a_series_carries_each_claim_forward_until_its_claimant_speaks_again(api, reliable, fair):
    first = claim(reliable, best=1000, as_of_date=D(2025, 1, 5))
    other = claim(fair, low=900, high=1500, as_of_date=D(2025, 2, 10))
    second = claim(reliable, best=3000, as_of_date=D(2025, 3, 20))
    body = answer(api, "interval=month&date_from=2024-12-15&date_to=2025-04-10")
    rows = body["results"][0]["periods"]
    assert [(r["start"], r["end"]) for r in rows] == [
        ("2024-12-15", "2024-12-31"),
        ("2025-01-01", "2025-01-31"),
        ("2025-02-01", "2025-02-28"),
        ("2025-03-01", "2025-03-31"),
        ("2025-04-01", "2025-04-10"),
    ]
    assert [r["grade"] for r in rows] == ["none", "single_source", "corroborated", "contested", "contested"]
    assert [r["standing"] for r in rows] == [0, 1, 2, 2, 2]
    # Each claim is listed in the period it comes to stand in, and carried after.
    assert [[c["id"] for c in r["claims"]] for r in rows] == [[], [first.pk], [other.pk], [second.pk], []]
    assert [r["envelope"] for r in rows][1:] == [
        {"low": 1000, "high": 1000},
        {"low": 900, "high": 1500},
        {"low": 900, "high": 3000},
        {"low": 900, "high": 3000},
    ]


@pytest.mark.parametrize(
    "query, start, end, count",
    [
        ("interval=day&date_from=2025-01-30&date_to=2025-02-02", "2025-01-30", "2025-02-02", 4),
        ("interval=week&date_from=2025-01-01&date_to=2025-01-31", "2025-01-01", "2025-01-31", 5),
        ("interval=year&date_from=2023-06-01&date_to=2025-01-31", "2023-06-01", "2025-01-31", 3),
    ],
)
def test_periods_are_calendar_periods_cut_to_the_window(api, reliable, query, start, end, count):
    claim(reliable, best=1, as_of_date=D(2025, 1, 1))
    rows = answer(api, query)["results"][0]["periods"]
    assert (rows[0]["start"], rows[-1]["end"], len(rows)) == (start, end, count)
    if "week" in query:
        assert rows[1]["start"] == "2025-01-06"  # a Monday


def test_subjects_are_kept_apart(api, reliable, fair):
    brigade, event = make_unit(name="Brigade"), make_event()
    claim(reliable, best=4000, as_of_date=D(2025, 1, 10))
    claim(fair, best=100, as_of_date=D(2025, 1, 10), unit=brigade)
    claim(fair, best=7, as_of_date=D(2025, 1, 10), event=event)
    claim(fair, best=9, as_of_date=D(2025, 1, 10), category="wounded")
    body = answer(api, "as_of=2025-02-01")
    subjects = [
        (r["subject"]["unit"] and r["subject"]["unit"]["id"], r["subject"]["event"] and r["subject"]["event"]["id"])
        for r in body["results"]
    ]
    assert sorted(subjects, key=str) == sorted([(None, None), (brigade.pk, None), (None, event.pk)], key=str)
    assert all(r["periods"][0]["grade"] == "single_source" for r in body["results"])


def test_the_filters_choose_the_claims_compared(api, reliable, fair):
    parent = make_unit(name="Contingent")
    child = make_unit(name="Brigade", parent=parent)
    foreign = make_source(name="Foreign ministry", country="RU", kind="government")
    claim(reliable, best=4000, unit=parent, as_of_date=D(2025, 1, 10))
    claim(fair, best=300, unit=child, as_of_date=D(2025, 1, 10))
    claim(foreign, best=10, unit=child, as_of_date=D(2025, 1, 11))
    assert answer(api, f"unit={parent.pk}")["count"] == 2  # the unit and its sub-units: two subjects
    assert answer(api, f"unit__exact={parent.pk}")["count"] == 1
    by_country = answer(api, f"unit__exact={child.pk}&source_country=RU")["results"][0]["periods"][0]
    assert [c["claimant"]["name"] for c in by_country["claims"]] == ["Foreign ministry"]
    reliable_only = answer(api, f"unit__exact={child.pk}&min_reliability=C")["results"][0]["periods"][0]
    assert {c["claimant"]["name"] for c in reliable_only["claims"]} == {"Newspaper"}


def test_the_reliability_weighted_median(api):
    weights = consensus.RELIABILITY_WEIGHTS
    sources = [make_source(name=f"S{r}", reliability=r) for r in "ABE"]
    for source, best in zip(sources, (100, 200, 10_000), strict=True):
        claim(source, best=best, as_of_date=D(2025, 1, 10))
    period = only_period(api, "as_of=2025-02-01")
    # A's 100 weighs half of all: the median; E's 10,000 weighs little.
    assert weights["A"] * 2 >= weights["A"] + weights["B"] + weights["E"]
    assert period["weighted_median"] == 100
    assert period["spread"] == 100.0


def covers(figure_range, x):
    low, high = figure_range
    return low <= x and (high is None or x <= high)


def test_the_agreement_interval_against_brute_force_on_random_ranges():
    generator = random.Random(7)
    for _ in range(500):
        ranges = []
        for _ in range(generator.randint(1, 6)):
            low = generator.randint(0, 40)
            high = None if generator.random() < 0.15 else low + generator.randint(0, 15)
            ranges.append((low, high))
        # By brute force: how many ranges hold each whole figure up to past every end.
        counts = {x: sum(covers(r, x) for r in ranges) for x in range(0, 60)}
        most = max(counts.values())
        got = consensus.agreement(ranges)
        if most < 2:
            assert got is None, ranges
            continue
        first = min(x for x, count in counts.items() if count == most)
        assert (got["low"], got["claims"]) == (first, most), ranges
        shared = [r for r in ranges if covers(r, first)]
        end = got["high"] if got["high"] is not None else 59
        assert all(covers(r, x) for r in shared for x in range(first, end + 1)), ranges
        if got["high"] is not None:
            assert not all(covers(r, got["high"] + 1) for r in shared), ranges


def test_the_query_count_does_not_grow_with_claims_or_subjects(api, reliable, fair):
    def queries(query):
        with CaptureQueriesContext(connection) as captured:
            response = api.get(f"/api/consensus/?country=KP&{query}")
        assert response.status_code == HTTPStatus.OK
        return len(captured)

    for n in range(3):
        claim(reliable, best=100 + n, unit=make_unit(), as_of_date=D(2025, 1, 10), confirmed_by=[fair])
    claim(fair, best=5, event=make_event(), as_of_date=D(2025, 1, 10))
    few = queries("interval=month&date_from=2024-10-01&date_to=2025-03-31")
    for n in range(12):
        claim(fair, best=100 + n, unit=make_unit(), event=make_event(), as_of_date=D(2025, 1, 10 + n))
    assert queries("interval=month&date_from=2024-10-01&date_to=2025-03-31") == few
    assert queries("as_of=2025-02-01") <= few


@pytest.mark.parametrize(
    "query, field",
    [
        ("interval=month", "date_from"),
        ("interval=month&date_from=2025-02-01&date_to=2025-01-01", "date_to"),
        ("interval=month&date_from=2025-01-01&as_of=2025-01-01", "as_of"),
        ("date_from=2025-01-01", "date_from"),
        ("interval=day&date_from=2020-01-01&date_to=2025-01-01", "interval"),
        ("interval=fortnight&date_from=2025-01-01", "interval"),
        ("source=1", "source"),
        ("cursor=", "cursor"),
    ],
)
def test_bad_requests_name_the_parameter(api, query, field):
    response = api.get(f"/api/consensus/?{query}")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()


def test_the_seed_tells_the_story_of_the_article(api):
    call_command("load_seed", verbosity=0)
    contingent = "country=KP&category=casualties&unit__exact=1&event__isnull=true"

    def on(day):
        response = api.get(f"/api/consensus/?{contingent}&as_of={day}&known_at={day}")
        return response.json()["results"][0]["periods"][0]

    early = on("2025-01-10")
    assert [(c["claimant"]["name"], c["best"]) for c in early["claims"]] == [("Volodymyr Zelenskyy", 4000)]
    assert early["grade"] == "single_source" and early["party_claimants"] == 1
    late = on("2025-02-03")
    assert [p["claimant"]["name"] for p in late["projections"]] == ["Institute for the Study of War"]
    assert {c["claimant"]["name"] for c in late["claims"]} >= {
        "Volodymyr Zelenskyy",
        "National Intelligence Service of South Korea",
    }
    captured = api.get("/api/consensus/?country=KP&category=captured&as_of=2025-02-03").json()["results"][0]
    assert captured["periods"][0]["grade"] == "corroborated"  # Ukraine's claim, confirmed by the NIS


def test_charts_show_each_claim_the_agreement_and_the_projections(api, reliable, fair):
    first = claim(reliable, low=3000, high=5000, as_of_date=D(2025, 1, 10))
    second = claim(fair, best=4000, as_of_date=D(2025, 1, 12))
    projection = claim(fair, kind="projection", best=9000, as_of_date=D(2025, 1, 20), horizon_date=D(2025, 4, 15))
    response = api.get("/api/consensus/?country=KP&category=killed&as_of=2025-02-01&format=svg")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "image/svg+xml"
    svg = response.content.decode()
    for mark in (f"claim-{first.pk}", f"claim-{second.pk}", f"projection-{projection.pk}", "agreement-0"):
        assert f'id="{mark}"' in svg, mark
    assert "Intelligence" in svg and "Newspaper" in svg
    png = api.get("/api/consensus/?country=KP&category=killed&interval=month&date_from=2025-01-01&format=png")
    assert png["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")
    error = api.get("/api/consensus/?country=XX&format=svg")
    assert error.status_code == HTTPStatus.BAD_REQUEST and "country" in error.json()


def test_the_subjects_and_claimants_are_written_as_their_serializers_write_them(api, reliable):
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from events.api.consensus import ClaimantSerializer
    from events.api.serializers import EventBriefSerializer, UnitBriefSerializer

    unit, event = make_unit(name="Brigade"), make_event()
    claim(reliable, best=10, unit=unit, event=event, as_of_date=D(2025, 1, 10))
    row = answer(api, "as_of=2025-02-01")["results"][0]
    context = {"request": Request(APIRequestFactory().get("/"))}
    assert row["subject"]["unit"] == UnitBriefSerializer(unit, context=context).data
    assert row["subject"]["event"] == EventBriefSerializer(event, context=context).data
    assert row["periods"][0]["claims"][0]["claimant"] == ClaimantSerializer(reliable, context=context).data
