"""The admin's date drill-down, with each choice found by an index probe rather than a scan.

Django's ``date_hierarchy`` lists the years (months, days) that hold records with a
``SELECT DISTINCT`` of the truncated dates over the whole list, and finds where to start with
``MIN`` and ``MAX`` in one query, which SQLite answers by reading every row: seconds at a
million events. Here the first and last dates are read along the date's index (one query), and
whether each candidate year, month or day holds a record is one ``EXISTS`` of a date range
apiece, all of them in one query. The choices are the same as Django's, and so is the markup
(Django's own tag renders them).
"""

import datetime

from django import template
from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.db import connections
from django.db.models import Max, Min

register = template.Library()


def _compiled(queryset):
    return queryset.query.get_compiler(queryset.db).as_sql()


def _scalars(queryset, subqueries) -> list:
    """The values of these scalar subqueries (querysets), read with one query."""
    if not subqueries:
        return []
    parts, params = [], []
    for subquery in subqueries:
        sql, subquery_params = _compiled(subquery)
        parts.append(f"({sql})")
        params.extend(subquery_params)
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        return list(cursor.fetchone())


class ProbedDates:
    """Stands for the changelist's queryset in ``date_hierarchy``: the two calls it makes."""

    def __init__(self, queryset, field_name):
        self.queryset = queryset
        self.field_name = field_name
        self.field = queryset.model._meta.get_field(field_name)

    def aggregate(self, **aggregates):
        """``first=Min(field), last=Max(field)``, each along the index of the date."""
        expected = {"first": Min, "last": Max}
        if {name: type(value) for name, value in aggregates.items()} != expected:
            return self.queryset.aggregate(**aggregates)
        return dict(zip(("first", "last"), self.bounds(), strict=True))

    def bounds(self):
        dated = self.queryset.filter(**{f"{self.field_name}__isnull": False}).values(self.field_name)
        first, last = _scalars(
            self.queryset,
            [dated.order_by(self.field_name)[:1], dated.order_by(f"-{self.field_name}")[:1]],
        )
        return [self.field.to_python(value) for value in (first, last)]

    def dates(self, field_name, kind, order="ASC"):
        assert field_name == self.field_name and order == "ASC"
        first, last = self.bounds()
        if first is None:
            return []
        candidates = list(periods(first, last, kind))
        probes = [
            self.queryset.filter(**{f"{field_name}__gte": start, f"{field_name}__lt": end}).order_by().values("pk")[:1]
            for start, end in candidates
        ]
        found = _scalars(self.queryset, probes)
        return [start for (start, _end), pk in zip(candidates, found, strict=True) if pk is not None]


def periods(first: datetime.date, last: datetime.date, kind: str):
    """(start, end) of each year, month or day from the one holding ``first`` to ``last``'s."""
    if kind == "year":
        for year in range(first.year, last.year + 1):
            yield datetime.date(year, 1, 1), datetime.date(year + 1, 1, 1)
    elif kind == "month":
        start = first.replace(day=1)
        while start <= last:
            end = (start + datetime.timedelta(days=32)).replace(day=1)
            yield start, end
            start = end
    else:
        day = first
        while day <= last:
            yield day, day + datetime.timedelta(days=1)
            day += datetime.timedelta(days=1)


class ProbedChangeList:
    """The changelist, as ``date_hierarchy`` reads it, with its queryset's dates probed."""

    def __init__(self, changelist):
        self._changelist = changelist
        self.queryset = ProbedDates(changelist.queryset, changelist.date_hierarchy)

    def __getattr__(self, name):
        return getattr(self._changelist, name)


def probed_date_hierarchy(cl):
    return date_hierarchy(ProbedChangeList(cl))


@register.tag(name="probed_date_hierarchy")
def probed_date_hierarchy_tag(parser, token):
    return InclusionAdminNode(
        parser, token, func=probed_date_hierarchy, template_name="date_hierarchy.html", takes_context=False
    )
