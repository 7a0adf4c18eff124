import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django_countries.serializers import CountryFieldMixin
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from .. import choices
from ..models import (
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
from ..selectors import claim_status
from .fields import NestedRelatedField, RecordURLField

TIMESTAMP_FIELDS = ("created_at", "updated_at")


# Brief representations, nested inside other resources.


class SourceBriefSerializer(CountryFieldMixin, serializers.ModelSerializer):
    url = RecordURLField(view_name="api:source-detail")

    class Meta:
        model = Source
        fields = ("id", "url", "name", "slug", "kind", "country", "reliability")


class UnitBriefSerializer(CountryFieldMixin, serializers.ModelSerializer):
    url = RecordURLField(view_name="api:unit-detail")

    class Meta:
        model = Unit
        fields = ("id", "url", "name", "country", "echelon")


class EventBriefSerializer(CountryFieldMixin, serializers.ModelSerializer):
    url = RecordURLField(view_name="api:event-detail")

    class Meta:
        model = Event
        fields = ("id", "url", "title", "type", "start_date", "end_date")


# Base classes.


def json_type_problem(field, value):
    """What is wrong with the JSON type of ``value`` for ``field``, or None.

    DRF reads ``"12"`` as 12, ``0`` as ``"0"`` and ``{}`` as a blank country; a JSON client that
    sends the wrong type has a bug the API should name, not guess around.
    """
    if value is None:
        return None  # whether null is allowed is the field's own check
    if isinstance(field, serializers.ListSerializer | serializers.ListField):
        if not isinstance(value, list):
            return "Expected a list."
        child = getattr(field, "child", None)
        problems = {index: json_type_problem(child, item) for index, item in enumerate(value)} if child else {}
        return {index: [problem] for index, problem in problems.items() if problem} or None
    if isinstance(field, serializers.BaseSerializer):
        return None if isinstance(value, dict) else "Expected an object."
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Expected true or false."
    if isinstance(field, serializers.ChoiceField) and field.choices and all(isinstance(c, int) for c in field.choices):
        return None if _is_whole_number(value) else "Expected a whole number."
    if isinstance(field, serializers.IntegerField | serializers.PrimaryKeyRelatedField):
        return None if _is_whole_number(value) else "Expected a whole number."
    if isinstance(field, serializers.FloatField | serializers.DecimalField):
        return None if isinstance(value, int | float) and not isinstance(value, bool) else "Expected a number."
    if isinstance(field, serializers.CharField | serializers.ChoiceField | serializers.DateField):
        return None if isinstance(value, str) else "Expected a string."
    if isinstance(field, serializers.DateTimeField):
        return None if isinstance(value, str) else "Expected a string."
    return None


def _is_whole_number(value):
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


class JSONTypesMixin:
    """Checks the JSON type of every field of a JSON body before DRF converts it (see
    ``json_type_problem``). Forms, as the browsable API posts them, carry only strings."""

    def to_internal_value(self, data):
        request = self.context.get("request")
        if isinstance(data, dict) and getattr(request, "content_type", "").startswith("application/json"):
            problems = {}
            for field in self._writable_fields:
                problem = json_type_problem(field, data.get(field.field_name))
                if problem:
                    problems[field.field_name] = problem if isinstance(problem, dict) else [problem]
            if problems:
                raise serializers.ValidationError(problems)
        return super().to_internal_value(data)


class ValidatedModelSerializer(JSONTypesMixin, CountryFieldMixin, serializers.ModelSerializer):
    """Runs the model's ``clean()`` so the API enforces the same rules as the admin.

    Errors come back keyed by field (``{"high": ["The figure high (10) is less than ..."]}``),
    before the database's check constraints would have to refuse the row.
    """

    nested_fields = ()

    def validate(self, attrs):
        attrs = super().validate(attrs)
        instance = copy.copy(self.instance) if self.instance is not None else self.Meta.model()
        for name, value in attrs.items():
            if name not in self.nested_fields:
                setattr(instance, name, value)
        try:
            instance.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                {
                    (api_settings.NON_FIELD_ERRORS_KEY if name == "__all__" else name): messages
                    for name, messages in exc.message_dict.items()
                }
            ) from exc
        return attrs


