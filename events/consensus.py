"""What the sources say about a subject on a date, and how much they agree.

A *subject* is what casualty claims can be compared about: whose losses (``country``), what
losses (``category``), and the unit and the event they concern, if any. A claim about one
brigade is not compared with one about the whole contingent, nor a figure for one event with a
running total.

On a date D (``as_of``), a claim *stands* when its date (the date its figure is as of, else the
day it became known) is on or before D, no link known by D retracts, supersedes or revises it,
and its claimant has made no newer claim by D. Each claimant's latest claim stands, apart for
projections (a claimant's latest projection stands beside its latest report). The claimant of
a claim is the source it is ``claimed_by``; for a claim nobody is cited as claiming, the source
that ``reported_by`` it, else the one that ``confirmed_by`` it. ``known_at`` narrows all of it
to what had been published by then.

The standing claims of a page of subjects, for one date or for the end of every period of a
series, come from one query: a window function ranks each claimant's claims per subject and
date, over the claims joined with the dates (``standing_claims``). What follows from them is
computed per subject and date here (``summarize``):

- **claimants**: distinct claimants of standing claims; **independent_claimants**: the distinct
  sources that originate (claim or confirm) standing reports or denials and do not speak for a
  party to the conflict (``Source.party``); a source that only reports another's claim is not
  a claimant at all; **party_claimants**: the claimants that speak for a party.
- **envelope**: the lowest and the highest figure any standing report allows (``high`` null: no
  upper bound, as with "over 4,000").
- **agreement**: the figures that the largest number of standing reports' ranges share, with
  that number; null unless at least two ranges share a figure. Ties go to the lowest figures.
- **weighted_median**: the median of the reports' best figures (best, else the middle of low
  and high, else the one given), each weighted by its claimant's reliability
  (``RELIABILITY_WEIGHTS``).
- **spread**: the highest best figure over the lowest (null with fewer than two, or a zero).
- **grade**, the first that applies:
  ``none`` (no claim stands), ``unquantified`` (no standing report or denial has a figure),
  ``contested`` (two sources' standing reports have ranges that share no figure, a standing
  denial stands against a report of losses, or a standing report is disputed by a link or a
  citation), ``single_source`` (one source says it all), ``corroborated`` (two or more sources
  whose ranges all share a figure, at least one of them independent and at least one usually
  reliable, A or B), ``consistent`` (the ranges share a figure, but not corroborated).

Projections (with their horizons) and denials are listed apart from reports of what
happened; the envelope, agreement, median and spread are those of the reports.
"""

import dataclasses
import datetime
import json
from collections import defaultdict
from typing import NamedTuple

from dateutil.relativedelta import relativedelta
from django.db import connections
from django.db.models import BooleanField, F, Q
from django.db.models.expressions import RawSQL

from . import choices
from .models import CasualtyReportLink, Citation, Source
from .selectors import CITATION_RANKS, LINK_RANKS, known_by, known_on, status_of

Grade = choices.ConsensusGrade
Kind = choices.FigureKind
Role = choices.CitationRole
Relation = choices.LinkRelation

# How much a claimant's reliability weighs in the median: cannot be judged (F) counts as
# fairly reliable's lower neighbour, neither trusted nor dismissed.
RELIABILITY_WEIGHTS = {"A": 5, "B": 4, "C": 3, "D": 2, "E": 1, "F": 2}
USUALLY_RELIABLE = {"A", "B"}
REPORT_KINDS = {Kind.COUNT, Kind.ESTIMATE}
ENDING_RELATIONS = [Relation.RETRACTS, Relation.SUPERSEDES, Relation.REVISES]
SUBJECT_FIELDS = ("country", "category", "unit_id", "event_id")
# A series longer than this is a request for a longer interval.
MAX_PERIODS = 1000


Interval = choices.Interval


class Subject(NamedTuple):
    country: str
    category: str
    unit_id: int | None
    event_id: int | None


