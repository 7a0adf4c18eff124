"""FilterSets for the API lists; every parameter appears in the OpenAPI schema with its type."""

import copy
import datetime
from functools import reduce
from operator import or_

import django_filters as filters
from django import forms
from django.db import connection, models
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django_filters.constants import EMPTY_VALUES
from django_filters.filters import FilterMethod
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError

from . import choices, geo, search
from .api.pagination import EXACT_COUNT_LIMIT, LimitOffsetPagination
from .models import (
    CasualtyReport,
    CasualtyReportLink,
    Citation,
    Event,
    EventLink,
    EventUnit,
    Source,
    Unit,
    UnitPosition,
)
from .selectors import as_known_at, unit_subtree_ids

CHOICE_LOOKUPS = ["exact", "in"]
# Ids are BigAutoFields: 1 to 2**63 - 1.
MAX_ID = 2**63 - 1
RANGE_LOOKUPS = ["exact", "gte", "lte"]


class NumbersField(forms.Field):
    """Comma-separated numbers, as many as the ``invalid`` message says."""

    count = 0

    def numbers(self, value) -> list[float]:
        try:
            numbers = [float(part) for part in value.split(",")]
        except ValueError:
            numbers = []
        if len(numbers) != self.count:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid", params={"value": value})
        return numbers


class BBoxField(NumbersField):
    """``min_lon,min_lat,max_lon,max_lat`` in WGS 84 degrees, as in GeoJSON and OGC APIs."""

    count = 4

    default_error_messages = {
        "invalid": "Expected four numbers min_lon,min_lat,max_lon,max_lat; got %(value)r.",
        "range": "Longitudes must lie in [-180, 180] and latitudes in [-90, 90].",
        "order": "The minimum must not exceed the maximum (min_lon,min_lat,max_lon,max_lat).",
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        min_lon, min_lat, max_lon, max_lat = self.numbers(value)
        if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180 and -90 <= min_lat <= 90 and -90 <= max_lat <= 90):
            raise forms.ValidationError(self.error_messages["range"], code="range")
        if min_lon > max_lon or min_lat > max_lat:
            raise forms.ValidationError(self.error_messages["order"], code="order")
        return min_lon, min_lat, max_lon, max_lat


@extend_schema_field(OpenApiTypes.STR)
class BBoxFilter(filters.Filter):
    field_class = BBoxField

    def filter(self, qs, value):
        if value is None:
            return qs
        min_lon, min_lat, max_lon, max_lat = value
        return self.parent.filter_place(
            qs, lambda fields: geo.box(*value, fields), min_lat, max_lat, bounds=geo.box(*value)
        )


@extend_schema_field(OpenApiTypes.INT)
class RecordIdFilter(filters.ModelChoiceFilter):
    """Takes a record's id; an id that does not exist is a 400, not an empty list."""


@extend_schema_field(OpenApiTypes.INT)
class IntegerFilter(filters.NumberFilter):
    field_class = forms.IntegerField


class RecordIdsFilter(filters.BaseInFilter, IntegerFilter):
    """Records' ids, comma-separated (or repeated): ``?source__in=3,8``. An id no record has is
    a 400, as for a single id, not a silently shorter list."""

    def __init__(self, *args, queryset, **kwargs):
        self.records = queryset
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)

    def existing(self, ids) -> list[int]:
        if not ids:
            return []
        found = set(self.records.filter(pk__in=ids).values_list("pk", flat=True))
        missing = sorted(set(ids) - found)
        if missing:
            raise ValidationError(
                {
                    self.field_name: [
                        f"No {self.records.model._meta.verbose_name} has the id {', '.join(map(str, missing))}."
                    ]
                }
            )
        return ids

    def filter(self, qs, value):
        if value in EMPTY_VALUES:
            return qs
        ids = self.existing(value)
        return self.get_method(qs)(**{f"{self.field_name}__in": ids}) if self.method is None else qs


