"""What the sources say about a subject on a date, and how much they agree.

A *subject* is what casualty claims can be compared about: whose losses (``country``), what
losses (``category``, and for equipment its ``equipment_type``), and the unit and the event they
concern, if any. A claim about one brigade is not compared with one about the whole contingent,
nor a figure for one event with a running total. Claims that name a system (``equipment_name``:
one item of a list such as Oryx's, or one model's figure) are not totals of a type and are left
out (``COMPARED``).

On a date D (``as_of``), a claim *stands* when its date (the date its figure is as of, else the
day it became known) is on or before D, no link known by D retracts, supersedes or revises it,
and its claimant has made no newer claim by D. Each claimant's latest claim stands, apart for
projections (a claimant's latest projection stands beside its latest report). The claimant of
a claim is the source it is ``claimed_by``; for a claim nobody is cited as claiming, the source
that ``reported_by`` it, else the one that ``confirmed_by`` it. ``known_at`` narrows all of it
to what had been published by then.

The claims of a page of subjects come from three queries whatever their number: the claims,
their citations and the links to them (``load_claims``). Each subject's claims are then held as
columns (``SubjectClaims``), so that what stands on each date compared, and what follows from
it, is a few array operations (numpy) rather than a Python loop over thousands of claims per
date (``SubjectClaims.summarize``):

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

import numpy as np
from dateutil.relativedelta import relativedelta
from django.db import connections
from django.db.models import Aggregate, BooleanField, Case, F, Func, Min, Q, TextField, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat

from . import choices
from .models import CasualtyReportLink, Citation, Source
from .selectors import CITATION_RANKS, LINK_RANKS, NO_RANK, STATUS_OF_RANK, known_by, known_on

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
SUBJECT_FIELDS = ("country", "category", "equipment_type", "unit_id", "event_id")
# The claims compared: totals of a type of equipment, not items or one system's figures.
COMPARED = Q(equipment_name="")
# A series longer than this is a request for a longer interval.
MAX_PERIODS = 1000


Interval = choices.Interval


class Subject(NamedTuple):
    country: str
    category: str
    equipment_type: str
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
        parts = [f"{quote('country')} = %s", f"{quote('category')} = %s", f"{quote('equipment_type')} = %s"]
        params += [subject.country, subject.category, subject.equipment_type]
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


class JoinedText(Aggregate):
    """The values as one text, comma-separated, in no order (``string_agg``, ``group_concat``)."""

    function = "GROUP_CONCAT"
    template = "%(function)s(%(distinct)s%(expressions)s, ',')"
    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, function="STRING_AGG", **extra)


class Padded(Func):
    """A whole number as text of a fixed width, zero-padded, so that text order is number order."""

    output_field = TextField()
    template = "LPAD(CAST(%(expressions)s AS TEXT), 20, '0')"

    def as_sqlite(self, compiler, connection, **extra):
        # %% twice: once for the template, once for the query's parameters.
        return self.as_sql(compiler, connection, template="printf('%%%%020d', %(expressions)s)", **extra)


def _ranked(field: str, ranks: dict) -> Case:
    return Case(*(When(**{field: name}, then=Value(number)) for name, number in ranks.items()), default=None)


def _earliest_when(**condition) -> Min:
    return Min(Case(When(**condition, then="known")))


CLAIM_QUERY = """SELECT consensus_claims.*,
       cited.first_known, cited.disputed_on, cited.lowest_rank, cited.claimant, cited.confirmers,
       linked.ended_on, linked.disputed_on, linked.lowest_rank