def subjects_condition(subjects: list[Subject], connection) -> RawSQL:
    """The claims about any of ``subjects``, as one SQL condition: a page's hundred subjects as a
    hundred ``Q`` objects would cost more to compile than the query takes to run.

    The columns are left unqualified, so that the condition holds as well where the claims
    query is nested under an alias; nothing joined to it has these columns.
    """
    quote = connection.ops.quote_name
    clauses, params = [], []
    for subject in subjects:
        parts = [f"{quote('country')} = %s", f"{quote('category')} = %s"]
        params += [subject.country, subject.category]
        for column, value in (("unit_id", subject.unit_id), ("event_id", subject.event_id)):
            if value is None:
                parts.append(f"{quote(column)} IS NULL")
            else:
                parts.append(f"{quote(column)} = %s")
                params.append(value)
        clauses.append("(" + " AND ".join(parts) + ")")
    # The same, first as what an index seeks (SQLite would test every subject on every claim
    # of the country and category): the units named, and no unit if one subject has none.
    units = sorted({subject.unit_id for subject in subjects if subject.unit_id is not None})
    seek = []
    if units:
        seek.append(f"{quote('unit_id')} IN ({', '.join(['%s'] * len(units))})")
    if any(subject.unit_id is None for subject in subjects):
        seek.append(f"{quote('unit_id')} IS NULL")
    sql = "(" + " OR ".join(seek) + ") AND (" + " OR ".join(clauses) + ")"
    return RawSQL(sql, [*units, *params], output_field=BooleanField())


@dataclasses.dataclass(frozen=True)
class Period:
    start: datetime.date | None  # None for a single date (as_of)
    end: datetime.date


def periods(interval: str, date_from: datetime.date, date_to: datetime.date) -> list[Period]:
    """The calendar periods (days, Monday-to-Sunday weeks, months, years) that overlap the
    window, each cut to it: a claim is compared as of the end of each."""
    if interval == Interval.DAY:
        start, step = date_from, relativedelta(days=1)
    elif interval == Interval.WEEK:
        start, step = date_from - datetime.timedelta(days=date_from.weekday()), relativedelta(weeks=1)
    elif interval == Interval.MONTH:
        start, step = date_from.replace(day=1), relativedelta(months=1)
    else:
        start, step = date_from.replace(month=1, day=1), relativedelta(years=1)
    result = []
    while start <= date_to:
        end = start + step - datetime.timedelta(days=1)
        result.append(Period(max(start, date_from), min(end, date_to)))
        start += step
    return result


def subjects_of(claims) -> "QuerySet":  # noqa: F821
    """The distinct subjects of a queryset of casualty reports, in a stable order on every
    database: country, category, unit id, event id, with no unit or event last (a country's
    own figures, often its most discussed, close the list rather than weigh on its first page)."""
    return (
        claims.order_by()
        .values(*SUBJECT_FIELDS)
        .distinct()
        .order_by(*(F(name).asc(nulls_last=True) for name in SUBJECT_FIELDS))
    )


# --- The standing claims: one query -------------------------------------------------------


CLAIM_FIELDS = (
    "id",
    *SUBJECT_FIELDS,
    "kind",
    "low",
    "best",
    "high",
    "as_of_date",
    "period_start",
    "horizon_date",
    "date_precision",
    "date_text",
    "credibility",
)
CLAIMANT_ROLES = {Role.CLAIMED_BY: 0, Role.REPORTED_BY: 1, Role.CONFIRMED_BY: 2}


def _raw(queryset) -> list[tuple]:
    """The rows of a ``values_list`` query as the database driver gives them, without Django's
    per-value converters: tens of thousands of rows are read here, and dates are parsed below."""
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def among_claims(column: str, claims, ids: list[int], connection):
    """``column IN <the claims>``, as each database reads it fastest: PostgreSQL nests the
    claims query (an index-only scan), where SQLite, nesting it, walked a country's whole index
    for each citation; it reads the ids as one JSON parameter instead, however many."""
    if connection.vendor == "postgresql":
        return Q(**{f"{column}__in": claims.order_by().values("pk")})
    column = connection.ops.quote_name(column)
    return RawSQL(f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(ids)], output_field=BooleanField())


