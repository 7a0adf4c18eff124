"""List pages and records whose JSON PostgreSQL writes itself.

Even built from ``values_list()`` rows (rows.py), a page of 100 events costs Python a query
per inline list, a tuple and a dict per row and per nested object, and the encoding of all of
it. On PostgreSQL the same representation is one expression per record: ``json_build_object``
over its columns, with ``json_agg`` subqueries for the inline lists, so a page's records are
read in one query as JSON text, which the response splices in unparsed (``orjson.Fragment``).

The expression is compiled from the ``Plan`` that rows.py derives from the serializer, and
renders every value as that path does: dates as ISO 8601, times in UTC with ``Z``, floats as
Python's ``repr`` (``48.0``), record addresses from the same URL templates, inline lists in
their queryset's order. A plan with a field it cannot render (a decimal, a date in a custom
format) is read by rows.py instead; tests compare the two paths for every resource.
"""

import time
import uuid
from functools import cache

import psycopg
from django.contrib.postgres.aggregates.mixins import OrderableAggMixin
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import Aggregate, BooleanField, Case, F, Func, TextField, Value, When
from django.db.models.functions import Cast, Coalesce
from rest_framework import serializers

from . import copy, rows


class Unsupported(Exception):
    pass


class JSONBuildObject(Func):
    # Not Django's JSONObject: on PostgreSQL that is jsonb, which reorders the keys.
    function = "json_build_object"
    output_field = TextField()  # json; cast to text before it is read

    def __init__(self, pairs):
        super().__init__(*(part for name, value in pairs for part in (Value(name), value)))


class JSONAgg(OrderableAggMixin, Aggregate):
    function = "json_agg"
    template = "%(function)s(%(distinct)s%(expressions)s %(order_by)s)"
    output_field = TextField()


class AsJSON(Func):
    """Text that is already JSON (a number written as Python writes it), embedded as such."""

    template = "(%(expressions)s)::json"
    output_field = TextField()


EMPTY_LIST = Func(template="'[]'::json", output_field=TextField())


def _value(field, lookup, converter):
    if isinstance(field, serializers.FloatField):
        return AsJSON(copy.Text(F(lookup), copy.FLOAT))
    if isinstance(field, serializers.DateTimeField):
        if converter is not rows.utc_isoformat:
            raise Unsupported(field.field_name)
        return copy.Text(F(lookup), copy.DATETIME)
    if isinstance(field, serializers.DateField):
        if converter is not rows.date_isoformat:
            raise Unsupported(field.field_name)
        return F(lookup)  # json renders dates as ISO 8601
    if isinstance(field, serializers.DecimalField):
        raise Unsupported(field.field_name)
    return F(lookup)


def _object(plan, urls, child_querysets):
    """``json_build_object`` of ``plan``'s fields, in order; inline lists from ``child_querysets``."""
    pairs = []
    for name, kind, argument, field in plan.steps:
        if kind == "value":
            pairs.append((name, _value(field, plan.columns[argument], None)))
        elif kind == "convert":
            pairs.append((name, _value(field, plan.columns[argument[0]], argument[1])))
        elif kind == "url":
            pairs.append((name, copy.record_url(plan.columns[argument[0]], urls[argument[1]])))
        elif kind == "nested":
            key, _, nested = argument
            absent = When(**{f"{plan.columns[key]}__isnull": True}, then=None)
            pairs.append((name, Case(absent, default=_object(nested, urls, {}), output_field=TextField())))
        else:
            pairs.append((name, _children(plan, name, urls, child_querysets)))
    return JSONBuildObject(pairs)


def _children(plan, name, urls, child_querysets):
    child = dict(plan.children)[name]
    queryset = rows.child_queryset(child_querysets, child.related_name, child.plan.model)
    item = _object(child.plan, urls, {})
    items = copy.per_parent(queryset, child.parent_column, lambda order_by: JSONAgg(item, order_by=order_by))
    return Coalesce(items, EMPTY_LIST)