FROM ({claims}) consensus_claims
LEFT JOIN LATERAL ({citations}) cited ON true
LEFT JOIN LATERAL ({links}) linked ON true"""
CITED_FIELDS = ("first_known", "disputed_on", "lowest_rank", "claimant", "confirmers")
LINKED_FIELDS = ("ended_on", "disputed_on", "lowest_rank")


def what_citations_say(citations, known_at: datetime.date | None):
    """Per claim, what its citations known by ``known_at`` say (``CITED_FIELDS``): the day it
    first became known, the first day it was disputed, the lowest status rank
    (``CITATION_RANKS``), its claimant (the lowest ``rank:citation:source`` of its claiming,
    reporting and confirming citations, ``Padded`` so that text order is that order) and its
    confirmations (``citation:source``, comma-separated)."""
    claimant = Concat(
        _ranked("role", CLAIMANT_ROLES), Value(":"), Padded("id"), Value(":"), "source_id", output_field=TextField()
    )
    confirmation = Concat(Padded("id"), Value(":"), "source_id", output_field=TextField())
    return (
        known_by(citations, known_at)
        .annotate(known=known_on())
        .order_by()
        .values("casualty_report_id")
        .annotate(
            first_known=Min("known"),
            disputed_on=_earliest_when(role=Role.DISPUTED_BY),
            lowest_rank=Min(_ranked("role", CITATION_RANKS)),
            claimant=Min(claimant, filter=Q(role__in=list(CLAIMANT_ROLES))),
            confirmers=JoinedText(confirmation, filter=Q(role=Role.CONFIRMED_BY)),
        )
        .values_list("casualty_report_id", *CITED_FIELDS)
    )


def what_links_say(links, known_at: datetime.date | None):
    """Per claim, what the links to it known by ``known_at`` say (``LINKED_FIELDS``): the day one
    first ended it, the first day one disputed it, and the lowest status rank (``LINK_RANKS``)."""
    return (
        known_by(links, known_at)
        .annotate(known=known_on())
        .order_by()
        .values("to_claim_id")
        .annotate(
            ended_on=_earliest_when(relation__in=ENDING_RELATIONS),
            disputed_on=_earliest_when(relation=Relation.DISPUTES),
            lowest_rank=Min(_ranked("relation", LINK_RANKS)),
        )
        .values_list("to_claim_id", *LINKED_FIELDS)
    )


def read_claims(claims, *, known_at: datetime.date | None) -> list[tuple]:
    """The claims (``CLAIM_FIELDS``), each followed by what its citations and links say
    (``CITED_FIELDS``, ``LINKED_FIELDS``), grouped in the database rather than read citation by
    citation: a country's own figures are tens of thousands of claims, each cited a few times.

    On PostgreSQL, one query: each claim's citations and links are grouped beside it (LATERAL,
    an index lookup per claim). SQLite has no LATERAL, and joined to the grouped citations it
    scanned them all for each claim: it reads the claims, then the citations and links of
    those claims (their ids as one JSON parameter), grouped, and they are joined here.
    """
    connection = connections[claims.db]
    claims = claims.order_by().values_list(*CLAIM_FIELDS)
    if connection.vendor == "postgresql":

        def beside(column):
            return RawSQL(f"{connection.ops.quote_name(column)} = consensus_claims.id", [], BooleanField())

        citations = what_citations_say(Citation.objects.filter(beside("casualty_report_id")), known_at)
        links = what_links_say(CasualtyReportLink.objects.filter(beside("to_claim_id")), known_at)
        parts = [query.query.sql_with_params() for query in (claims, citations, links)]
        sql = CLAIM_QUERY.format(
            **{name: sql for name, (sql, _) in zip(("claims", "citations", "links"), parts, strict=True)}
        )
        return _fetch(connection, sql, [param for _, params in parts for param in params])
    found = _fetch(connection, *claims.query.sql_with_params())
    ids = json.dumps([row[0] for row in found])

    def among(column):
        return RawSQL(
            f"{connection.ops.quote_name(column)} IN (SELECT value FROM json_each(%s))", [ids], BooleanField()
        )

    cited = {
        row[0]: row[1:]
        for row in _raw(what_citations_say(Citation.objects.filter(among("casualty_report_id")), known_at))
    }
    linked = {
        row[0]: row[1:]
        for row in _raw(what_links_say(CasualtyReportLink.objects.filter(among("to_claim_id")), known_at))
    }
    nothing_cited, nothing_linked = (None,) * len(CITED_FIELDS), (None,) * len(LINKED_FIELDS)
    return [row + cited.get(row[0], nothing_cited) + linked.get(row[0], nothing_linked) for row in found]


def _raw(queryset) -> list[tuple]:
    return _fetch(connections[queryset.db], *queryset.query.sql_with_params())


def _fetch(connection, sql, params) -> list[tuple]:
    """The rows as the driver gives them: Django's per-value converters would cost more here
    than the query."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