def load_claims(claims, *, known_at: datetime.date | None) -> list[dict]:
    """The claims, each with its claimant, confirmers, date, end, dispute date and status.

    Three queries, whatever the number of claims: the claims, their citations and the links
    to them (those known by ``known_at``). What follows from a claim's citations and links is
    worked out here, in one pass over each, rather than by a handful of correlated subqueries
    per claim in the database (a country's own figures are tens of thousands of claims).
    """
    rows = {
        values[0]: dict(zip(CLAIM_FIELDS, values, strict=True))
        for values in _raw(claims.order_by().values_list(*CLAIM_FIELDS))
    }
    if not rows:
        return []
    connection = connections[claims.db]
    citations = (
        known_by(Citation.objects.filter(among_claims("casualty_report_id", claims, list(rows), connection)), known_at)
        .annotate(known=known_on())
        .order_by()
        .values_list("casualty_report_id", "source_id", "role", "known", "pk")
    )
    links = (
        known_by(
            CasualtyReportLink.objects.filter(among_claims("to_claim_id", claims, list(rows), connection)), known_at
        )
        .annotate(known=known_on())
        .order_by()
        .values_list("to_claim_id", "relation", "known")
    )
    cited, first_known, ended_on, disputed_on, ranks = (defaultdict(list), {}, {}, {}, defaultdict(list))
    for claim_id, source_id, role, known, citation_id in _raw(citations):
        known = _date(known)
        cited[claim_id].append((CLAIMANT_ROLES.get(role, 9), citation_id, source_id, role))
        first_known[claim_id] = _earliest(first_known.get(claim_id), known)
        if role == Role.DISPUTED_BY:
            disputed_on[claim_id] = _earliest(disputed_on.get(claim_id), known)
        if role in CITATION_RANKS:
            ranks[claim_id].append(CITATION_RANKS[role])
    for claim_id, relation, known in _raw(links):
        known = _date(known)
        if relation in ENDING_RELATIONS:
            ended_on[claim_id] = _earliest(ended_on.get(claim_id), known)
        elif relation == Relation.DISPUTES:
            disputed_on[claim_id] = _earliest(disputed_on.get(claim_id), known)
        ranks[claim_id].append(LINK_RANKS[relation])
    result = []
    for claim_id, row in rows.items():
        for name in ("as_of_date", "period_start", "horizon_date"):
            row[name] = _date(row[name])
        row["claim_date"] = row["as_of_date"] or first_known.get(claim_id)
        if row["claim_date"] is None:
            continue  # neither dated nor cited: it cannot be placed in time
        # The first claiming citation's source; else the first reporting one's, else the first confirming.
        makers = sorted(entry for entry in cited.get(claim_id, ()) if entry[0] < 9)
        claimant = makers[0][2] if makers else None
        confirmers = [source for _, _, source, role in makers if role == Role.CONFIRMED_BY and source != claimant]
        row["claimant_id"] = claimant
        row["confirmed_by"] = list(dict.fromkeys(confirmers))
        row["makers"] = (claimant if claimant is not None else -claim_id, *row["confirmed_by"])
        row["ended_on"], row["disputed_on"] = ended_on.get(claim_id), disputed_on.get(claim_id)
        row["status"] = status_of(ranks.get(claim_id, ()))
        row["projection"] = row["kind"] == Kind.PROJECTION
        row["range"] = figure_range(row)
        row["best_figure"] = best_figure(row)
        result.append(row)
    return result


def _earliest(first, second):
    if first is None:
        return second
    return first if second is None or first <= second else second