class NestedWriteSerializer(ValidatedModelSerializer):
    """Writes inline children (citations, units) together with their parent, in one transaction.

    A list sent for a child relation replaces the stored one: items carrying the ``id`` of an
    existing child update it, items without an ``id`` are created, and stored children that
    the list leaves out are deleted. Leaving the field out of a request keeps the children.
    """

    # field name -> (related manager name on the parent, foreign key name on the child)
    nested_fields = {}

    def _pop_nested(self, validated_data):
        return {name: validated_data.pop(name) for name in list(self.nested_fields) if name in validated_data}

    def _write_nested(self, instance, nested):
        for name, items in nested.items():
            related_name, parent_field = self.nested_fields[name]
            manager = getattr(instance, related_name)
            existing = {child.pk: child for child in manager.all()}
            keep = set()
            for item in items:
                item = dict(item)
                child = existing.get(item.pop("id", None))
                if child is None:
                    child = manager.model(**{parent_field: instance})
                for attr, value in item.items():
                    setattr(child, attr, value)
                child.save()
                keep.add(child.pk)
            for child in existing.values():
                if child.pk not in keep:
                    child.delete()
        if nested:
            # Writing children moved the parent's updated_at (see RecordPart); answer with it.
            instance.refresh_from_db(fields=["updated_at"])

    def create(self, validated_data):
        nested = self._pop_nested(validated_data)
        with transaction.atomic():
            instance = super().create(validated_data)
            self._write_nested(instance, nested)
        return instance

    def update(self, instance, validated_data):
        nested = self._pop_nested(validated_data)
        with transaction.atomic():
            instance = super().update(instance, validated_data)
            self._write_nested(instance, nested)
        return instance

    def validate_nested_ids(self, name, items):
        """An ``id`` in an inline list must be one of this record's own children, and an item
        without one is a new child: it needs every required field, even in a PATCH."""
        if self.instance is None:
            own = set()
        else:
            related_name, _ = self.nested_fields[name]
            own = set(getattr(self.instance, related_name).values_list("pk", flat=True))
        child = next(field for field in self.fields.values() if field.source == name).child
        required = [field for field in child._writable_fields if field.required and field.field_name != "id"]
        missing = {}
        for index, item in enumerate(items):
            if "id" in item and item["id"] not in own:
                raise serializers.ValidationError(
                    f"Item id {item['id']} is not one of this record's {name}; leave out the id to add a new one."
                )
            if "id" not in item:
                absent = {
                    field.field_name: [field.error_messages["required"]]
                    for field in required
                    if field.source not in item
                }
                if absent:
                    missing[index] = absent
        if missing:
            raise serializers.ValidationError(missing)
        return items


class ClaimStatusMixin(serializers.Serializer):
    # Lists read the status from this annotation of their query (see rows.py).
    annotated_fields = {"status": "claim_status"}

    status = serializers.SerializerMethodField(
        help_text=(
            "Where the claim stands, from its citations and the links pointing at it: retracted, superseded, "
            "disputed, confirmed or claimed (the first that applies)."
        )
    )

    @extend_schema_field(serializers.ChoiceField(choices=choices.ClaimStatus.choices))
    def get_status(self, obj):
        # Lists annotate the status in their query; a record just written is looked up once.
        if not hasattr(obj, "claim_status"):
            model = type(obj)
            obj.claim_status = model.objects.filter(pk=obj.pk).values_list(claim_status(model), flat=True).first()
        return obj.claim_status


# Inline children.