class Claims:
    """The claims of a page of subjects as columns (rows from ``read_claims``): what the
    consensus computes on as arrays, what the answer lists as the values read. Claims neither
    dated nor cited are left out: they cannot be placed in time."""

    def __init__(self, found: list[tuple]):
        found = [
            row
            for row in found
            if row[CLAIM_FIELDS.index("as_of_date")] is not None or row[len(CLAIM_FIELDS)] is not None
        ]
        width = len(CLAIM_FIELDS)
        columns = list(zip(*found, strict=True)) or [()] * (width + 8)
        fields = dict(zip(CLAIM_FIELDS, columns[:width], strict=True))
        first_known, cited_disputed, cited_rank, claimants, confirmations, ended_on, linked_disputed, linked_rank = (
            columns[width:]
        )
        self.count = len(found)
        self.fields, self.days, self._listed = fields, Days(), None
        self.ids = fields["id"]
        self.subjects = list(zip(*(fields[name] for name in SUBJECT_FIELDS), strict=True))
        as_of, known = self.days.ordinals(fields["as_of_date"]), self.days.ordinals(first_known)
        self.dated = np.where(as_of != NEVER, as_of, known)
        self.ended = self.days.ordinals(ended_on)
        self.disputed = np.minimum(self.days.ordinals(cited_disputed), self.days.ordinals(linked_disputed))
        self.ranks = [min(a or NO_RANK, b or NO_RANK) for a, b in zip(cited_rank, linked_rank, strict=True)]
        kinds = fields["kind"]
        self.projection = _column((kind == Kind.PROJECTION for kind in kinds), bool)
        # The range a claim allows (lowest to highest figure; unbounded without a high or a best)
        # and its best figure (best, else the middle of low and high, else the one given).
        triples = list(zip(fields["low"], fields["best"], fields["high"], strict=True))
        figured = [triple != (None, None, None) for triple in triples]
        self.report = _column((f and kind in REPORT_KINDS for f, kind in zip(figured, kinds, strict=True)), bool)
        self.denial = _column((f and kind == Kind.DENIAL for f, kind in zip(figured, kinds, strict=True)), bool)
        self.low = _column((low if low is not None else best or 0 for low, best, _ in triples), np.int64)
        self.high = _column((high if high is not None else best or 0 for _, best, high in triples), np.int64)
        self.bounded = _column((high is not None or best is not None for _, best, high in triples), bool)
        self.best_figures = [_best(*triple) for triple in triples]
        self.best = _column((0 if value is None else value for value in self.best_figures), np.float64)
        # The claimant's source is the text after the last colon.
        self.claimants = [None if text is None else int(text[text.rindex(":") + 1 :]) for text in claimants]
        self.confirmers = {}  # place -> the other sources confirming the claim there, for the few confirmed
        for place, text in enumerate(confirmations):
            if text is not None:
                confirmers = _confirmers(text, self.claimants[place])
                if confirmers:
                    self.confirmers[place] = confirmers

    def by_subject(self) -> dict["Subject", list[int]]:
        places = defaultdict(list)
        for place, subject in enumerate(self.subjects):
            places[subject].append(place)
        return places

    def source_ids(self) -> set[int]:
        """The sources that make the claims: their claimants and confirmers."""
        ids = {pk for pk in self.claimants if pk is not None}
        for confirmers in self.confirmers.values():
            ids.update(confirmers)
        return ids

    def makers(self, place: int) -> tuple[int, ...]:
        """Who makes a claim: its claimant and the sources confirming it. A claim cited by no one
        as its maker is its own (a negative key)."""
        claimant = self.claimants[place]
        return (claimant if claimant is not None else -self.ids[place], *self.confirmers.get(place, ()))

    def record(self, place: int) -> dict:
        """A claim as the answer lists it, but for its address and its makers' names (``makers``)."""
        if self._listed is None:
            fields, days = self.fields, self.days
            statuses = [STATUS_OF_RANK.get(rank, choices.ClaimStatus.CLAIMED) for rank in self.ranks]
            self._listed = list(
                zip(
                    self.ids, fields["kind"], days.iso_of_ordinals(self.dated.tolist()),
                    fields["low"], fields["best"], fields["high"],
                    *(days.iso_of(fields[name]) for name in ("as_of_date", "period_start", "horizon_date")),
                    fields["date_precision"], fields["date_text"], fields["credibility"], statuses,
                    strict=True,
                )
            )  # fmt: skip
        return {"makers": self.makers(place), **dict(zip(RECORD_FIELDS, self._listed[place], strict=True))}


