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
        "with it, or, for an inline list, the errors of each item by its index."
    ),
    "additionalProperties": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}]},
}

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class AutoSchema(BaseAutoSchema):
    """drf-spectacular's AutoSchema, plus the 4xx and 503 answers of each operation."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        error = self._error_ref()
        has_id = "{id}" in self.path
        errors = {
            "429": (error, "Too many requests; retry after the number of seconds in the Retry-After header."),
            "503": (error, "The database is unavailable; retry after the Retry-After header."),
            "406": (error, "None of the media types in the Accept header is offered here."),
        }
        if self.method != "DELETE":
            errors["400"] = (VALIDATION_ERRORS, "Bad input: an unknown or malformed parameter or field.")
        if has_id:
            errors["404"] = (error, "No record with this id.")
        if self.method == "GET" and has_id and not self.path.endswith("/history/"):
            errors["304"] = (None, "Not modified: the record still has the ETag sent in If-None-Match.")
        if self.method in WRITE_METHODS:
            errors["401"] = (error, "Not authenticated: send a valid token or log in.")
            errors["403"] = (error, "The user lacks the model's permission.")
            errors["409"] = (error, "The database refused the change, e.g. a record still referenced.")
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