class CitationSerializer(JSONTypesMixin, serializers.ModelSerializer):
    id = serializers.IntegerField(
        required=False, help_text="Id of an existing citation to update; leave out to add a new citation."
    )
    source = NestedRelatedField(
        SourceBriefSerializer,
        queryset=Source.objects.all(),
        help_text="The source cited: its id when writing, a brief object when reading.",
    )

    class Meta:
        model = Citation
        fields = (
            "id",
            "source",
            "role",
            "url",
            "title",
            "published_date",
            "accessed_date",
            "archive_url",
            "evidence_url",
            "quote",
        )


class EventUnitSerializer(JSONTypesMixin, serializers.ModelSerializer):
    id = serializers.IntegerField(
        required=False, help_text="Id of an existing unit link to update; leave out to add a new one."
    )
    unit = NestedRelatedField(
        UnitBriefSerializer,
        queryset=Unit.objects.all(),
        help_text="The unit involved: its id when writing, a brief object when reading.",
    )

    class Meta:
        model = EventUnit
        fields = ("id", "unit", "role")


# Resources.


class SourceSerializer(ValidatedModelSerializer):
    url = RecordURLField(view_name="api:source-detail")
    aliases = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        help_text="Other names the source goes by (“UK MoD”): search and imports match them.",
    )
    citation_count = serializers.IntegerField(
        read_only=True, default=0, help_text="Number of citations of this source."
    )

    class Meta:
        model = Source
        fields = (
            "id",
            "url",
            "name",
            "aliases",
            "slug",
            "kind",
            "country",
            "homepage",
            "description",
            "reliability",
            "party",
            "citation_count",
            *TIMESTAMP_FIELDS,
        )


class UnitSerializer(ValidatedModelSerializer):
    url = RecordURLField(view_name="api:unit-detail")
    aliases = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, help_text="Other names the unit is known by."
    )
    parent = NestedRelatedField(
        UnitBriefSerializer,
        queryset=Unit.objects.all(),
        required=False,
        allow_null=True,
        help_text="The formation this unit belongs to: its id when writing, a brief object when reading.",
    )

    class Meta:
        model = Unit
        fields = (
            "id",
            "url",
            "name",
            "aliases",
            "country",
            "echelon",
            "branch",
            "parent",
            "strength_low",
            "strength_best",
            "strength_high",
            "status",
            "description",
            *TIMESTAMP_FIELDS,
        )


class UnitPositionSerializer(ValidatedModelSerializer):
    url = RecordURLField(view_name="api:unitposition-detail")
    unit = NestedRelatedField(
        UnitBriefSerializer,
        queryset=Unit.objects.all(),
        help_text="The unit reported at this place: its id when writing, a brief object when reading.",
    )
    source = NestedRelatedField(
        SourceBriefSerializer,
        queryset=Source.objects.all(),
        required=False,
        allow_null=True,
        help_text="Who reported the position: its id when writing, a brief object when reading.",
    )

    class Meta:
        model = UnitPosition
        fields = (
            "id",
            "url",
            "unit",
            "date",
            "date_precision",
            "latitude",
            "longitude",
            "location_precision",
            "strength",
            "source",
            "source_url",
            "source_date",
            "notes",
            "external_id",
            *TIMESTAMP_FIELDS,
        )


class EventSerializer(ClaimStatusMixin, NestedWriteSerializer):
    url = RecordURLField(view_name="api:event-detail")
    end_date = serializers.DateField(
        required=False,
        help_text="Last day of the interval; left out of a create or a full update, it is the start date.",
    )
    units = EventUnitSerializer(
        source="event_units", many=True, required=False, help_text="Units involved, each with its role."
    )
    citations = CitationSerializer(many=True, required=False, help_text="Sources for the event, each with its role.")

    nested_fields = {"event_units": ("event_units", "event"), "citations": ("citations", "event")}

    class Meta:
        model = Event
        fields = (
            "id",
            "url",
            "title",
            "description",
            "type",
            "start_date",
            "end_date",
            "date_precision",
            "date_text",
            "expected",
            "place_name",
            "admin1",
            "country",
            "latitude",
            "longitude",
            "location_precision",
            "personnel_low",
            "personnel_best",
            "personnel_high",
            "units",
            "citations",
            "status",
            "external_id",
            *TIMESTAMP_FIELDS,
        )

    def validate_units(self, items):
        items = self.validate_nested_ids("event_units", items)
        stored = {} if self.instance is None else {link.pk: link for link in self.instance.event_units.all()}
        seen = set()
        for item in items:
            current = stored.get(item.get("id"))  # an update may leave out what it keeps
            unit = item["unit"].pk if "unit" in item else current.unit_id
            role = item.get("role", current.role if current else EventUnit._meta.get_field("role").default)
            if (unit, role) in seen:
                raise serializers.ValidationError(f"Unit {unit} is listed twice with the role {role!r}.")
            seen.add((unit, role))
        return items

    def validate_citations(self, items):
        return self.validate_nested_ids("citations", items)

    def validate(self, attrs):
        if "end_date" not in attrs and "start_date" in attrs and not self.partial:
            attrs["end_date"] = attrs["start_date"]
        return super().validate(attrs)


