"""The admin's date drill-down, with each choice found by an index probe rather than a scan.

Django's ``date_hierarchy`` lists the years (months, days) that hold records with a
``SELECT DISTINCT`` of the truncated dates over the whole list, and finds where to start with
``MIN`` and ``MAX`` in one query, which SQLite answers by reading every row: seconds at a
million events. Here the first and last dates are read along the date's index (one query), and
whether each candidate year, month or day holds a record is one ``EXISTS`` of a date range
apiece, all of them in one query. The choices are the same as Django's, and so is the markup
(Django's own tag renders them).

On SQLite the periods are rows of a ``VALUES`` list that one ``EXISTS`` reads, rather than a
subquery each, so that a search's matches are read into a list once for all the periods, not
once per period: at a million records, tens of milliseconds instead of hundreds for a common
word.
"""

import datetime

from django import template
from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.db import connections, models
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

    def __init__(self, queryset, field_name, *, searched=False, drilled=()):
        self.queryset = queryset
        self.field_name = field_name
        self.field = queryset.model._meta.get_field(field_name)
        self.searched = searched
        self.drilled = drilled  # (year,) or (year, month): the drill-down's choice so far
        self._bounds = None
        self._held = {}  # kind -> the starts of the periods found to hold a record

    def aggregate(self, **aggregates):
        """``first=Min(field), last=Max(field)``, each along the index of the date."""
        expected = {"first": Min, "last": Max}
        if {name: type(value) for name, value in aggregates.items()} != expected:
            return self.queryset.aggregate(**aggregates)
        return dict(zip(("first", "last"), self.bounds(), strict=True))

    def bounds(self):
        """The first and last dates, read once: ``date_hierarchy`` asks, then ``dates()`` does."""
        if self._bounds is None:
            self._bounds = self.bounds_by_periods() or self.bounds_by_index(self.queryset)
        return self._bounds

    def bounds_by_index(self, queryset):
        dated = queryset.filter(**{f"{self.field_name}__isnull": False}).values(self.field_name)
        first, last = _scalars(
            queryset, [dated.order_by(self.field_name)[:1], dated.order_by(f"-{self.field_name}")[:1]]
        )
        return [self.field.to_python(value) for value in (first, last)]

    def bounds_by_periods(self):
        """A searched list's bounds, exact to the period that tells them apart, from the periods
        that hold its matches; None where the periods cannot be read in one statement.

        SQLite reads all of a search's matches for every statement that names it, so reading
        the first and the last match (two reads) and then the periods (a third) costs three
        times one read. The years that hold a match are found in one read instead, the table's
        own first and last dates (along the index, without the search) giving the candidates;
        only when one year holds them all are its months read, and so on to the days (drilled
        down to a year or a month, its months or days alone are read). What
        ``date_hierarchy`` does with the bounds is compare their years and months: two
        periods' starts compare as the first and last match would.
        """
        if not self.searched or not self.holds_in_one_statement():
            return None
        if self.drilled:
            # Within the year or month chosen, which the list's filter already keeps to.
            year, month = (*self.drilled, None)[:2]
            try:
                start = datetime.date(year, month or 1, 1)
            except ValueError:
                return None
            first, end = next(periods(start, start, "month" if month else "year"))
            last = end - datetime.timedelta(days=1)
        else:
            first, last = self.bounds_by_index(self.queryset.model._default_manager.all())
            if first is None:
                return [None, None]
        kinds = ("year", "month", "day")[len(self.drilled) :]
        if self.drilled:
            kinds = kinds[:1]  # date_hierarchy asks for the next level's periods alone
        for kind in kinds:
            candidates = dict(periods(first, last, kind))
            found = self.holding(list(candidates.items()))
            if found is None:  # the probe could not be read in one statement
                self._held.clear()
                return None
            held = self._held[kind] = sorted(found)
            if len(held) != 1 or kind == kinds[-1]:
                break
            first, last = held[0], candidates[held[0]] - datetime.timedelta(days=1)
        return [held[0], held[-1]] if held else [None, None]

    def dates(self, field_name, kind, order="ASC"):
        assert field_name == self.field_name and order == "ASC"
        first, last = self.bounds()
        if first is None:
            return []
        if kind in self._held:
            return self._held[kind]
        candidates = list(periods(first, last, kind))
        holding = self.holding(candidates)
        if holding is not None:
            return [start for start, _end in candidates if start in holding]
        probes = [self.probe(start, end) for start, end in candidates]
        found = _scalars(self.queryset, probes)
        return [start for (start, _end), pk in zip(candidates, found, strict=True) if pk is not None]

    def probe(self, start, end):
        """A record of the period, found along the date's index."""
        field_name = self.field_name
        return (
            self.queryset.filter(**{f"{field_name}__gte": start, f"{field_name}__lt": end})
            .order_by(field_name)
            .values("pk")[:1]
        )

    def holds_in_one_statement(self) -> bool:
        # PostgreSQL plans each period's subquery on its own without reading a search again.
        return connections[self.queryset.db].vendor == "sqlite" and type(self.field) is models.DateField

    def holding(self, candidates) -> set | None:
        """The starts of the periods that hold a record, read with one ``EXISTS`` over a ``VALUES`` list.

        The probe of one period is compiled with two marker dates, whose placeholders become
        the list's columns. None when that cannot be done (a date and time field, markers not
        found once each): the caller probes period by period.
        """
        connection = connections[self.queryset.db]
        if not self.holds_in_one_statement() or not candidates:
            return None
        markers = [
            connection.ops.adapt_datefield_value(day) for day in (datetime.date(1, 1, 1), datetime.date(1, 1, 2))
        ]
        sql, params = _compiled(self.probe(datetime.date(1, 1, 1), datetime.date(1, 1, 2)))
        pieces = sql.split("%s")
        if len(pieces) != len(params) + 1 or [params.count(marker) for marker in markers] != [1, 1]:
            return None
        columns = {markers[0]: "periods.period_start", markers[1]: "periods.period_end"}
        exists, exists_params = [pieces[0]], []
        for param, piece in zip(params, pieces[1:], strict=True):
            if param in columns:
                exists.append(columns[param])
            else:
                exists.append("%s")
                exists_params.append(param)
            exists.append(piece)
        adapted = {connection.ops.adapt_datefield_value(start): start for start, _end in candidates}
        values_params = [
            value for start, end in candidates for value in (connection.ops.adapt_datefield_value(start),
                                                             connection.ops.adapt_datefield_value(end))
        ]  # fmt: skip
        values = ", ".join(["(%s, %s)"] * len(candidates))
        statement = (
            f"WITH periods(period_start, period_end) AS (VALUES {values}) "
            f"SELECT periods.period_start FROM periods WHERE EXISTS ({''.join(exists)})"
        )
        with connection.cursor() as cursor:
            cursor.execute(statement, values_params + exists_params)
            found = [row[0] for row in cursor.fetchall()]
        return {adapted.get(value, value) for value in found}


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
        field_name = changelist.date_hierarchy
        drilled = []
        for part in ("year", "month"):
            try:
                drilled.append(int(changelist.params[f"{field_name}__{part}"]))
            except (KeyError, ValueError):
                break
        self.queryset = ProbedDates(
            changelist.queryset, field_name, searched=bool(changelist.query), drilled=tuple(drilled)
        )

    def __getattr__(self, name):
        return getattr(self._changelist, name)


def probed_date_hierarchy(cl):
    return date_hierarchy(ProbedChangeList(cl))


@register.tag(name="probed_date_hierarchy")
def probed_date_hierarchy_tag(parser, token):
    return InclusionAdminNode(
        parser, token, func=probed_date_hierarchy, template_name="date_hierarchy.html", takes_context=False
    )
