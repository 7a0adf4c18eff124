"""Read-side queries shared by the API filters and the admin."""

import datetime
import json

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    Func,
    IntegerField,
    Min,
    OuterRef,
    Prefetch,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Least, TruncDate

from . import choices
from .known import KnownBy, KnownOrder
from .models import CasualtyReport, CasualtyReportLink, Citation, Event, EventLink, EventUnit, Unit


def citation_count(subject_field: str) -> Coalesce:
    """The number of citations of each row, for ``.annotate(citation_count=...)``.

    A correlated subquery rather than ``Count("citations")``: a join with GROUP BY would
    aggregate the whole citation table for every page and again for its row count, where the
    subquery runs for the rows on the page only and drops out of ``count()``.
    """
    citations = (
        Citation.objects.filter(**{subject_field: OuterRef("pk")})
        .order_by()
        .values(subject_field)
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(citations), 0)


def unit_subtree_ids(*unit_ids: int) -> list[int]:
    """The ids of these units and all their descendants, at any depth, read with one query.

    A recursive CTE keeps the hierarchy a plain ``parent`` foreign key (nothing to keep in
    sync when a unit moves) and works the same on SQLite and PostgreSQL. ``UNION`` rather
    than ``UNION ALL`` stops the walk even if a cycle slipped into the data.

    The ids are read first and then filtered on as a list, rather than nested as a subquery:
    the planner cannot estimate how many rows a recursive CTE yields, and on PostgreSQL it
    answered ``unit_id IN (<CTE>)`` with a hash join over every casualty report (1.8 s at
    3 million) where ``unit_id = ANY(<ids>)`` is an index scan.
    """
    if not unit_ids:
        return []
    table = connection.ops.quote_name(Unit._meta.db_table)
    roots = ", ".join(["%s"] * len(unit_ids))
    sql = (
        f"WITH RECURSIVE subtree(id) AS ("
        f"SELECT id FROM {table} WHERE id IN ({roots}) "
        f"UNION SELECT child.id FROM {table} child JOIN subtree ON child.parent_id = subtree.id"
        f") SELECT id FROM subtree"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(unit_ids))
        return [row[0] for row in cursor.fetchall()]


def distinct_values(model, field_name: str) -> list:
    """The distinct non-null values of a column, in order, read along an index that begins with it.

    A ``SELECT DISTINCT`` reads the whole table (over half a second for the countries of three
    million casualty reports). This recursive query skips from each value to the next one
    with one index lookup apiece, so it costs as many lookups as there are values.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model._meta.get_field(field_name).column)
    sql = (
        f"WITH RECURSIVE found(value) AS ("
        f"SELECT min({column}) FROM {table} "
        f"UNION ALL SELECT (SELECT min({column}) FROM {table} WHERE {column} > found.value) "
        f"FROM found WHERE found.value IS NOT NULL"
        f") SELECT value FROM found WHERE value IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def known_on(date_field: str = "published_date"):
    """The day something became known: its publication date, else the day it was recorded."""
    return Coalesce(date_field, TruncDate("created_at"))


def known_by(queryset, known_at: datetime.date | None):
    """Citations or links known on or before ``known_at`` (all of them without a day)."""
    if known_at is None:
        return queryset
    return queryset.alias(known_on=known_on()).filter(known_on__lte=known_at)


def _claim_parts(model):
    """(the Citation field pointing at a claim model, the link model whose to_claim points at it)."""
    if model is CasualtyReport:
        return "casualty_report", CasualtyReportLink
    return "event", EventLink


# How each link (by relation) and citation (by role) bears on a claim's status: the claim takes
# the lowest rank among them (NO_RANK: claimed).
LINK_RANKS = {
    choices.LinkRelation.RETRACTS: 1,
    choices.LinkRelation.SUPERSEDES: 2,
    choices.LinkRelation.REVISES: 2,
    choices.LinkRelation.DISPUTES: 3,
    choices.LinkRelation.CONFIRMS: 4,
}
CITATION_RANKS = {choices.CitationRole.DISPUTED_BY: 3, choices.CitationRole.CONFIRMED_BY: 4}
STATUS_OF_RANK = {
    1: choices.ClaimStatus.RETRACTED,
    2: choices.ClaimStatus.SUPERSEDED,
    3: choices.ClaimStatus.DISPUTED,
    4: choices.ClaimStatus.CONFIRMED,
}
NO_RANK = 5


def status_of(ranks) -> str:
    """The status a claim's links' and citations' ranks give it (see ``claim_status``)."""
    return STATUS_OF_RANK.get(min(ranks, default=NO_RANK), choices.ClaimStatus.CLAIMED)