def standing_claims(claims, *, dates: list[datetime.date], known_at: datetime.date | None) -> dict:
    """The claims standing on each of ``dates`` (ascending), per subject: ``{(subject, date): [row]}``.

    The claims come from ``load_claims``; one pass over them, grouped by subject, claimant and
    kind and in date order, walks each claimant's claims along the dates. A claimant's claim
    stands on a date when it is the latest one dated by then that nothing has ended by then: if
    its newer claim is retracted, the older stands again. A claim with no claimant is its own.

    (The ranking could be a window function over the claims joined with the dates, but that
    multiplies the rows by the number of dates, and a country's own figures at the benchmark's
    scale have thousands of claimants: measured, the join alone took longer than this whole pass.)
    """
    result = defaultdict(list)
    if not dates:
        return result
    groups = defaultdict(list)
    for row in load_claims(claims, known_at=known_at):
        subject = Subject(row["country"], row["category"], row["unit_id"], row["event_id"])
        claimant = row["claimant_id"] if row["claimant_id"] is not None else -row["id"]
        groups[(subject, claimant, row["projection"])].append(row)
    for key, group in groups.items():
        group.sort(key=lambda row: (row["claim_date"], row["id"]))
        _walk(group, key, dates, result)
    return result


def _walk(group: list[dict], key, dates, result):
    """Each date's standing claim of one claimant (its claims in date order) about one subject."""
    subject = key[0]
    latest = -1  # index of the last claim dated on or before the date
    for day in dates:
        while latest + 1 < len(group) and group[latest + 1]["claim_date"] <= day:
            latest += 1
        for index in range(latest, -1, -1):
            ended = group[index]["ended_on"]
            if ended is None or ended > day:
                result[(subject, day)].append(group[index])
                break


def _date(value):
    if value is None or isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


# --- What follows from the standing claims ------------------------------------------------


def figure_range(claim) -> tuple[int, int | None] | None:
    """(lowest, highest) figure a claim allows, highest None for no upper bound; None without a figure."""
    low, best, high = claim["low"], claim["best"], claim["high"]
    if low is None and best is None and high is None:
        return None
    lowest = next(value for value in (low, best, 0) if value is not None)
    highest = next((value for value in (high, best) if value is not None), None)
    if highest is None and low is None:  # only "high" given: up to it
        highest = high
    return lowest, highest


def best_figure(claim) -> float | None:
    low, best, high = claim["low"], claim["best"], claim["high"]
    if best is not None:
        return best
    if low is not None and high is not None:
        return (low + high) / 2
    return low if low is not None else high


def agreement(ranges: list[tuple[int, int | None]]) -> dict | None:
    """The figures that the most ranges share, with how many ranges; None unless two share one.

    A sweep along the figures: a range counts from its low end to its high end, both included
    (a high end of None never closes). The most ranges overlap at the low end of one of them;
    the figures they share there run up to the lowest high end among them. Ties go to the
    lowest figures.
    """
    starts = sorted(low for low, _ in ranges)
    ends = sorted(high for _, high in ranges if high is not None)
    count = most = 0
    where, end_index = None, 0
    for low in starts:
        while end_index < len(ends) and ends[end_index] < low:  # closed before this range opens
            end_index += 1
            count -= 1
        count += 1
        if count > most:
            most, where = count, low
    if most < 2:
        return None
    highs = [high for start, high in ranges if start <= where and (high is None or high >= where)]
    bounded = [high for high in highs if high is not None]
    return {"low": where, "high": min(bounded) if bounded else None, "claims": most}


def weighted_median(values_and_weights: list[tuple[float, float]]) -> float | None:
    """The lowest value at which the running weight, in value order, reaches half the total."""
    if not values_and_weights:
        return None
    ordered = sorted(values_and_weights)
    half, running = sum(weight for _, weight in ordered) / 2, 0
    for value, weight in ordered:
        running += weight
        if running >= half:
            return value
    return ordered[-1][0]


@dataclasses.dataclass
class Standing:
    """The claims standing on one day for one subject, and who makes them."""

    claims: list[dict]
    sources: dict[int, dict]  # id -> {"reliability", "party"}
    day: datetime.date
    new: list[dict] = dataclasses.field(default_factory=list)  # not standing on the day before in the answer

    @staticmethod
    def makers(claim) -> tuple[int, ...]:
        """Who makes a claim: its claimant and the sources confirming it. A claim cited by no
        one is its own maker (a negative key), neither independent nor a party's."""
        return claim["makers"]

    def is_party(self, key) -> bool:
        return key > 0 and self.sources[key]["party"]

    def reliability(self, key) -> str:
        return self.sources[key]["reliability"] if key > 0 else choices.Reliability.F


