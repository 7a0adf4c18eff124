"""The read path of lists and exports: representations built from ``values_list()`` rows.

A DRF serializer walks its fields for every row and every nested object (``get_attribute``,
``to_representation``, an ``OrderedDict`` each); on a page of 100 events with their units and
citations that is tens of thousands of Python calls, most of what a list request costs. A
``RowReader`` compiles a serializer's read fields once into a plan of columns and converters,
fetches a page with one query per table (the records, then each inline list), and assembles
the same dicts.

The serializer stays the one definition of the representation, of the schema and of writes:
the plan is derived from its fields, a field type the reader does not know is an error when
the plan is compiled, and the tests compare both paths' output for every resource.
"""

import datetime
from collections import defaultdict
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Prefetch
from django_countries.serializer_fields import CountryField
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from .fields import NestedRelatedField, RecordURLField

# Fields whose representation is the database value itself (DRF would only re-cast it).
IDENTITY_FIELDS = (
    serializers.BooleanField,
    serializers.CharField,
    serializers.ChoiceField,
    serializers.FloatField,
    serializers.IntegerField,
    serializers.JSONField,
    serializers.ListField,
    serializers.PrimaryKeyRelatedField,
    CountryField,
)
# Fields converted by their own ``to_representation`` (dates in the configured format, ...).
CONVERTED_FIELDS = (serializers.DateField, serializers.DateTimeField, serializers.DecimalField)


def converter(field):
    """``field.to_representation``, or a shortcut doing the same for ISO 8601 dates and UTC times."""
    output_format = getattr(field, "format", None)
    if isinstance(field, serializers.DateTimeField):
        iso = (output_format or api_settings.DATETIME_FORMAT).lower() == ISO_8601
        if iso and settings.USE_TZ and settings.TIME_ZONE == "UTC" and getattr(field, "timezone", None) is None:
            return utc_isoformat
    elif isinstance(field, serializers.DateField):
        if (output_format or api_settings.DATE_FORMAT).lower() == ISO_8601:
            return date_isoformat
    return field.to_representation


date_isoformat = datetime.date.isoformat


def utc_isoformat(value):
    # What DRF writes: the time in UTC, ISO 8601, "Z" for "+00:00".
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


class Plan:
    """How to read one serializer's representation from a flat row of columns."""

    def __init__(self, serializer, model, prefix=""):
        self.model = model
        self.columns = []
        self.steps = []  # (name, kind, argument, field) in the serializer's field order
        self.children = []  # (name, ChildPlan)
        annotated = getattr(serializer, "annotated_fields", {})
        for name, field in serializer.fields.items():
            if field.write_only:
                continue
            if isinstance(field, serializers.ListSerializer):
                self.steps.append((name, "children", None, field))
                self.children.append((name, ChildPlan(field, model)))
            elif isinstance(field, RecordURLField):
                self.steps.append((name, "url", (self._column(prefix + "pk"), field.view_name), field))
            elif isinstance(field, NestedRelatedField):
                nested = Plan(field.nested_serializer(), field.queryset.model, f"{prefix}{field.source}__")
                key = self._column(prefix + field.source)
                offset = len(self.columns)
                self.columns += nested.columns
                self.steps.append((name, "nested", (key, offset, nested), field))
            elif isinstance(field, serializers.SerializerMethodField):
                if name not in annotated:
                    raise ImproperlyConfigured(
                        f"{type(serializer).__name__}.{name}: a method field needs a query annotation "
                        "named in the serializer's annotated_fields to be read from rows."
                    )
                self.steps.append((name, "value", self._column(annotated[name]), field))
            elif isinstance(field, CONVERTED_FIELDS):
                self.steps.append((name, "convert", (self._column(prefix + field.source), converter(field)), field))
            elif isinstance(field, IDENTITY_FIELDS):
                self.steps.append((name, "value", self._column(prefix + field.source), field))
            else:
                raise ImproperlyConfigured(
                    f"{type(serializer).__name__}.{name}: the row reader does not know {type(field).__name__}."
                )

    def _column(self, lookup):
        self.columns.append(lookup)
        return len(self.columns) - 1

    def build(self, row, urls, offset=0, children=None):
        data = {}
        for name, kind, argument, _ in self.steps:
            if kind == "value":
                data[name] = row[offset + argument]
            elif kind == "convert":
                value = row[offset + argument[0]]
                data[name] = None if value is None else argument[1](value)
            elif kind == "url":
                before, after = urls[argument[1]]
                data[name] = f"{before}/{row[offset + argument[0]]}/{after}"
            elif kind == "nested":
                key, start, nested = argument
                data[name] = None if row[offset + key] is None else nested.build(row, urls, offset + start)
            else:
                data[name] = children[name]
        return data

    def view_names(self):
        names = {argument[1] for _, kind, argument, _ in self.steps if kind == "url"}
        for _, kind, argument, _ in self.steps:
            if kind == "nested":
                names |= argument[2].view_names()
        for _, child in self.children:
            names |= child.plan.view_names()
        return names