class CasualtyReportSerializer(ClaimStatusMixin, NestedWriteSerializer):
    url = RecordURLField(view_name="api:casualtyreport-detail")
    unit = NestedRelatedField(
        UnitBriefSerializer,
        queryset=Unit.objects.all(),
        required=False,
        allow_null=True,
        help_text="The unit that suffered the losses: its id when writing, a brief object when reading.",
    )
    event = NestedRelatedField(
        EventBriefSerializer,
        queryset=Event.objects.all(),
        required=False,
        allow_null=True,
        help_text="The event the figure covers: its id when writing, a brief object when reading.",
    )
    citations = CitationSerializer(many=True, required=False, help_text="Sources for the claim, each with its role.")

    nested_fields = {"citations": ("citations", "casualty_report")}

    class Meta:
        model = CasualtyReport
        fields = (
            "id",
            "url",
            "country",
            "unit",
            "event",
            "category",
            "equipment_type",
            "equipment_name",
            "low",
            "best",
            "high",
            "kind",
            "as_of_date",
            "period_start",
            "horizon_date",
            "date_precision",
            "date_text",
            "credibility",
            "description",
            "citations",
            "status",
            "external_id",
            *TIMESTAMP_FIELDS,
        )

    def validate_citations(self, items):
        return self.validate_nested_ids("citations", items)


class ClaimLinkSerializer(ValidatedModelSerializer):
    source = NestedRelatedField(
        SourceBriefSerializer,
        queryset=Source.objects.all(),
        help_text="Who says the one claim bears on the other: its id when writing, a brief object when reading.",
    )

    class Meta:
        # As in citations, ``url`` is where the source said it.
        fields = (
            "id",
            "from_claim",
            "relation",
            "to_claim",
            "source",
            "title",
            "published_date",
            "accessed_date",
            "archive_url",
            "quote",
            *TIMESTAMP_FIELDS,
        )


class CasualtyReportLinkSerializer(ClaimLinkSerializer):
    class Meta(ClaimLinkSerializer.Meta):
        model = CasualtyReportLink


class EventLinkSerializer(ClaimLinkSerializer):
    class Meta(ClaimLinkSerializer.Meta):
        model = EventLink


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class HistoryEntrySerializer(serializers.Serializer):
    history_id = serializers.IntegerField(help_text="Id of this version.")
    date = serializers.DateTimeField(help_text="When the change was made.")
    user = serializers.CharField(allow_null=True, help_text="Username of who made it; null for scripts.")
    action = serializers.ChoiceField(choices=["created", "changed", "deleted"])
    record = serializers.CharField(help_text="What changed: this record, or one of its citations, units or links.")
    record_id = serializers.IntegerField()
    changes = FieldChangeSerializer(many=True, help_text="Fields with their old and new values.")


class DeletionSerializer(serializers.Serializer):
    resource = serializers.CharField(help_text="The list the record was in, e.g. “events”.")
    id = serializers.IntegerField(help_text="Id of the deleted record.")
    deleted_at = serializers.DateTimeField(help_text="When it was deleted.")