class StatusOfRank(Func):
    """The status named by a rank (1 retracted ... 4 confirmed, else claimed): a simple CASE."""

    output_field = CharField()

    def __init__(self, rank):
        whens = " ".join(f"WHEN {number} THEN '{name}'" for number, name in STATUS_OF_RANK.items())
        super().__init__(rank, template=f"CASE %(expressions)s {whens} ELSE '{choices.ClaimStatus.CLAIMED}' END")


def claim_status(model, *, known_at: datetime.date | None = None) -> Func:
    """The status of each claim (event or casualty report), computed in the query.

    It follows from the claim's citations and the links pointing at it; the first that
    applies wins: retracted, superseded (superseded or revised), disputed, confirmed, claimed.
    With ``known_at``, only citations and links known on or before that day count, so a claim
    superseded later is still current then.

    Each link and citation that bears on the status ranks it (``LINK_RANKS``,
    ``CITATION_RANKS``); the claim takes the lowest rank. That is one look at the links
    and one at the citations per row, where an EXISTS per condition would take six.
    """
    subject_field, link_model = _claim_parts(model)
    citations = Citation.objects.filter(**{subject_field: OuterRef("pk")})
    links = link_model.objects.filter(to_claim=OuterRef("pk"))
    citations, links = known_by(citations, known_at), known_by(links, known_at)

    def rank(field, ranks):
        return Case(
            *(When(**{field: name}, then=Value(number)) for name, number in ranks.items()), default=Value(NO_RANK)
        )

    return StatusOfRank(
        Least(
            _lowest(links, "to_claim", rank("relation", LINK_RANKS)),
            _lowest(citations, subject_field, rank("role", CITATION_RANKS)),
        )
    )


def _lowest(queryset, group_field, rank):
    lowest = queryset.order_by().values(group_field).annotate(rank=Min(rank)).values("rank")
    # No rows means no rank; Coalesce because SQLite's MIN(a, b) is NULL if either is.
    return Coalesce(Subquery(lowest, output_field=IntegerField()), Value(NO_RANK))


def known_claims(queryset, *, known_at: datetime.date):
    """Claims whose earliest citation was published (or recorded) on or before ``known_at``
    (the day kept for each claim: ``events.known``)."""
    return queryset.filter(KnownBy(known_at))


def citations_prefetch(*, known_at: datetime.date | None = None) -> Prefetch:
    """Citations with their source, in one query per page; only those known by ``known_at`` if given."""
    citations = known_by(Citation.objects.select_related("source"), known_at)
    return Prefetch("citations", queryset=citations)


def event_prefetches(*, known_at: datetime.date | None = None) -> list[Prefetch]:
    return [
        Prefetch("event_units", queryset=EventUnit.objects.select_related("unit")),
        citations_prefetch(known_at=known_at),
    ]


def casualty_report_prefetches(*, known_at: datetime.date | None = None) -> list[Prefetch]:
    return [citations_prefetch(known_at=known_at)]


def event_list(*, known_at: datetime.date | None = None):
    """Events as the API shows them: units, citations and status in a fixed number of queries."""
    return Event.objects.annotate(claim_status=claim_status(Event, known_at=known_at)).prefetch_related(
        *event_prefetches(known_at=known_at)
    )


def casualty_report_list(*, known_at: datetime.date | None = None):
    """Casualty reports as the API shows them, in a fixed number of queries."""
    return (
        CasualtyReport.objects.annotate(claim_status=claim_status(CasualtyReport, known_at=known_at))
        .select_related("unit", "event")
        .prefetch_related(*casualty_report_prefetches(known_at=known_at))
    )


def as_known_at(queryset, *, known_at: datetime.date):
    """Narrow a claim list to what was known on ``known_at``, with statuses and citations as of then."""
    prefetches = event_prefetches if queryset.model is Event else casualty_report_prefetches
    if queryset.model is CasualtyReport and queryset.query.default_ordering and not queryset.query.order_by:
        # The default order, by the key whose index holds the claims known by then in one range.
        queryset = queryset.order_by(KnownOrder().desc(), "-pk")
    return (
        known_claims(queryset, known_at=known_at)
        .annotate(claim_status=claim_status(queryset.model, known_at=known_at))
        .prefetch_related(None)
        .prefetch_related(*prefetches(known_at=known_at))
    )


def planner_estimate(connection, sql, params) -> int:
    """PostgreSQL's estimate of how many rows the query ``sql`` yields (EXPLAIN, nothing run)."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