@cache
def supported(plan):
    """Whether this plan can be rendered by PostgreSQL (no decimals, dates in ISO 8601)."""
    try:
        _object(plan, {name: ("", "") for name in plan.view_names()}, {})
    except Unsupported:
        return False
    return True


class IdIn(Func):
    """``pk = ANY(%s)``: the page's ids as one array parameter, so the statement's text is the
    same for every page and can be compiled once."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, ids):
        super().__init__(F("pk"))
        self.ids = ids

    def as_sql(self, compiler, connection):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"{sql} = ANY(%s)", [*params, self.ids]


class Statement:
    """The records query of one plan and queryset shape, compiled to SQL once.

    Its constants (keys, addresses, choices) are written into the SQL text as literals, once:
    the page's ids are its only parameter. Quoting a hundred-odd parameters on every request
    (psycopg binds them client-side for Django) would cost more than PostgreSQL's own work.
    """

    def __init__(self, reader, queryset, connection, *, versioned=False):
        slot = []
        expression = Cast(_object(reader.plan, reader.urls, rows.child_querysets(queryset)), TextField())
        # With each record's version (updated_at), a detail's ETag comes with its record.
        columns = ("pk", "updated_at", "_json") if versioned else ("pk", "_json")
        self.versioned = versioned
        query = queryset.order_by().filter(IdIn(slot)).annotate(_json=expression).values_list(*columns).query
        sql, params = query.sql_with_params()
        marker = f"ids-{uuid.uuid4().hex}"
        params = [marker if param is slot else param for param in params]
        literal = connection.ops.compose_sql(sql, params)
        self.sql = literal.replace("%", "%%").replace(f"'{marker}'", "%s")
        if self.sql.count("%s") != 1:
            raise ImproperlyConfigured(f"Cannot tell the ids' place in the records query of {reader.plan.model}.")

    def execute(self, connection, ids):
        # A cursor binding its parameter server-side, which psycopg can prepare (the
        # prepare_threshold option): PostgreSQL then plans the statement once per connection.
        connection.ensure_connection()
        with connection.wrap_database_errors:
            raw = psycopg.Cursor(connection.connection)
        started = time.monotonic()
        with connection.make_cursor(raw) as cursor:
            cursor.execute(self.sql, [ids])
            rows = cursor.fetchall()
        if connection.queries_logged:
            # Django's debug cursor cannot tell a prepared statement's text; log it as run.
            sql = connection.ops.compose_sql(self.sql, [ids])
            connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
        if self.versioned:
            return {pk: (updated_at, text) for pk, updated_at, text in rows}
        return dict(rows)


# (shape, plan, URL templates, database) -> Statement. Shapes are few (a view's queryset);
# URL templates vary only with the allowed host names.
_statements = {}
MAX_STATEMENTS = 256


def records(reader, queryset, ids, shape=None, *, versioned=False):
    """The JSON texts of the records with these ids, in this order (a deleted one left out);
    or None where rows.py must read them (not PostgreSQL, or a plan it cannot render).

    ``shape`` names what ``queryset`` selects (e.g. its view), when the same name always means
    the same query: its statement is then compiled once and kept. None compiles it each time.
    ``versioned``: (updated_at, JSON text) of each record instead.
    """
    connection = connections[queryset.db]
    if connection.vendor != "postgresql" or not supported(reader.plan):
        return None
    if not ids:
        return []
    if shape is None:
        statement = Statement(reader, queryset, connection, versioned=versioned)
    else:
        key = (shape, versioned, reader.plan, tuple(reader.urls.items()), queryset.db)
        statement = _statements.get(key)
        if statement is None:
            if len(_statements) >= MAX_STATEMENTS:
                _statements.clear()
            statement = _statements[key] = Statement(reader, queryset, connection, versioned=versioned)
    texts = statement.execute(connection, list(ids))
    return [texts[pk] for pk in ids if pk in texts]