class UTCDateTimeField(filters.fields.IsoDateTimeField):
    """An ISO 8601 time, as the moment in UTC.

    ISO 8601 allows offsets up to ±23:59, PostgreSQL up to ±15:59: a moment is compared as
    itself, whatever offset it was written with. One that falls outside the years a date can
    hold once in UTC is before (or after) anything stored.
    """

    def clean(self, value):
        moment = super().clean(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(datetime.UTC)
        except OverflowError:
            limit = datetime.datetime.min if moment.year < 5000 else datetime.datetime.max
            return limit.replace(tzinfo=datetime.UTC)


class UTCDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class StrictNullBooleanField(forms.NullBooleanField):
    """Accepts true/false (and 1/0, yes/no); anything else is an error rather than "no filter"."""

    widget = forms.TextInput
    VALUES = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return self.VALUES[str(value).strip().lower()]
        except KeyError:
            raise forms.ValidationError(f"Expected true or false; got {value!r}.", code="invalid") from None

    def validate(self, value):
        pass


class BooleanFilter(filters.BooleanFilter):
    field_class = StrictNullBooleanField


class ChoiceField(filters.fields.ChoiceField):
    """Checks a value against the set of its choices, made once per choice list.

    Django walks (and normalises) the whole choice list for every value it checks: 250
    countries on each ``?country=``. The set lives on the choice list, which the copies of a
    field that each request's form makes share (see ShallowCopiedFields).
    """

    def valid_value(self, value):
        choices = self._choices
        values = getattr(choices, "valid_values", None)
        if values is None:
            values = choices.valid_values = frozenset(_choice_values(choices))
        return str(value) in values


def _choice_values(choices):
    for key, label in choices:
        if isinstance(label, list | tuple):  # a named group of choices
            yield from (str(inner) for inner, _ in label)
        else:
            yield str(key)


class ChoiceFilter(filters.ChoiceFilter):
    field_class = ChoiceField


class ChoiceInFilter(filters.BaseInFilter, ChoiceFilter):
    """A comma list of choices, each checked: ``?type__in=strike,combat``."""


class OrderingFilter(filters.OrderingFilter):
    """``?ordering=-best,as_of_date``: empty values sort last either way, on every database.

    The primary key breaks ties, so pages of a limit/offset scan never overlap or skip rows.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "help_text",
            "Sort by these fields, comma-separated; a leading - sorts descending. Empty values sort last "
            "either way, and the id breaks ties.",
        )
        super().__init__(*args, **kwargs)

    def get_ordering_value(self, param):
        descending = param.startswith("-")
        field_name = self.param_map.get(param.lstrip("-"), param.lstrip("-"))
        return F(field_name).desc(nulls_last=True) if descending else F(field_name).asc(nulls_last=True)

    def filter(self, qs, value):
        if value in EMPTY_VALUES:
            return qs
        return qs.order_by(*(self.get_ordering_value(param) for param in value), "pk")


class ShallowCopiedFields(dict):
    """A form's ``base_fields`` that each form copies field by field, not deeply.

    Django deep-copies a form's fields for every form, and with them every choice list and
    widget (normalising 250 country choices each time). A filter form only validates the
    query string; nothing changes its fields, so sharing their choices and widgets is safe.
    """

    def __deepcopy__(self, memo):
        return {name: copy.copy(field) for name, field in self.items()}


class ShallowCopiedFilters(dict):
    """A FilterSet's ``base_filters``, which each FilterSet copies filter by filter, not deeply.

    django-filter deep-copies every filter (and its choices) for each request, to bind it to
    the FilterSet. A filter's own attributes are all that binding changes, so a shallow copy
    does, with method filters pointed at their copy.
    """

    def __deepcopy__(self, memo):
        copies = {}
        for name, filter_ in self.items():
            copied = copy.copy(filter_)
            if copied.method is not None:
                copied.filter = FilterMethod(copied)
            copies[name] = copied
        return copies


def describe_lookup(model, field, lookup_expr):
    """The help text of a filter generated from ``Meta.fields``, e.g. "Only events whose start date
    is on or after this day (YYYY-MM-DD).", so that every parameter of the schema says what it does."""
    records, name = model._meta.verbose_name_plural, field.verbose_name
    is_date = isinstance(field, models.DateField)
    if lookup_expr == "isnull":
        return f"true: only {records} without {article(name)} {name}; false: only those with one."
    if lookup_expr == "in":
        return f"Only {records} whose {name} is any of these: a comma-separated list, or the parameter repeated."
    if lookup_expr == "icontains":
        return f"Only {records} whose {name} contains this text, ignoring case."
    if lookup_expr == "startswith":
        return f"Only {records} whose {name} starts with this text."
    if lookup_expr in {"gte", "lte"}:
        if is_date:
            return f"Only {records} whose {name} is on or {'after' if lookup_expr == 'gte' else 'before'} this day."
        return f"Only {records} whose {name} is at {'least' if lookup_expr == 'gte' else 'most'} this."
    if field.is_relation:
        return f"Only {records} whose {name} has this id."
    if isinstance(field, models.BooleanField):
        return f"Only {records} whose {name} flag is this: true or false."
    if is_date:
        return f"Only {records} whose {name} is this day."
    return f"Only {records} whose {name} is exactly this."


class NearField(NumbersField):
    """``lat,lon,km``: a point in WGS 84 degrees and a radius in kilometres."""

    count = 3

    default_error_messages = {
        "invalid": "Expected three numbers lat,lon,km; got %(value)r.",
        "range": "The latitude must lie in [-90, 90] and the longitude in [-180, 180].",
        "radius": f"The radius must be more than 0 and at most {geo.FARTHEST_KM:.0f} km.",
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        latitude, longitude, km = self.numbers(value)
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise forms.ValidationError(self.error_messages["range"], code="range")
        if not 0 < km <= geo.FARTHEST_KM:
            raise forms.ValidationError(self.error_messages["radius"], code="radius")
        return latitude, longitude, km


@extend_schema_field(OpenApiTypes.STR)
class NearFilter(filters.Filter):
    field_class = NearField

    def filter(self, qs, value):
        if value is None:
            return qs
        latitude, longitude, km = value
        return self.parent.filter_place(
            qs.alias(distance=geo.nearness(latitude, longitude)),
            lambda fields: geo.within(latitude, longitude, km, fields),
            *geo.latitudes_within(latitude, km),
            bounds=geo.bounding_box(latitude, longitude, km),
        )


def article(noun):
    return "an" if noun[:1].lower() in "aeio" else "a"


class BaseFilterSet(filters.FilterSet):
    """Adds ``q``, a case-insensitive search over ``search_fields``, and checked choice lists."""

    search_fields = ()

    @classmethod
    def filter_for_field(cls, field, field_name, lookup_expr=None):
        filter_ = super().filter_for_field(field, field_name, lookup_expr)
        if filter_ is not None:
            # Replaces django-filter's "Multiple values may be separated by commas." too.
            filter_.extra["help_text"] = describe_lookup(cls._meta.model, field, filter_.lookup_expr)
            if isinstance(filter_, IntegerFilter) and isinstance(field, models.IntegerField):
                # A figure outside what the column can hold is a 400, not a query that Django
                # would have to refuse to compile.
                minimum, maximum = connection.ops.integer_field_range(field.get_internal_type())
                filter_.extra.setdefault("min_value", minimum)
                filter_.extra.setdefault("max_value", maximum)
        return filter_

    @classmethod
    def filter_for_lookup(cls, field, lookup_type):
        if getattr(field, "choices", None):
            if lookup_type == "in":
                return ChoiceInFilter, {"choices": field.choices}
            if lookup_type in {"lt", "lte", "gt", "gte"}:
                return ChoiceFilter, {"choices": field.choices}
        filter_class, params = super().filter_for_lookup(field, lookup_type)
        filter_class = {filters.BooleanFilter: BooleanFilter, filters.ChoiceFilter: ChoiceFilter}.get(
            filter_class, filter_class
        )
        if filter_class is filters.NumberFilter and isinstance(field, models.IntegerField):
            filter_class = IntegerFilter  # a figure is a whole number: 0.5 is a 400, not 0
        return filter_class, params

    @classmethod
    def get_filters(cls):
        return ShallowCopiedFilters(super().get_filters())

    def get_form_class(self):
        # django-filter builds a new form class, and every form field with its choices (250
        # countries), from this instance's filters on each request: several milliseconds. The
        # fields depend only on the class's filters, so the form class is built once per class.
        cls = type(self)
        if "_form_class" not in cls.__dict__:
            fields = {name: filter_.field for name, filter_ in cls.base_filters.items()}
            form_class = type(f"{cls.__name__}Form", (self._meta.form,), fields)
            form_class.base_fields = ShallowCopiedFields(form_class.base_fields)
            cls._form_class = form_class
        return cls._form_class

    q = filters.CharFilter(method="search", label="Search", help_text="Case-insensitive text search.")
    modified_since = UTCDateTimeFilter(
        method="filter_modified_since",
        help_text=(
            "Records created or changed at or after this ISO 8601 time, including changes to what they show "
            "of other records (citations, a source's name). With /api/deletions/ this keeps a mirror in sync."
        ),
    )

    # Orders computed from another parameter, which ordering by them needs: name -> (parameter, message).
    ordering_needs = {}

    def filter_place(self, queryset, inside, low, high, bounds):
        """``queryset`` kept to a ``bbox`` or a ``near`` place: ``inside(fields)`` is its
        condition on the fields of the latitude and longitude, ``low`` and ``high`` its lowest
        and highest latitude, ``bounds`` the box around it."""
        return queryset.filter(inside(("latitude", "longitude")))

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        for name in data.get("ordering") or []:
            if name.lstrip("-") not in self.ordering_needs:
                continue
            needed, message = self.ordering_needs[name.lstrip("-")]
            value = data.get(needed)
            if value in EMPTY_VALUES or (isinstance(value, str) and not value.strip()):
                raise ValidationError({"ordering": [message]})
        return super().filter_queryset(queryset)

    def filter_modified_since(self, queryset, name, value):
        return queryset.filter(self.modified_condition(value))

    def modified_condition(self, since):
        """Rows whose representation may have changed since ``since``; extended for nested data."""
        return Q(updated_at__gte=since)

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(self.search_condition(value))

    def search_condition(self, value):
        return reduce(or_, (Q(**{f"{field}__icontains": value}) for field in self.search_fields))


def cited(subject_field, **conditions):
    """``Exists`` over the citations of the row being filtered, so no join duplicates rows."""
    return Exists(Citation.objects.filter(**{subject_field: OuterRef("pk")}, **conditions))


class SourceFilterSet(BaseFilterSet):
    search_fields = ("name", "aliases", "slug", "description")

    min_reliability = ChoiceFilter(
        field_name="reliability",
        lookup_expr="lte",
        choices=choices.Reliability.choices,
        label="Minimum reliability",
        help_text="Sources at least this reliable: B gives A and B.",
    )
    ordering = OrderingFilter(fields=("name", "slug", "kind", "country", "reliability", "created_at", "updated_at"))

    class Meta:
        model = Source
        fields = {
            "kind": CHOICE_LOOKUPS,
            "country": CHOICE_LOOKUPS,
            "reliability": CHOICE_LOOKUPS,
            "party": ["exact"],
            "slug": ["exact"],
        }


class UnitFilterSet(BaseFilterSet):
    search_fields = ("name", "aliases", "branch", "description")

    within = RecordIdFilter(
        queryset=Unit.objects.all(),
        method="filter_within",
        label="Within unit",
        help_text="A unit and all the units under it, at any depth.",
    )
    ordering = OrderingFilter(
        fields=("name", "country", "echelon", "status", "strength_best", "created_at", "updated_at")
    )

    class Meta:
        model = Unit
        fields = {
            "country": CHOICE_LOOKUPS,
            "echelon": CHOICE_LOOKUPS,
            "status": CHOICE_LOOKUPS,
            "parent": ["exact", "isnull"],
            "branch": ["exact"],
        }

    def modified_condition(self, since):
        return super().modified_condition(since) | Q(parent__updated_at__gte=since)

    def filter_within(self, queryset, name, unit):
        return queryset.filter(pk__in=unit_subtree_ids(unit.pk))


def unit_filters(records: str, preposition: str):
    """``unit`` and ``unit__in`` (with the units under them) and ``unit__exact`` of a list of ``records``
    that have a unit; :class:`UnitSubtreeMixin` filters by them."""
    units = Unit.objects.all()
    return (
        RecordIdFilter(
            queryset=units, method="filter_unit", help_text=f"{records} {preposition} this unit or any unit under it."
        ),
        RecordIdsFilter(
            queryset=units,
            method="filter_unit",
            help_text=f"{records} {preposition} any of these units or any unit under them: ids, comma-separated or "
            "repeated.",
        ),
        RecordIdFilter(
            queryset=units,
            field_name="unit",
            help_text=f"{records} {preposition} this unit itself, not {preposition} the units under it.",
        ),
    )


class UnitSubtreeMixin:
    """The records of a unit (or of any of several) and of every unit under it (:func:`unit_filters`)."""

    def filter_unit(self, queryset, name, value):
        units = [value.pk] if isinstance(value, Unit) else self.filters[name].existing(value)
        return queryset.filter(unit_id__in=unit_subtree_ids(*units))


class UnitPositionFilterSet(UnitSubtreeMixin, BaseFilterSet):
    """Units' reported positions; ``unit`` takes in the units under it, so a formation's track has its sub-units'."""

    search_fields = ("unit__name", "strength", "notes")

    unit, unit__in, unit__exact = unit_filters("Positions", "of")
    country = ChoiceFilter(
        field_name="unit__country",
        choices=Unit._meta.get_field("country").choices,
        help_text="Positions of units of this country (ISO 3166-1 alpha-2).",
    )
    country__in = ChoiceInFilter(
        field_name="unit__country",
        lookup_expr="in",
        choices=Unit._meta.get_field("country").choices,
        help_text="Positions of units of any of these countries: comma-separated or the parameter repeated.",
    )
    date_from = filters.DateFilter(
        field_name="date", lookup_expr="gte", label="Window start", help_text="Positions on or after this day."
    )
    date_to = filters.DateFilter(
        field_name="date", lookup_expr="lte", label="Window end", help_text="Positions on or before this day."
    )
    source = RecordIdFilter(
        queryset=Source.objects.all(), field_name="source", help_text="Positions reported by this source."
    )
    source__in = RecordIdsFilter(
        queryset=Source.objects.all(),
        field_name="source",
        help_text="Positions reported by any of these sources: ids, comma-separated or the parameter repeated.",
    )
    bbox = BBoxFilter(label="Bounding box", help_text="min_lon,min_lat,max_lon,max_lat: positions inside the box.")
    lines = BooleanFilter(
        method="keep",
        help_text=(
            "With format=geojson, true adds after the points one LineString feature per unit, through its "
            "positions in date order (a unit with a single position has none)."
        ),
    )
    ordering = OrderingFilter(fields=("date", "source_date", "created_at", "updated_at"))

    class Meta:
        model = UnitPosition
        fields = {
            "date": ["exact"],
            "date_precision": CHOICE_LOOKUPS,
            "location_precision": CHOICE_LOOKUPS,
            "source": ["isnull"],
            "source_date": [*RANGE_LOOKUPS, "isnull"],
            "external_id": ["exact", "startswith"],
        }

    def modified_condition(self, since):
        return super().modified_condition(since) | Q(unit__updated_at__gte=since) | Q(source__updated_at__gte=since)

    def keep(self, queryset, name, value):
        return queryset  # read by the view


class UnitTrackFilterSet(UnitPositionFilterSet):
    """The positions of a unit's track: the unit is the one in the path, with the units under it."""

    unit = unit__in = unit__exact = None


class CitedFilterSet(BaseFilterSet):
    """Filters on who cited a record: ``source`` and ``citation_role`` combine on one citation."""

    citation_subject = None

    q = filters.CharFilter(
        method="search",
        label="Search",
        help_text=(
            "Full-text search of the record's text and its citations' quotes, in any case and with or without "
            'accents; English words match their other forms (drones, drone). Web-search syntax: "an exact '
            'phrase", or between alternatives (convoy or column), -word to leave out records with it. '
            "ordering=-relevance puts the best matches first."
        ),
    )

    source = RecordIdFilter(
        queryset=Source.objects.all(),
        method="filter_citations",
        help_text="Records citing this source (any role, or the role given by citation_role).",
    )
    source__in = RecordIdsFilter(
        queryset=Source.objects.all(),
        method="filter_citations",
        help_text="Records citing any of these sources: ids, comma-separated or the parameter repeated.",
    )
    source_country = ChoiceFilter(
        choices=Source._meta.get_field("country").choices,
        method="filter_citations",
        help_text="Records citing a source of this country (ISO 3166-1 alpha-2).",
    )
    source_country__in = ChoiceInFilter(
        choices=Source._meta.get_field("country").choices,
        method="filter_citations",
        help_text="Records citing a source of any of these countries: comma-separated or the parameter repeated.",
    )
    source_kind = ChoiceFilter(
        choices=choices.SourceKind.choices,
        method="filter_citations",
        help_text="Records citing a source of this kind.",
    )
    source_kind__in = ChoiceInFilter(
        choices=choices.SourceKind.choices,
        method="filter_citations",
        help_text="Records citing a source of any of these kinds: comma-separated or the parameter repeated.",
    )
    citation_role = ChoiceFilter(
        choices=choices.CitationRole.choices,
        method="filter_citations",
        help_text=(
            "Records with a citation in this role. With source, source_country or source_kind (and their "
            "__in), one citation must match them all."
        ),
    )
    min_reliability = ChoiceFilter(
        choices=choices.Reliability.choices,
        method="filter_min_reliability",
        label="Minimum source reliability",
        help_text="Records cited by at least one source this reliable or better: B gives sources rated A or B.",
    )

    status = ChoiceFilter(
        choices=choices.ClaimStatus.choices,
        field_name="claim_status",
        help_text="Claims in this status, derived from their citations and links (as of known_at, if given).",
    )
    status__in = ChoiceInFilter(
        choices=choices.ClaimStatus.choices,
        field_name="claim_status",
        lookup_expr="in",
        help_text="Claims in any of these statuses: a comma-separated list, or the parameter repeated.",
    )
    known_at = filters.DateFilter(
        method="filter_citations",
        help_text=(
            "Time travel: what was known on this day. Only claims whose earliest citation was published on or "
            "before it, with the citations and the status they had then."
        ),
    )

    def filter_citations(self, queryset, name, value):
        # Applied in filter_queryset: source and role refer to one citation, and known_at comes first.
        return queryset

    def filter_min_reliability(self, queryset, name, value):
        return queryset.filter(cited(self.citation_subject, source__reliability__lte=value))

    def filter_queryset(self, queryset):
        if self.form.cleaned_data.get("known_at"):
            queryset = as_known_at(queryset, known_at=self.form.cleaned_data["known_at"])
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        if data.get("source__in"):
            self.filters["source__in"].existing(data["source__in"])
        conditions = {
            lookup: data[name]
            for name, lookup in self.CITATION_CONDITIONS.items()
            if data.get(name) not in EMPTY_VALUES
        }
        if conditions:
            queryset = queryset.filter(cited(self.citation_subject, **conditions))
        return queryset

    # Parameters that describe one citation of the record, and the citation's lookups for them.
    CITATION_CONDITIONS = {
        "source": "source",
        "source__in": "source__in",
        "source_country": "source__country",
        "source_country__in": "source__country__in",
        "source_kind": "source__kind",
        "source_kind__in": "source__kind__in",
        "citation_role": "role",
    }

    def search(self, queryset, name, value):
        """Full-text search of the record's own words and its citations' quotes (``events.search``).

        ``relevance`` is aliased for ``ordering=-relevance``; it is computed only when ordered by.
        """
        if not value.strip():
            return queryset
        return queryset.filter(search.matches(value)).alias(relevance=search.relevance(value))

    def modified_condition(self, since):
        return super().modified_condition(since) | Q(cited(self.citation_subject, source__updated_at__gte=since))


class EventFilterSet(CitedFilterSet):
    citation_subject = "event"
    search_fields = ("title", "description", "place_name", "admin1", "date_text")

    date_from = filters.DateFilter(
        field_name="end_date",
        lookup_expr="gte",
        label="Window start",
        help_text="With date_to: events whose interval overlaps the window (ends on or after this date).",
    )
    date_to = filters.DateFilter(
        field_name="start_date",
        lookup_expr="lte",
        label="Window end",
        help_text="With date_from: events whose interval overlaps the window (starts on or before this date).",
    )
    unit = RecordIdFilter(
        queryset=Unit.objects.all(),
        method="filter_unit",
        help_text="Events involving this unit or any unit under it.",
    )
    unit__in = RecordIdsFilter(
        queryset=Unit.objects.all(),
        method="filter_unit",
        help_text="Events involving any of these units or any unit under them: ids, comma-separated or repeated.",
    )
    bbox = BBoxFilter(
        label="Bounding box", help_text="min_lon,min_lat,max_lon,max_lat: events with coordinates inside the box."
    )
    near = NearFilter(
        label="Near a point",
        help_text=(
            "lat,lon,km: events within km kilometres of the point (great-circle distance); "
            "ordering=distance sorts them nearest first."
        ),
    )
    has_coordinates = BooleanFilter(
        field_name="latitude", lookup_expr="isnull", exclude=True, help_text="Whether the event has coordinates."
    )
    ordering = OrderingFilter(
        fields=(
            "start_date",
            "end_date",
            "title",
            "type",
            "country",
            "created_at",
            "updated_at",
            "distance",
            "relevance",
        )
    )
    ordering_needs = {
        "relevance": ("q", "Ordering by relevance needs q."),
        "distance": ("near", "Ordering by distance needs near=lat,lon,km."),
    }

    class Meta:
        model = Event
        fields = {
            "type": CHOICE_LOOKUPS,
            "country": CHOICE_LOOKUPS,
            "admin1": ["exact", "icontains"],
            "start_date": RANGE_LOOKUPS,
            "end_date": RANGE_LOOKUPS,
            "date_precision": CHOICE_LOOKUPS,
            "location_precision": CHOICE_LOOKUPS,
            "expected": ["exact"],
            "external_id": ["exact", "startswith"],
        }

    def filter_place(self, queryset, inside, low, high, bounds):
        # On SQLite, the plan is chosen here (see geo): a place dense enough for the date order
        # to fill the page soon is met walking it; any other is read by its latitude strips.
        if self.walks_dates(queryset, bounds):
            return geo.unindexed(queryset).filter(inside(geo.UNINDEXED))
        return super().filter_place(geo.in_strips(queryset, low, high), inside, low, high, bounds)

    def walks_dates(self, queryset, bounds):
        """Whether walking the date order meets the events in ``bounds`` sooner than reading
        them by their coordinates and sorting them (``geo.walk_finds``): for a page of a list
        in date order (the default)."""
        params = getattr(self.request, "query_params", None)
        data = self.form.cleaned_data
        if params is None or data.get("q") or "cursor" in params:
            return False
        first = next(iter(data.get("ordering") or []), "-start_date")
        renderer = getattr(self.request, "accepted_renderer", None)
        if first.lstrip("-") != "start_date" or (
            getattr(renderer, "format", None) in {"csv", "geojson"} and "limit" not in params
        ):
            return False  # another order, or an export of every event in the place
        try:
            offset, limit = int(params.get("offset", 0)), int(params.get("limit", LimitOffsetPagination.default_limit))
        except ValueError:
            return False  # a 400 from the paginator
        # The page, one row more, and the count, which reads up to its bound.
        rows = max(offset + limit, EXACT_COUNT_LIMIT) + 1
        return geo.walk_finds(queryset, bounds, rows, descending=first.startswith("-"))

    def modified_condition(self, since):
        units_changed = Exists(EventUnit.objects.filter(event=OuterRef("pk"), unit__updated_at__gte=since))
        return super().modified_condition(since) | Q(units_changed)

    def filter_unit(self, queryset, name, value):
        units = [value.pk] if isinstance(value, Unit) else self.filters[name].existing(value)
        return queryset.filter(
            Exists(EventUnit.objects.filter(event=OuterRef("pk"), unit_id__in=unit_subtree_ids(*units)))
        )


class CasualtyReportFilterSet(UnitSubtreeMixin, CitedFilterSet):
    citation_subject = "casualty_report"
    search_fields = ("description", "date_text", "unit__name", "event__title")

    unit, unit__in, unit__exact = unit_filters("Reports", "on")
    event__in = RecordIdsFilter(
        queryset=Event.objects.all(),
        field_name="event",
        help_text="Reports on any of these events: ids, comma-separated or the parameter repeated.",
    )
    claimed_by = RecordIdFilter(
        queryset=Source.objects.all(), method="filter_claimed_by", help_text="Reports claimed by this source."
    )
    claimed_by__in = RecordIdsFilter(
        queryset=Source.objects.all(),
        method="filter_claimed_by",
        help_text="Reports claimed by any of these sources: ids, comma-separated or the parameter repeated.",
    )
    losses = ChoiceFilter(
        choices=choices.Losses.choices,
        method="filter_losses",
        help_text="Losses of personnel (no equipment type) or of equipment (an equipment type).",
    )
    figure = IntegerFilter(
        method="filter_figure",
        min_value=0,
        help_text="Reports whose range (low to high, or best) allows this figure; “over 4,000” allows 100,000.",
    )
    figure__gte = IntegerFilter(
        method="filter_figure",
        min_value=0,
        help_text="Reports whose range reaches up to this figure: its high end (else best, or no end) is at least it.",
    )
    figure__lte = IntegerFilter(
        method="filter_figure",
        min_value=0,
        help_text="Reports whose range reaches down to this figure or less: its low end (or best) is at most this.",
    )
    ordering = OrderingFilter(
        fields=(
            "as_of_date",
            "low",
            "best",
            "high",
            "figure",
            "credibility",
            "category",
            "equipment_type",
            "kind",
            "country",
            "created_at",
            "updated_at",
            "relevance",
        ),
        help_text=(
            "Sort by these fields, comma-separated; a leading - sorts descending. `figure` is the best figure, "
            "else the middle of low and high, else the one given. Empty values sort last either way, and the id "
            "breaks ties. `relevance` (with q) is how well the report matches the search."
        ),
    )
    ordering_needs = {"relevance": ("q", "Ordering by relevance needs q.")}

    class Meta:
        model = CasualtyReport
        fields = {
            "country": CHOICE_LOOKUPS,
            "event": ["exact", "isnull"],
            "category": CHOICE_LOOKUPS,
            "equipment_type": CHOICE_LOOKUPS,
            "equipment_name": ["exact", "icontains"],
            "kind": CHOICE_LOOKUPS,
            "horizon_date": [*RANGE_LOOKUPS, "isnull"],
            "low": [*RANGE_LOOKUPS, "isnull"],
            "best": [*RANGE_LOOKUPS, "isnull"],
            "high": [*RANGE_LOOKUPS, "isnull"],
            "unit": ["isnull"],
            "as_of_date": [*RANGE_LOOKUPS, "isnull"],
            "credibility": ["exact", "lte"],
            "external_id": ["exact", "startswith"],
        }

    def filter_queryset(self, queryset):
        # For ?ordering=figure: an alias, computed only when the order asks for it.
        return super().filter_queryset(queryset.alias(figure=representative_figure()))

    def modified_condition(self, since):
        return super().modified_condition(since) | Q(unit__updated_at__gte=since) | Q(event__updated_at__gte=since)

    def filter_losses(self, queryset, name, value):
        equipment = Q(equipment_type="")
        return queryset.exclude(equipment) if value == choices.Losses.EQUIPMENT else queryset.filter(equipment)

    def filter_claimed_by(self, queryset, name, value):
        sources = [value] if isinstance(value, Source) else self.filters[name].existing(value)
        return queryset.filter(cited(self.citation_subject, source__in=sources, role=choices.CitationRole.CLAIMED_BY))

    def filter_figure(self, queryset, name, value):
        """A report's range is [low, high]: low (else best, else 0) to high (else best, else no end
        when only low is given)."""
        lowest = Coalesce("low", "best", Value(0))
        highest_known = Coalesce("high", "best")
        reaches_up = Q(**{"_highest__gte": value}) | Q(high__isnull=True, best__isnull=True, low__isnull=False)
        reaches_down = Q(_lowest__lte=value)
        queryset = queryset.alias(_lowest=lowest, _highest=highest_known)
        if name == "figure__gte":
            return queryset.filter(reaches_up)
        if name == "figure__lte":
            return queryset.filter(reaches_down)
        return queryset.filter(reaches_up & reaches_down)


def representative_figure():
    """One figure for a report: its best, else the middle of low and high, else the one given."""
    return Coalesce("best", (F("low") + F("high")) / 2, "low", "high")


class ConsensusFilterSet(CasualtyReportFilterSet):
    """The claims a consensus compares, and the date or the series it compares them on."""

    # What would pick claims by who makes them, or by where they stand, is not a consensus.
    source = source__in = citation_role = claimed_by = claimed_by__in = None
    status = status__in = ordering = q = modified_since = None
    figure = figure__gte = figure__lte = None

    as_of = filters.DateFilter(
        method="keep",
        help_text="The day the claims are compared on (default: today). Not with interval.",
    )
    interval = ChoiceFilter(
        choices=choices.Interval.choices,
        method="keep",
        help_text="A series: one row per subject and period, each compared as of the period's end. Needs date_from.",
    )
    date_from = filters.DateFilter(method="keep", help_text="With interval: the first day of the series.")
    date_to = filters.DateFilter(method="keep", help_text="With interval: the last day of the series (default: today).")

    class Meta:
        model = CasualtyReport
        fields = {
            "country": CHOICE_LOOKUPS,
            "category": CHOICE_LOOKUPS,
            "equipment_type": CHOICE_LOOKUPS,
            "kind": CHOICE_LOOKUPS,
            "event": ["exact", "isnull"],
            "unit": ["isnull"],
        }

    def keep(self, queryset, name, value):
        return queryset  # read by the view


class ClaimLinkFilterSet(BaseFilterSet):
    """Links between claims; ``claim`` finds every link from or to a claim."""

    search_fields = ("quote", "title")

    claim = IntegerFilter(
        method="filter_claim", min_value=1, max_value=MAX_ID, help_text="Links from or to the claim with this id."
    )
    ordering = OrderingFilter(fields=("published_date", "relation", "created_at", "updated_at"))

    class Meta:
        fields = {
            "relation": CHOICE_LOOKUPS,
            "from_claim": ["exact"],
            "to_claim": ["exact"],
            "source": ["exact"],
            "published_date": RANGE_LOOKUPS,
        }

    def filter_claim(self, queryset, name, value):
        return queryset.filter(Q(from_claim=value) | Q(to_claim=value))

    def modified_condition(self, since):
        return super().modified_condition(since) | Q(source__updated_at__gte=since)


class CasualtyReportLinkFilterSet(ClaimLinkFilterSet):
    class Meta(ClaimLinkFilterSet.Meta):
        model = CasualtyReportLink


class EventLinkFilterSet(ClaimLinkFilterSet):
    class Meta(ClaimLinkFilterSet.Meta):
        model = EventLink
