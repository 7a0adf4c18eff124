from functools import cached_property, lru_cache

from django.urls import get_script_prefix, get_urlconf
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers
from rest_framework.reverse import reverse


class NestedRelatedField(serializers.PrimaryKeyRelatedField):
    """A foreign key written as the related object's id and read as a brief nested object.

    Clients send ``"source": 3`` and get back ``"source": {"id": 3, "name": ..., ...}``, so a
    list response needs no follow-up requests.
    """

    def __init__(self, nested_serializer, **kwargs):
        self.nested_serializer = nested_serializer
        super().__init__(**kwargs)

    def use_pk_only_optimization(self):
        return False

    @cached_property
    def _nested(self):
        # One serializer for every row: building its fields (country choices and all) per row
        # would cost more than the row itself.
        return self.nested_serializer(context=self.context)

    def to_representation(self, value):
        return self._nested.to_representation(value)

    def get_choices(self, cutoff=None):
        # The browsable API keys its <select> options by representation, which must be hashable.
        queryset = self.get_queryset()
        if queryset is None:
            return {}
        if cutoff is not None:
            queryset = queryset[:cutoff]
        return {item.pk: self.display_value(item) for item in queryset}


class RecordURLField(serializers.HyperlinkedIdentityField):
    """The record's address, reversed once per response and filled in with each row's id.

    ``reverse()`` walks the URL resolver; a page of events with their units and sources would
    call it hundreds of times.
    """

    PLACEHOLDER = 987654321987654321

    def get_url(self, obj, view_name, request, format):
        if obj.pk is None:
            return None
        templates = self.__dict__.setdefault("_templates", {})
        key = (view_name, format)
        if key not in templates:
            templates[key] = self.template(view_name, request, format)
        before, after = templates[key]
        return f"{before}/{obj.pk}/{after}"

    @classmethod
    def template(cls, view_name, request, format=None):
        """The address of any record of ``view_name`` as (before, after) its id."""
        before, after = _path_template(view_name, format, get_script_prefix(), get_urlconf())
        return (before if request is None else request.build_absolute_uri(before)), after


@lru_cache(maxsize=256)
def _path_template(view_name, format, script_prefix, urlconf):
    # Reversing walks the URL resolver; the path depends only on these arguments.
    path = reverse(view_name, kwargs={"pk": RecordURLField.PLACEHOLDER}, format=format, urlconf=urlconf)
    before, after = path.split(f"/{RecordURLField.PLACEHOLDER}/", 1)
    return before, after


class NestedRelatedFieldExtension(OpenApiSerializerFieldExtension):
    target_class = NestedRelatedField

    def map_serializer_field(self, auto_schema, direction):
        if direction == "request":
            return build_basic_type(OpenApiTypes.INT)
        return auto_schema.resolve_serializer(self.target.nested_serializer, direction).ref