def summarize(standing: Standing) -> dict:
    """The figures and the grade of one subject on one day (see the module's docstring)."""
    quantified, denials, makers = [], [], set()
    for claim in standing.claims:
        makers.update(claim["makers"])
        if claim["range"] is None:
            continue
        if claim["kind"] in REPORT_KINDS:
            quantified.append(claim)
        elif claim["kind"] == Kind.DENIAL:
            denials.append(claim)
    ranges = [claim["range"] for claim in quantified]
    return {
        "grade": _grade(standing, quantified, denials, ranges),
        "standing": len(standing.claims),
        "claimants": len(makers),
        "independent_claimants": sum(1 for key in makers if key > 0 and not standing.is_party(key)),
        "party_claimants": sum(1 for key in makers if standing.is_party(key)),
        "envelope": _envelope(ranges),
        "agreement": agreement(ranges),
        "weighted_median": weighted_median(
            [
                (claim["best_figure"], RELIABILITY_WEIGHTS[standing.reliability(claim["makers"][0])])
                for claim in quantified
            ]
        ),
        "spread": _spread([claim["best_figure"] for claim in quantified]),
    }


def _envelope(ranges):
    if not ranges:
        return None
    highs = [high for _, high in ranges]
    return {"low": min(low for low, _ in ranges), "high": None if None in highs else max(highs)}


def _spread(bests):
    if len(bests) < 2 or min(bests) <= 0:
        return None
    return round(max(bests) / min(bests), 4)


def _grade(standing: Standing, quantified, denials, ranges) -> str:
    if not standing.claims:
        return Grade.NONE
    if not quantified and not denials:
        return Grade.UNQUANTIFIED
    # A claimant has one standing report (or denial) at a time, so two reports are two sources'.
    # On a line, some two ranges share no figure exactly when one starts above another's end.
    ends = [high for _, high in ranges if high is not None]
    if ends and max(low for low, _ in ranges) > min(ends):
        return Grade.CONTESTED
    if denials and any(high is None or high > 0 for _, high in ranges):
        return Grade.CONTESTED
    if any(claim["disputed_on"] is not None and claim["disputed_on"] <= standing.day for claim in quantified):
        return Grade.CONTESTED
    sources = {key for claim in quantified + denials for key in claim["makers"]}
    if len(sources) == 1:
        return Grade.SINGLE_SOURCE
    independent = any(key > 0 and not standing.is_party(key) for key in sources)
    reliable = any(standing.reliability(key) in USUALLY_RELIABLE for key in sources)
    return Grade.CORROBORATED if independent and reliable else Grade.CONSISTENT


# --- A page of subjects, for one date or a series -------------------------------------------


def _in_date_order(row):
    return row["claim_date"], row["id"]


@dataclasses.dataclass
class SubjectConsensus:
    subject: Subject
    periods: list[tuple[Period, Standing, dict]]  # (period, its standing claims, their summary)


def consensus(claims, *, subjects: list[Subject], periods: list[Period], known_at=None) -> list[SubjectConsensus]:
    """The standing claims and their summary for each subject and period, in a fixed number
    of queries: the standing claims, their confirmers, and the sources behind both."""
    if not subjects:
        return []
    condition = subjects_condition(subjects, connections[claims.db])
    standing = standing_claims(claims.filter(condition), dates=[period.end for period in periods], known_at=known_at)
    source_ids = {key for rows in standing.values() for row in rows for key in Standing.makers(row) if key > 0}
    sources = {
        pk: {"reliability": reliability, "party": party}
        for pk, reliability, party in Source.objects.filter(pk__in=source_ids).values_list("pk", "reliability", "party")
    }
    result = []
    for subject in subjects:
        entries, before = [], set()
        for period in periods:
            claims_then = standing.get((subject, period.end), [])
            now = Standing(claims_then, sources, period.end)
            ids = {row["id"] for row in claims_then}
            now.new = sorted((row for row in claims_then if row["id"] not in before), key=_in_date_order)
            before = ids
            entries.append((period, now, summarize(now)))
        result.append(SubjectConsensus(subject, entries))
    return result