RECORD_FIELDS = (
    "id",
    "kind",
    "date",
    "low",
    "best",
    "high",
    "as_of_date",
    "period_start",
    "horizon_date",
    "date_precision",
    "date_text",
    "credibility",
    "status",
)


class Days:
    """Days as the driver gives them (dates, or ISO text on SQLite), each read once: a page's
    claims share a few thousand days between tens of thousands of values."""

    def __init__(self):
        self._ordinals, self._iso = {None: NEVER}, {}

    def _ordinals_of(self, values) -> list[int]:
        for value in set(values) - self._ordinals.keys():
            self._ordinals[value] = _date(value).toordinal()
        return list(map(self._ordinals.__getitem__, values))

    def ordinals(self, values) -> np.ndarray:
        return np.array(self._ordinals_of(values), dtype=np.int64)

    def iso_of_ordinals(self, ordinals) -> list[str | None]:
        for ordinal in set(ordinals) - self._iso.keys():
            self._iso[ordinal] = None if ordinal == NEVER else datetime.date.fromordinal(ordinal).isoformat()
        return list(map(self._iso.__getitem__, ordinals))

    def iso_of(self, values) -> list[str | None]:
        return self.iso_of_ordinals(self._ordinals_of(values))


def load_claims(claims, *, known_at: datetime.date | None) -> Claims:
    """The claims with what their citations and links say, as columns (``read_claims``)."""
    return Claims(read_claims(claims, known_at=known_at))


def _confirmers(text: str, claimant: int) -> list[int]:
    """The sources confirming a claim, in citation order, once each, but for its claimant."""
    sources = (int(entry[entry.index(":") + 1 :]) for entry in sorted(text.split(",")))
    return list(dict.fromkeys(source for source in sources if source != claimant))


def _date(value):
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


def best_figure(claim) -> float | None:
    """A claim's best figure: its best, else the middle of its low and high, else the one given."""
    return _best(claim["low"], claim["best"], claim["high"])


def _best(low, best, high):
    if best is not None:
        return best
    if low is not None and high is not None:
        return (low + high) / 2
    return low if low is not None else high


def agreement(ranges: list[tuple[int, int | None]]) -> dict | None:
    """The figures that the most ranges share, with how many ranges; None unless two share one
    (``(low, high)`` pairs, high None for no upper bound; see ``_agreement``)."""
    lows = np.array([low for low, _ in ranges], dtype=np.int64)
    highs = np.array([0 if high is None else high for _, high in ranges], dtype=np.int64)
    return _agreement(lows, highs, np.array([high is not None for _, high in ranges], dtype=bool))


def _agreement(lows, highs, bounded) -> dict | None:
    """The figures that the most ranges share: ranges count from their low end to their high end,
    both included, and an unbounded one never closes. The most ranges overlap at the low end of
    one of them, where the count is the ranges opened by then less those closed before; the
    figures they share there run up to the lowest high end among them. Ties go to the lowest."""
    if len(lows) < 2:
        return None
    starts, ends = np.sort(lows), np.sort(highs[bounded])
    counts = np.searchsorted(starts, starts, side="right") - np.searchsorted(ends, starts, side="left")
    best = int(np.argmax(counts))
    most, where = int(counts[best]), starts[best]
    if most < 2:
        return None
    shared = bounded & (lows <= where) & (highs >= where)
    return {"low": int(where), "high": int(highs[shared].min()) if shared.any() else None, "claims": most}


# --- The claims of a subject as columns, and what stands of them on each date ----------------


class Sources:
    """What the consensus needs to know of each maker, by a dense code: a source's code is its
    place in ``ids``; a claim cited by no one is its own maker, with a code of its own past them
    (see ``of``), neither independent nor a party's, of a reliability that cannot be judged."""

    def __init__(self, facts: dict[int, tuple[str, bool]]):
        self.ids = list(facts)
        self.code = {pk: index for index, pk in enumerate(self.ids)}
        reliability = [facts[pk][0] for pk in self.ids]
        self.party = np.array([facts[pk][1] for pk in self.ids], dtype=bool)
        self.reliable = np.array([value in USUALLY_RELIABLE for value in reliability], dtype=bool)
        self.weight = np.array([RELIABILITY_WEIGHTS[value] for value in reliability], dtype=np.float64)

    def of(self, claims: int):
        """(party, independent, usually reliable, weight) of each code; codes past the sources
        are the ``claims`` claims' own."""
        own = np.zeros(claims, dtype=bool)
        party, reliable = np.concatenate([self.party, own]), np.concatenate([self.reliable, own])
        weight = np.concatenate([self.weight, np.full(claims, RELIABILITY_WEIGHTS[choices.Reliability.F])])
        real = np.arange(len(party)) < len(self.ids)
        return party, real & ~party, reliable, weight


