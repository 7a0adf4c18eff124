import base64
import binascii
import datetime

from django.db import DatabaseError, connections
from django.db.models import IntegerField
from django.db.models.expressions import RawSQL
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from .. import search
from ..history import RESOURCES
from ..selectors import planner_estimate

# Up to this many matching rows, count is exact; past it, PostgreSQL's estimate.
EXACT_COUNT_LIMIT = 1_000


def bounded_count(sql, params, limit):
    """An expression counting the rows of the query ``sql``, no further than ``limit``: a
    scalar subquery without outer references, which the database evaluates once per query."""
    return RawSQL(f"SELECT count(*) FROM ({sql} LIMIT {int(limit)}) AS bounded", params, output_field=IntegerField())


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """``?limit=&offset=`` pages, or ``?cursor=`` to scan a large result set.

    Malformed values are a 400, not ignored, and ``limit`` has a documented ceiling.

    Offsets get slower the deeper they go (the database walks past every skipped row). For
    scanning, start with ``?cursor=`` (empty) and follow ``next``: cursor pages are in id
    order, each resumes after the last id seen, and every page costs the same however deep.
    They leave out ``count`` (null) and ``previous``.

    ``count`` is exact up to ``EXACT_COUNT_LIMIT`` rows. On PostgreSQL a list matching more
    reports an estimate instead, and says so with ``count_exact: false``: counting a million
    rows, or the events overlapping a month in a busy country, would cost far more than the
    page itself. The estimate of an unfiltered list is the table's row count as of its last
    ANALYZE (``pg_class.reltuples``); that of a filtered one is the planner's estimate for the
    filters, and never less than the rows known to exist. SQLite keeps no estimate for
    filters: there a larger filtered list reports the limit plus one, a lower bound (its
    unfiltered lists report the row count of its last ANALYZE, when it has one).
    ``next`` does not depend on the count: each page reads one row more than it shows, to
    know whether another page follows.
    """

    default_limit = 50
    max_limit = 1000
    # Past any table this service holds; a larger offset would overflow the database's integers.
    max_offset = 2**31 - 1
    cursor_query_param = "cursor"
    _counted_sql = None  # (sql, params) of the list, when the page's query counted it

    def paginate_queryset(self, queryset, request, view=None):
        return self._paginate(queryset, request, ids=False)

    def paginate_ids(self, queryset, request):
        """A page of ``queryset``'s ids (a ``values_list("pk", flat=True)``).

        Ids cost little to read, so for a filtered list the page's query also counts the list
        up to ``EXACT_COUNT_LIMIT`` + 1 rows, in a subquery the database runs once: one round
        trip fewer than counting apart.
        """
        return self._paginate(queryset, request, ids=True)

    def _paginate(self, queryset, request, ids):
        self.count_exact = True
        self.request = request
        self._counted_sql = None
        if self.cursor_query_param in request.query_params:
            return self._paginate_by_cursor(queryset, request)
        self.cursor_mode = False
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        window = slice(self.offset, self.offset + self.limit + 1)
        bounded = None
        if ids and queryset.query.where:
            unordered = queryset.order_by().values("pk")
            self._counted_sql = search.documents_sql(unordered) or unordered.query.sql_with_params()
            counted = queryset.annotate(_bounded_count=bounded_count(*self._counted_sql, EXACT_COUNT_LIMIT + 1))
            page = list(counted.values_list("pk", "_bounded_count")[window])
            rows = [pk for pk, _ in page]
            bounded = page[0][1] if page else None
        else:
            rows = list(queryset[window])
        self.has_next = len(rows) > self.limit
        rows = rows[: self.limit]
        if not self.has_next and (rows or self.offset == 0):
            self.count = self.offset + len(rows)  # the page ends the list: no need to count
        else:
            self.count = self.get_count(queryset, bounded)
            if not self.count_exact:
                self.count = max(self.count, self.offset + len(rows) + self.has_next)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        return rows

    def get_paginated_response(self, data):
        if self.cursor_mode:
            count, previous, exact = None, None, False
        else:
            count, previous, exact = self.count, self.get_previous_link(), self.count_exact
        return Response(
            {"count": count, "count_exact": exact, "next": self.get_next_link(), "previous": previous, "results": data}
        )

    def get_count(self, queryset, bounded=None):
        """The count as documented above; ``bounded`` is the list's count up to
        ``EXACT_COUNT_LIMIT`` + 1 when the page's query has read it already."""
        connection = connections[queryset.db]
        queryset = queryset.order_by()
        if bounded is None and not queryset.query.where:
            estimate = self._table_estimate(connection, queryset.model)
            if estimate is not None and estimate > EXACT_COUNT_LIMIT:
                self.count_exact = False
                return estimate
        if bounded is None and (documents := search.documents_sql(queryset.values("pk"))) is not None:
            # A search alone, on SQLite: counted in its index, which stops at the bound; the
            # table's rows would be read only once all the matches were listed.
            sql, params = documents
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*) FROM ({sql} LIMIT {EXACT_COUNT_LIMIT + 1})", params)
                bounded = cursor.fetchone()[0]
        if bounded is None:
            bounded = queryset[: EXACT_COUNT_LIMIT + 1].count()
        if bounded <= EXACT_COUNT_LIMIT:
            return bounded
        self.count_exact = False
        if connection.vendor != "postgresql":
            return bounded  # SQLite has no estimate for filters: a lower bound
        sql, params = self._counted_sql or queryset.query.sql_with_params()
        return max(planner_estimate(connection, sql, params), bounded)

    @staticmethod
    def _table_estimate(connection, model):
        """The table's row count as of its last ANALYZE, if the database keeps one."""
        table = model._meta.db_table
        if connection.vendor == "postgresql":
            sql, params = "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table]
        elif connection.vendor == "sqlite":
            sql, params = "SELECT stat FROM sqlite_stat1 WHERE tbl = %s AND idx IS NOT NULL LIMIT 1", [table]
        else:
            return None
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                row = cursor.fetchone()
        except DatabaseError:  # SQLite before any ANALYZE has no sqlite_stat1
            return None
        if row is None:
            return None
        return int(str(row[0]).split()[0])

    def _paginate_by_cursor(self, queryset, request):
        self.cursor_mode = True
        self.request = request
        if "ordering" in request.query_params:
            raise ValidationError({"ordering": ["Cursor pages are in id order; leave out ordering or the cursor."]})
        if self.offset_query_param in request.query_params:
            raise ValidationError({"offset": ["Use either offset or cursor, not both."]})
        self.limit = self.get_limit(request)
        rows = list(self.after_cursor(queryset, self.cursor(request))[: self.limit + 1])
        self.has_next = len(rows) > self.limit
        rows = rows[: self.limit]
        self.last_key = self.cursor_key(rows[-1]) if rows else None
        return rows

    def after_cursor(self, queryset, after):
        """The rows after the one whose key is ``after`` (None: from the start), in key order."""
        if after is not None:
            queryset = queryset.filter(pk__gt=after)
        return queryset.order_by("pk")

    @staticmethod
    def cursor_key(row):
        """The key a cursor resumes after. Rows are records, or their ids when the view reads the
        records itself (RowListMixin)."""
        return getattr(row, "pk", row)

    def parse_cursor_key(self, text):
        return int(text)

    def cursor(self, request):
        """The key of ``?cursor=``: None for the first page; a 400 for a token no page gave."""
        token = request.query_params.get(self.cursor_query_param)
        if not token:
            return None
        try:
            return self.parse_cursor_key(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)).decode())
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise ValidationError({self.cursor_query_param: ["Invalid cursor: use the next link as given."]}) from None

    def format_cursor_key(self, key):
        return str(key)

    def _encode(self, key):
        return base64.urlsafe_b64encode(self.format_cursor_key(key).encode()).decode().rstrip("=")

    def get_next_link(self):
        if not self.has_next:
            return None
        if not self.cursor_mode:
            url = replace_query_param(self.request.build_absolute_uri(), self.limit_query_param, self.limit)
            return replace_query_param(url, self.offset_query_param, self.offset + self.limit)
        return replace_query_param(
            self.request.build_absolute_uri(), self.cursor_query_param, self._encode(self.last_key)
        )

    def get_previous_link(self):
        if getattr(self, "cursor_mode", False):
            return None
        return super().get_previous_link()

    def _parse(self, request, name, default, minimum, maximum=None):
        raw = request.query_params.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValidationError({name: [f"A whole number is required; got {raw!r}."]}) from None
        if value < minimum:
            raise ValidationError({name: [f"Must be at least {minimum}; got {value}."]})
        if maximum is not None and value > maximum:
            raise ValidationError({name: [f"Must be at most {maximum}; got {value}."]})
        return value

    def get_limit(self, request):
        return self._parse(request, self.limit_query_param, self.default_limit, 1, self.max_limit)

    def get_offset(self, request):
        return self._parse(request, self.offset_query_param, 0, 0, self.max_offset)

    def get_paginated_response_schema(self, schema):
        page_link = {"type": ["string", "null"], "format": "uri"}
        return {
            "type": "object",
            "required": ["count", "count_exact", "next", "previous", "results"],
            "properties": {
                "count": {
                    "type": ["integer", "null"],
                    "minimum": 0,
                    "description": "Rows matching the filters; null on cursor pages.",
                },
                "count_exact": {
                    "type": "boolean",
                    "description": (
                        f"Whether count is exact. Above {EXACT_COUNT_LIMIT:,} matching rows it is an estimate "
                        "(PostgreSQL) or a lower bound (SQLite). False on cursor pages."
                    ),
                },
                "next": {**page_link, "description": "The next page; null on the last."},
                "previous": {**page_link, "description": "The previous page; null on the first and on cursor pages."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["description"] = (
                    f"Number of results to return per page (default {self.default_limit}, at most {self.max_limit})."
                )
                parameter["schema"].update({"minimum": 1, "maximum": self.max_limit})
            elif parameter["name"] == self.offset_query_param:
                parameter["description"] = "Number of results to skip: the page starts after this many rows."
                parameter["schema"].update({"minimum": 0, "maximum": self.max_offset})
        if not self.cursor_query_param:
            return parameters
        parameters.append(
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": (
                    "Scan in id order instead of by offset: send it empty for the first page, then follow `next`. "
                    "Every page costs the same however deep."
                ),
                "schema": {"type": "string"},
            }
        )
        return parameters


class DeletionPagination(LimitOffsetPagination):
    """Pages of the deletions feed, whose cursor resumes after a (time, list, id) key.

    The feed is a union across lists, which cannot be filtered once built: the view reads the
    key with ``cursor()`` and builds the rows after it, already in key order.
    """

    def after_cursor(self, queryset, after):
        return queryset

    @staticmethod
    def cursor_key(row):
        return row["deleted_at"], row["resource"], row["id"]

    def parse_cursor_key(self, text):
        deleted_at, resource, pk = text.split("|")
        deleted_at = datetime.datetime.fromisoformat(deleted_at)
        if deleted_at.tzinfo is None or resource not in RESOURCES:
            raise ValueError("not a key of the feed")
        return deleted_at, resource, int(pk)

    def format_cursor_key(self, key):
        deleted_at, resource, pk = key
        return f"{deleted_at.isoformat()}|{resource}|{pk}"
