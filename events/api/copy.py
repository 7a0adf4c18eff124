"""CSV exports written by PostgreSQL itself: ``COPY (<the list's query>) TO STDOUT``.

Building a CSV line in Python costs tens of microseconds a row however lean the code (fetching,
converting, formatting), which caps an export near 10,000 rows a second. PostgreSQL formats
rows in C at hundreds of thousands a second, so on PostgreSQL the export's query selects each
column as the text the Python path would write, and the response relays COPY's output as it
arrives (flat memory, whatever the size).

The columns come from the serializer, as the rest of the read path's do. Each gets an SQL
expression that renders what ``Columns.row()`` renders: empty strings as empty fields, dates
as DRF writes them, times in UTC with microseconds, booleans as ``True``/``False``, floats as
Python's ``repr``, an inline list as ``name (role); ...`` beside the ids of its sources or
units. A serializer with a field this module cannot render (a JSON list, a decimal) falls
back to the Python path; tests compare the two byte for byte.

An inline list's two columns come from one subquery a row, which aggregates both into an
array; the COPY selects the array's elements from the list's query wrapped as a subquery
(which its ORDER BY keeps from being flattened, so the subquery is not run twice).
"""

import tempfile
import threading

from django.conf import settings
from django.contrib.postgres.aggregates import StringAgg
from django.contrib.postgres.fields import ArrayField
from django.db import connections, models
from django.db.models import F, Func, OuterRef, Q, Subquery, TextField, Value
from django.db.models.functions import Cast, Concat, NullIf
from django_countries.serializer_fields import CountryField
from psycopg import pq
from rest_framework import serializers

from ..selectors import planner_estimate
from .csvformat import LIST_SEPARATOR, NAME_ESCAPES, list_nested_field
from .fields import NestedRelatedField, RecordURLField
from .rows import child_queryset


class Text(Func):
    """A column rendered by an SQL template; ``%(expressions)s`` is the column."""

    output_field = TextField()

    def __init__(self, expression, template):
        super().__init__(expression, template=template)


DATE = "to_char(%(expressions)s, 'YYYY-MM-DD')"
# DRF: isoformat() in UTC with "Z"; microseconds only when there are some (the JSON's times).
DATETIME = (
    "(replace(to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '') || 'Z')"
)
# csvformat.TIMESTAMP_FORMAT: UTC, always with microseconds (the CSV's times).
CSV_TIMESTAMP = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
# Python's repr() of a float: PostgreSQL's shortest exact digits, with ".0" on whole numbers.
FLOAT = (
    "(CASE WHEN %(expressions)s = trunc(%(expressions)s) AND abs(%(expressions)s) < 1e16 "
    "THEN %(expressions)s::text || '.0' ELSE %(expressions)s::text END)"
)
BOOLEAN = "(CASE WHEN %(expressions)s THEN 'True' WHEN NOT %(expressions)s THEN 'False' END)"
TEXT_FIELDS = (serializers.CharField, serializers.ChoiceField, CountryField)
NUMBER_FIELDS = (serializers.IntegerField, serializers.PrimaryKeyRelatedField)


class Unsupported(Exception):
    pass


class Element:
    """Element ``index`` (from 1) of an array column, read in the query around the list's."""

    def __init__(self, array, index):
        self.array, self.index = array, index


def record_url(lookup, template):
    """The record's address from its id column and the (before, after) template of its view."""
    before, after = template
    return Concat(Value(before + "/"), Cast(lookup, TextField()), Value("/" + after), output_field=TextField())


def per_parent(queryset, parent, aggregate, output_field=None):
    """A subquery of ``aggregate`` over the rows of ``queryset`` whose ``parent`` is the outer
    row, in the inline list's order (its queryset's, else its model's, else by id)."""
    query = queryset.query
    order_by = query.order_by or (queryset.model._meta.ordering if query.default_ordering else ()) or ["pk"]
    items = (
        queryset.filter(**{parent: OuterRef("pk")})
        .order_by()
        .values(parent)
        .annotate(_items=aggregate(order_by))
        .values("_items")
    )
    return Subquery(items, output_field=output_field or TextField())