class ChildPlan:
    """An inline list (an event's citations or units): one query for a whole page of parents."""

    def __init__(self, field, parent_model):
        relation = parent_model._meta.get_field(field.source)
        self.related_name = field.source
        self.parent_column = relation.field.attname
        self.plan = Plan(field.child, relation.related_model)

    def fetch(self, queryset, parent_ids, urls):
        rows = queryset.filter(**{f"{self.parent_column}__in": parent_ids}).values_list(
            self.parent_column, *self.plan.columns
        )
        grouped = defaultdict(list)
        for row in rows:
            grouped[row[0]].append(self.plan.build(row, urls, offset=1))
        return grouped


def child_querysets(queryset):
    """The querysets ``queryset`` prefetches its inline lists with (e.g. only citations known then)."""
    return {
        lookup.prefetch_to: lookup.queryset
        for lookup in queryset._prefetch_related_lookups
        if isinstance(lookup, Prefetch) and lookup.queryset is not None
    }


def child_queryset(child_querysets, related_name, model):
    """The queryset an inline list is read from: the one prefetched (e.g. as of known_at), or
    every row of ``model``."""
    queryset = child_querysets.get(related_name)
    return model._default_manager.all() if queryset is None else queryset


@cache
def plan_for(serializer_class):
    serializer = serializer_class()
    return Plan(serializer, serializer.Meta.model)


class RowReader:
    """Builds a list page, or streams an export, as ``serializer_class`` would represent it."""

    def __init__(self, serializer_class, request, format=None):
        self.plan = plan_for(serializer_class)
        self.urls = {name: RecordURLField.template(name, request, format) for name in self.plan.view_names()}

    def page(self, queryset, ids):
        """The records with these ids, in this order. ``queryset`` gives the annotations and
        inline lists (e.g. as of ``known_at``); it should not carry the list's filters, which
        the ids already reflect."""
        if not ids:
            return []
        rows = queryset.order_by().filter(pk__in=ids).values_list("pk", *self.plan.columns)
        by_pk = {row[0]: row for row in rows}
        children = self._children(queryset, list(by_pk))
        return [self._build(by_pk[pk], children) for pk in ids if pk in by_pk]

    def stream(self, queryset, chunk_size=2000):
        """Every record of ``queryset`` in its order, fetched ``chunk_size`` rows at a time."""
        chunk = []
        for row in queryset.values_list("pk", *self.plan.columns).iterator(chunk_size=chunk_size):
            chunk.append(row)
            if len(chunk) == chunk_size:
                yield from self._chunk(queryset, chunk)
                chunk = []
        if chunk:
            yield from self._chunk(queryset, chunk)

    def _chunk(self, queryset, rows):
        children = self._children(queryset, [row[0] for row in rows])
        return [self._build(row, children) for row in rows]

    def _children(self, queryset, ids):
        prefetches = child_querysets(queryset)
        fetched = {}
        for name, child in self.plan.children:
            related = child_queryset(prefetches, child.related_name, child.plan.model)
            fetched[name] = child.fetch(related, ids, self.urls)
        return fetched

    def _build(self, row, children):
        pk = row[0]
        own = {name: grouped.get(pk, []) for name, grouped in children.items()}
        return self.plan.build(row, self.urls, offset=1, children=own)
