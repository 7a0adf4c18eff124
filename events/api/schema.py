"""OpenAPI generation: every operation documents the errors it can answer with."""

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong.")


VALIDATION_ERRORS = {
    "type": "object",
    "description": (
        "Each key names a field or query parameter (or `non_field_errors`); its value lists what is wrong "
        "with it, or, for an inline list, the errors of each item by its index. A body that cannot be "
        "parsed at all gets `detail` instead."
    ),
    "additionalProperties": {
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}, {"type": "string"}]
    },
}

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

GEOJSON_FEATURE = {
    "type": "object",
    "description": "A GeoJSON Feature (RFC 7946): the record's columns as properties, a Point or null geometry.",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": {"type": "integer"},
        "geometry": {
            "type": "object",
            "nullable": True,
            "required": ["type", "coordinates"],
            "properties": {
                "type": {"type": "string", "enum": ["Point"]},
                "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
            },
        },
        "properties": {"type": "object"},
    },
}
# Exports answer in their own formats; these describe them in place of the JSON shapes.
EXPORT_SCHEMAS = {
    "text/csv": (
        {"type": "string", "description": "CSV with a header row; one row per record, nested lists joined by `; `."},
    )
    * 2,
    "application/geo+json": (
        {
            "type": "object",
            "description": "A GeoJSON FeatureCollection of every matching event (all pages unless `limit` is given).",
            "required": ["type", "features"],
            "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "features": {"type": "array", "items": GEOJSON_FEATURE},
            },
        },
        GEOJSON_FEATURE,
    ),
    "application/stix+json": (
        {
            "type": "object",
            "description": "A STIX 2.1 bundle of one page; the next and previous pages are in the Link header.",
            "required": ["type", "id", "objects"],
            "properties": {
                "type": {"type": "string", "enum": ["bundle"]},
                "id": {"type": "string"},
                "objects": {"type": "array", "items": {"type": "object"}},
            },
        },
    )
    * 2,
}


class AutoSchema(BaseAutoSchema):
    """drf-spectacular's AutoSchema, plus the 4xx and 503 answers of each operation."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for response in responses.values():
            for media_type, content in response.get("content", {}).items():
                if media_type in EXPORT_SCHEMAS:
                    list_schema, detail_schema = EXPORT_SCHEMAS[media_type]
                    content["schema"] = list_schema if self._is_list_view() else detail_schema
        error = self._error_ref()
        has_id = "{id}" in self.path
        errors = {
            "429": (error, "Too many requests; retry after the number of seconds in the Retry-After header."),
            "503": (error, "The database is unavailable; retry after the Retry-After header."),
            "406": (error, "None of the media types in the Accept header is offered here."),
        }
        errors["400"] = (VALIDATION_ERRORS, "Bad input: an unknown or malformed parameter or field.")
        if has_id:
            errors["404"] = (error, "No record with this id.")
        if self.method == "GET" and has_id and not self.path.endswith("/history/"):
            errors["304"] = (None, "Not modified: the record still has the ETag sent in If-None-Match.")
        if self.method in WRITE_METHODS:
            errors["401"] = (error, "Not authenticated: send a valid token or log in.")
            errors["403"] = (error, "The user lacks the model's permission.")
            errors["409"] = (error, "The database refused the change, e.g. a record still referenced.")
            if self.method != "DELETE":
                errors["415"] = (error, "The body's Content-Type is not JSON, a form or multipart, or is malformed.")
            if has_id:
                errors["412"] = (error, "The record changed since the ETag sent in If-Match.")
        for code, (schema, description) in errors.items():
            response = {"description": description}
            if schema is not None:
                response["content"] = {"application/json": {"schema": schema}}
            responses.setdefault(code, response)
        return responses

    def _error_ref(self):
        component = self.resolve_serializer(ErrorSerializer, "response")
        assert isinstance(component, ResolvedComponent)
        return component.ref