class SubjectClaims:
    """One subject's claims (places in ``Claims``), ordered by maker and kind (a claimant's latest
    projection stands beside its latest report) and then by date, so that what stands on a date
    is a few array operations, not a walk per claimant."""

    def __init__(self, claims: Claims, places: list[int], sources: Sources):
        count, codes = len(places), len(sources.ids)
        places = np.array(places, dtype=np.int64)
        claimants = [claims.claimants[place] for place in places]
        maker = _column((codes + n if pk is None else sources.code[pk] for n, pk in enumerate(claimants)), np.int64)
        ids = _column((claims.ids[place] for place in places), np.int64)
        projection, dated = claims.projection[places], claims.dated[places]
        order = np.lexsort((ids, dated, projection, maker))
        self.claims, self.places, self.maker = claims, places[order], maker[order]
        places, projection = self.places, projection[order]
        changed = (self.maker[1:] != self.maker[:-1]) | (projection[1:] != projection[:-1])
        self.group = np.concatenate([[0], np.cumsum(changed)]) if count else np.zeros(0, dtype=np.int64)
        self.dated, self.ended, self.disputed = claims.dated[places], claims.ended[places], claims.disputed[places]
        self.report, self.denial = claims.report[places], claims.denial[places]
        self.low, self.high, self.bounded, self.best = (
            claims.low[places], claims.high[places], claims.bounded[places], claims.best[places]
        )  # fmt: skip
        # Each claim's place in date order, for listing new claims in it.
        self.in_order = np.empty(count, dtype=np.int64)
        self.in_order[np.lexsort((ids[order], self.dated))] = np.arange(count)
        # Confirmers, sparse: (claim's place here, confirmer's code) for each.
        pairs = [(n, sources.code[pk]) for n, place in enumerate(places) for pk in claims.confirmers.get(place, ())]
        self.confirmed = np.array([n for n, _ in pairs], dtype=np.int64)
        self.confirmer = np.array([code for _, code in pairs], dtype=np.int64)
        self.party, self.independent, self.reliable, self.weight = sources.of(count)
        self.count = count

    def standing(self, day: datetime.date) -> np.ndarray:
        """The places of the claims standing on ``day``: in each group, the latest dated by then
        that nothing has ended by then (so if a newer claim is retracted, the older stands again)."""
        ordinal = day.toordinal()
        places = np.flatnonzero((self.dated <= ordinal) & (self.ended > ordinal))
        if not len(places):
            return places
        groups = self.group[places]
        return places[np.append(groups[1:] != groups[:-1], True)]

    def makers(self, places, member) -> np.ndarray:
        """The distinct codes of the makers (claimants and confirmers) of the claims at ``places``."""
        confirmers = self.confirmer[member[self.confirmed]] if len(self.confirmed) else self.confirmer
        return np.unique(np.concatenate([self.maker[places], confirmers]))

    def summarize(self, places: np.ndarray, day: datetime.date) -> dict:
        """The figures and the grade of the subject on ``day``, from the claims standing then
        (see the module's docstring)."""
        member = np.zeros(self.count, dtype=bool)
        member[places] = True
        makers = self.makers(places, member)
        reports, denials = places[self.report[places]], places[self.denial[places]]
        lows, highs, bounded = self.low[reports], self.high[reports], self.bounded[reports]
        envelope = None
        if len(reports):
            envelope = {"low": int(lows.min()), "high": int(highs.max()) if bounded.all() else None}
        return {
            "grade": self._grade(places, reports, denials, day),
            "standing": len(places),
            "claimants": len(makers),
            "independent_claimants": int(self.independent[makers].sum()),
            "party_claimants": int(self.party[makers].sum()),
            "envelope": envelope,
            "agreement": _agreement(lows, highs, bounded),
            "weighted_median": self._weighted_median(reports),
            "spread": self._spread(reports),
        }

    def _weighted_median(self, reports):
        """The lowest best figure at which the running weight, in figure order, reaches half the total."""
        if not len(reports):
            return None
        weights = self.weight[self.maker[reports]]
        order = np.lexsort((weights, self.best[reports]))
        running = np.cumsum(weights[order])
        place = int(np.searchsorted(running, running[-1] / 2, side="left"))
        return self.claims.best_figures[self.places[reports[order[min(place, len(order) - 1)]]]]

    def _spread(self, reports):
        if len(reports) < 2:
            return None
        bests = self.best[reports]
        lowest, highest = (self.claims.best_figures[self.places[reports[f(bests)]]] for f in (np.argmin, np.argmax))
        return None if lowest <= 0 else round(highest / lowest, 4)

    def _grade(self, places, reports, denials, day) -> str:
        if not len(places):
            return Grade.NONE
        if not len(reports) and not len(denials):
            return Grade.UNQUANTIFIED
        # A claimant has one standing report (or denial) at a time, so two reports are two sources'.
        # On a line, some two ranges share no figure exactly when one starts above another's end.
        bounded = reports[self.bounded[reports]]
        if len(bounded) and self.low[reports].max() > self.high[bounded].min():
            return Grade.CONTESTED
        if len(denials) and len(reports) and (len(bounded) < len(reports) or self.high[bounded].max() > 0):
            return Grade.CONTESTED
        if (self.disputed[reports] <= day.toordinal()).any():
            return Grade.CONTESTED
        quantified = np.concatenate([reports, denials])
        member = np.zeros(self.count, dtype=bool)
        member[quantified] = True
        sources = self.makers(quantified, member)
        if len(sources) == 1:
            return Grade.SINGLE_SOURCE
        independent, reliable = self.independent[sources].any(), self.reliable[sources].any()
        return Grade.CORROBORATED if independent and reliable else Grade.CONSISTENT

    def new(self, places, before) -> list[dict]:
        """The claims at ``places`` that were not at ``before``, in date order."""
        fresh = places[~before[places]]
        return [self.claims.record(place) for place in self.places[fresh[np.argsort(self.in_order[fresh])]]]


