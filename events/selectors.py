"""Read-side queries shared by the API filters and the admin."""

from django.db import connection
from django.db.models import Count, OuterRef, Subquery
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from .models import Citation, Unit


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


def unit_subtree_ids(unit_id: int) -> RawSQL:
    """A subquery of the ids of a unit and all its descendants, at any depth.

    A recursive CTE keeps the hierarchy a plain ``parent`` foreign key (nothing to keep in
    sync when a unit moves) and works the same on SQLite and PostgreSQL. ``UNION`` rather
    than ``UNION ALL`` stops the walk even if a cycle slipped into the data.
    """
    table = connection.ops.quote_name(Unit._meta.db_table)
    sql = (
        f"WITH RECURSIVE subtree(id) AS ("
        f"SELECT id FROM {table} WHERE id = %s "
        f"UNION SELECT child.id FROM {table} child JOIN subtree ON child.parent_id = subtree.id"
        f") SELECT id FROM subtree"
    )
    return RawSQL(sql, [unit_id])