def _text(lookup):
    # Python's csv writes "" and None alike as an empty field; COPY quotes "" but not NULL.
    return NullIf(F(lookup), Value(""), output_field=TextField())


def _column(serializer, name, field, urls, child_querysets):
    """The SQL expressions (one, or two for a nested object) of one serializer field."""
    annotated = getattr(serializer, "annotated_fields", {})
    if isinstance(field, RecordURLField):
        before, after = urls[field.view_name]
        return [record_url("pk", (before, after.split("?", 1)[0]))]
    if isinstance(field, NestedRelatedField):
        nested = field.nested_serializer().fields
        label = "name" if "name" in nested else "title"
        return [F(field.source), _text(f"{field.source}__{label}")]
    if isinstance(field, serializers.ListSerializer):
        return _children(serializer.Meta.model, field, child_querysets)
    if isinstance(field, serializers.SerializerMethodField) and name in annotated:
        return [F(annotated[name])]
    if isinstance(field, serializers.DateTimeField) and settings.TIME_ZONE == "UTC":
        return [Text(F(field.source), CSV_TIMESTAMP)]
    if isinstance(field, serializers.DateField):
        return [Text(F(field.source), DATE)]
    if isinstance(field, serializers.FloatField):
        return [Text(F(field.source), FLOAT)]
    if isinstance(field, serializers.BooleanField):
        return [Text(F(field.source), BOOLEAN)]
    if isinstance(field, TEXT_FIELDS):
        stored = serializer.Meta.model._meta.get_field(field.source)
        return [_text(field.source) if isinstance(stored, models.CharField | models.TextField) else F(field.source)]
    if isinstance(field, NUMBER_FIELDS):
        return [F(field.source)]
    raise Unsupported(f"{type(serializer).__name__}.{name}")


def _children(model, field, child_querysets):
    """An inline list's two columns, as ``Columns.row`` writes them: ``name (role); ...`` and
    the ids of the same items' sources or units, in the list's order."""
    relation = model._meta.get_field(field.source)
    parent = relation.field.name
    nested = list_nested_field(field)
    if nested is None or "role" not in field.child.fields:
        raise Unsupported(field.source)
    queryset = child_queryset(child_querysets, field.source, relation.related_model)
    name = F(f"{nested}__name")
    for character, escaped in NAME_ESCAPES:
        name = Func(name, Value(character), Value(escaped), function="replace", output_field=TextField())
    item = Concat(name, Value(" ("), F("role"), Value(")"), output_field=TextField())
    item_id = Cast(f"{nested}_id", TextField())

    def aggregate(order_by):
        texts = [StringAgg(text, delimiter=LIST_SEPARATOR, order_by=order_by) for text in (item, item_id)]
        return Func(*texts, template="ARRAY[%(expressions)s]", output_field=ArrayField(TextField()))

    array = per_parent(queryset, parent, aggregate, output_field=ArrayField(TextField()))
    return [Element(array, 1), Element(array, 2)]