NEVER = np.iinfo(np.int64).max  # the ordinal of a day that does not come


def _ordinal(day: datetime.date | None) -> int:
    return NEVER if day is None else day.toordinal()


def _column(values, dtype) -> np.ndarray:
    return np.fromiter(values, dtype=dtype)


# --- A page of subjects, for one date or a series -------------------------------------------


@dataclasses.dataclass
class Standing:
    """What stands for one subject on one day, as the answer lists it: the claims that stand
    then and did not on the answer's previous day (``new``), and who makes each."""

    new: list[dict]

    @staticmethod
    def makers(claim) -> tuple[int, ...]:
        """Who makes a claim: its claimant and the sources confirming it. A claim cited by no
        one is its own maker (a negative key)."""
        return claim["makers"]


@dataclasses.dataclass
class SubjectConsensus:
    subject: Subject
    periods: list[tuple[Period, Standing, dict]]  # (period, its standing claims, their summary)


def read_sources(ids) -> dict[int, dict]:
    """The reliability and the party flag of each source, by id."""
    return {row["id"]: row for row in Source.objects.filter(pk__in=ids).values("id", "reliability", "party")}


def consensus(
    claims, *, subjects: list[Subject], periods: list[Period], known_at=None, sources=read_sources
) -> list[SubjectConsensus]:
    """The standing claims and their summary for each subject and period, in a fixed number
    of queries: the claims with what their citations and links say (``load_claims``), and the
    sources that make them, read by ``sources`` (ids -> records with ``reliability`` and
    ``party``), so that the answer can read what it shows of them in the same query."""
    if not subjects:
        return []
    condition = subjects_condition(subjects, connections[claims.db])
    loaded = load_claims(claims.filter(condition), known_at=known_at)
    makers = sources(loaded.source_ids())
    sources = Sources({pk: (row["reliability"], row["party"]) for pk, row in makers.items()})
    by_subject, result = loaded.by_subject(), []
    for subject in subjects:
        table = SubjectClaims(loaded, by_subject.get(subject, []), sources)
        entries, before = [], np.zeros(table.count, dtype=bool)
        for period in periods:
            places = table.standing(period.end)
            entries.append((period, Standing(table.new(places, before)), table.summarize(places, period.end)))
            before = np.zeros(table.count, dtype=bool)
            before[places] = True
        result.append(SubjectConsensus(subject, entries))
    return result