def copy_csv(queryset, serializer, urls, child_querysets):
    """COPY's CSV output for ``queryset``, in blocks, or None where the Python path must do it."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    try:
        expressions = [
            expression
            for name, field in serializer.fields.items()
            for expression in _column(serializer, name, field, urls, child_querysets)
        ]
    except Unsupported:
        return None
    names, columns, array_aliases = {}, [], {}

    def select(expression):
        alias = f"_csv{len(names)}"
        names[alias] = expression
        return alias

    for expression in expressions:
        if isinstance(expression, Element):
            alias = array_aliases.get(id(expression.array)) or select(expression.array)
            array_aliases[id(expression.array)] = alias
            columns.append(f'"{alias}"[{expression.index}]')
        else:
            columns.append(f'"{select(expression)}"')

    def statement(part):
        sql, params = part.annotate(**names).values_list(*names).query.sql_with_params()
        if array_aliases:
            sql = f"SELECT {', '.join(columns)} FROM ({sql}) AS export"
        return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params

    halves = None if connection.in_atomic_block else _halves(queryset)
    if halves is None:
        return _blocks(connection, *statement(queryset))
    return _two_halves(connection, statement(halves[0]), statement(halves[1]))


# COPY hands over one row at a time; the response goes out in pieces of about this size.
BLOCK_SIZE = 256 * 1024
# Exports expected to be at least this long are written by two backends at once.
PARALLEL_MIN_ROWS = 20_000


def _blocks(connection, statement, params):
    with connection.cursor() as cursor, cursor.cursor.copy(statement, params) as copy:
        yield from _joined(copy)


def _joined(rows):
    pending, size = [], 0
    for row in rows:
        pending.append(row)
        size += len(row)
        if size >= BLOCK_SIZE:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def _halves(queryset):
    """The export split in two at its middle row, in its order, or None to export it in one.

    Only for a whole list (no limit) in its model's default order on non-null fields, whose
    planner estimate is long enough to be worth a second backend.
    """
    query = queryset.query
    if query.is_sliced or query.order_by or not query.default_ordering:
        return None
    keys = []
    for name in queryset.model._meta.ordering:
        if not isinstance(name, str):
            return None
        field = (
            queryset.model._meta.pk if name.lstrip("-") == "pk" else queryset.model._meta.get_field(name.lstrip("-"))
        )
        if field.null:
            return None
        keys.append((field.attname, name.startswith("-")))
    estimate = planner_estimate(connections[queryset.db], *queryset.order_by().query.sql_with_params())
    if estimate < PARALLEL_MIN_ROWS:
        return None
    middle = queryset.values_list(*(name for name, _ in keys))[estimate // 2 : estimate // 2 + 1]
    middle = list(middle)
    if not middle:
        return None
    # Rows up to the middle row in the list's order (lexicographic over the ordering keys).
    first = Q()
    for index in range(len(keys) - 1, -1, -1):
        name, descending = keys[index]
        value = middle[0][index]
        if index == len(keys) - 1:
            first = Q(**{f"{name}__{'gte' if descending else 'lte'}": value})
        else:
            first = Q(**{f"{name}__{'gt' if descending else 'lt'}": value}) | (Q(**{name: value}) & first)
    return queryset.filter(first), queryset.filter(~first)


def _two_halves(connection, first, second):
    """The first half's COPY streamed, while a second backend writes the other to a spool file.

    Both read the same snapshot (``pg_export_snapshot``), so the halves fit together exactly
    as one query's rows would, whatever is written meanwhile.
    """
    spool = tempfile.SpooledTemporaryFile(max_size=4 * BLOCK_SIZE)
    imported, failure = threading.Event(), []
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            snapshot = raw.execute("SELECT pg_export_snapshot()").fetchone()[0]
            worker = threading.Thread(
                target=_copy_to_spool, args=(connection.alias, snapshot, second, spool, imported, failure)
            )
            worker.start()
            try:
                with raw.copy(*first) as copy:
                    yield from _joined(copy)
            finally:
                imported.wait()  # the snapshot must outlive its import
                raw.execute("COMMIT")
                worker.join()
        except BaseException:
            if raw.connection.info.transaction_status != pq.TransactionStatus.IDLE:
                raw.execute("ROLLBACK")
            raise
    if failure:
        raise failure[0]
    spool.seek(0)
    with spool:
        while block := spool.read(BLOCK_SIZE):
            yield block


def _copy_to_spool(alias, snapshot, statement, spool, imported, failure):
    connection = connections[alias]  # this thread's own connection
    try:
        with connection.cursor() as cursor:
            raw = cursor.cursor
            raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                raw.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
            finally:
                imported.set()
            with raw.copy(*statement) as copy:
                for block in copy:
                    spool.write(block)
            raw.execute("COMMIT")
    except Exception as error:  # re-raised by the streaming thread
        failure.append(error)
    finally:
        imported.set()
        connection.close()
