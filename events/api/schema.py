"""OpenAPI generation: a schema that client generators and strict validators take as it is.

Every operation documents the errors it can answer with, the headers it sends and takes
(``ETag``, ``If-Match``, ``If-None-Match``, ``Location``, ``Link``, ``Retry-After``), who may
call it, and a summary; every parameter has a description; every field a response always
carries is required; enums shared by several fields and parameters are one component each,
with names for client code (``x-enum-varnames``).
"""

import copy
import inspect

from django.db.models import Choices
from django.utils.module_loading import import_string
from django_filters.filters import ModelChoiceFilter
from drf_spectacular.authentication import SessionScheme as BaseSessionScheme
from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.plumbing import ResolvedComponent, get_override
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import permissions, serializers

from ..filtersets import MAX_ID, article
from .fields import RecordURLField


class SessionScheme(BaseSessionScheme):
    """drf-spectacular's cookieAuth, for subclasses of DRF's session authentication too.

    The service authenticates with subclasses that pin recent writers to the primary database
    (osint/replicas.py); they are documented as the classes they extend. (The token scheme
    already matches subclasses.)
    """

    match_subclasses = True
    priority = 0


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
        "oneOf": [
            {"type": "array", "items": {"type": ["string", "object"], "additionalProperties": True}},
            {"type": "object", "additionalProperties": True},
            {"type": "string"},
        ]
    },
}
CONFLICT = {
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "What went wrong."},
        "referenced_by": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Records that still refer to the one to delete (up to 20), e.g. `citation 12`.",
        },
        "error": {"type": "string", "description": "The database's own message."},
    },
}

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

GEOJSON_FEATURE = {
    "type": "object",
    "description": "A GeoJSON Feature (RFC 7946): the record's columns as properties, a Point or null geometry.",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"type": "string", "const": "Feature"},
        "id": {"type": "integer"},
        "geometry": {
            "type": ["object", "null"],
            "required": ["type", "coordinates"],
            "properties": {
                "type": {"type": "string", "const": "Point"},
                "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
            },
        },
        "properties": {"type": "object", "additionalProperties": True},
    },
}
STIX_BUNDLE = {
    "type": "object",
    "description": "A STIX 2.1 bundle of one page; the next and previous pages are in the Link header.",
    "required": ["type", "id", "objects"],
    "properties": {
        "type": {"type": "string", "const": "bundle"},
        "id": {"type": "string"},
        "objects": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
    },
}
# Exports answer in their own formats; these describe them in place of the JSON shapes, as
# (component name, schema) for a list and for one record.
CSV_SCHEMA = {
    "type": "string",
    "description": (
        "CSV (UTF-8, LF line ends) with a header row and one row per record. A nested record is two columns, "
        "`<field>_id` and `<field>_name`; an inline list is `name (role)` items beside the ids of their sources "
        "or units (`citations_source_ids`, `units_ids`), both separated by `; `, with `;` and `%` in a name "
        "written `%3B` and `%25`. Times are UTC with microseconds: `2025-02-03T00:00:00.000000Z`."
    ),
}
EXPORT_SCHEMAS = {
    "text/csv": ((None, CSV_SCHEMA), (None, CSV_SCHEMA)),
    "application/geo+json": (
        (
            "GeoJSONFeatureCollection",
            {
                "type": "object",
                "description": (
                    "A GeoJSON FeatureCollection of every matching event (all pages unless `limit` is given)."
                ),
                "required": ["type", "features"],
                "properties": {
                    "type": {"type": "string", "const": "FeatureCollection"},
                    "features": {"type": "array", "items": {"$ref": "#/components/schemas/GeoJSONFeature"}},
                },
            },
        ),
        ("GeoJSONFeature", GEOJSON_FEATURE),
    ),
    "application/stix+json": (("STIXBundle", STIX_BUNDLE), ("STIXBundle", STIX_BUNDLE)),
    # Consensus charts (events/api/charts.py); a PNG is bytes, which no JSON schema describes.
    "image/svg+xml": ((None, {"type": "string", "description": "An SVG chart of the subjects on the page."}),) * 2,
    "image/png": ((None, None),) * 2,
}
POINT = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"type": "string", "const": "Point"},
        "coordinates": {
            "type": "array",
            "items": {"type": "number"},
            "minItems": 2,
            "maxItems": 2,
            "description": "Longitude, latitude (WGS 84).",
        },
    },
}
UNIT_POSITION_FEATURE = {
    "type": "object",
    "description": (
        "A unit's position as a GeoJSON Feature (RFC 7946): a Point, with the position's columns as properties "
        "(`unit_id`, `unit_name`, `date`, `date_precision`, `location_precision`, `strength`, `source_id`, "
        "`source_name`, `notes`, ...)."
    ),
    "required": ["type", "id", "geometry", "properties"],
    "properties": {
        "type": {"type": "string", "const": "Feature"},
        "id": {"type": "integer"},
        "geometry": POINT,
        "properties": {"type": "object", "additionalProperties": True},
    },
}
UNIT_TRACK_FEATURE = {
    "type": "object",
    "description": "A unit's track (with `lines=true`): a LineString through its positions in date order.",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"type": "string", "const": "Feature"},
        "geometry": {
            "type": "object",
            "required": ["type", "coordinates"],
            "properties": {
                "type": {"type": "string", "const": "LineString"},
                "coordinates": {"type": "array", "items": POINT["properties"]["coordinates"], "minItems": 2},
            },
        },
        "properties": {
            "type": "object",
            "required": ["unit_id", "unit_name", "first_date", "last_date", "positions"],
            "properties": {
                "unit_id": {"type": "integer"},
                "unit_name": {"type": "string"},
                "first_date": {"type": "string", "format": "date", "description": "The date of its first position."},
                "last_date": {"type": "string", "format": "date", "description": "The date of its last position."},
                "positions": {"type": "integer", "minimum": 2, "description": "The number of positions joined."},
            },
        },
    },
}
# Exports of one model whose shape is its own, in place of EXPORT_SCHEMAS': (media type, model label) -> the same.
MODEL_EXPORT_SCHEMAS = {
    ("application/geo+json", "events.UnitPosition"): (
        (
            "UnitPositionFeatureCollection",
            {
                "type": "object",
                "description": (
                    "A GeoJSON FeatureCollection of every matching position (all pages unless `limit` is given), "
                    "then, with `lines=true`, one track per unit."
                ),
                "required": ["type", "features"],
                "properties": {
                    "type": {"type": "string", "const": "FeatureCollection"},
                    "features": {
                        "type": "array",
                        "items": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/UnitPositionFeature"},
                                {"$ref": "#/components/schemas/UnitTrackFeature"},
                            ]
                        },
                    },
                },
            },
        ),
        ("UnitPositionFeature", UNIT_POSITION_FEATURE),
    ),
}
# The components an export's component refers to, registered with it.
REFERRED_COMPONENTS = {
    "GeoJSONFeatureCollection": [("GeoJSONFeature", GEOJSON_FEATURE)],
    "UnitPositionFeatureCollection": [
        ("UnitPositionFeature", UNIT_POSITION_FEATURE),
        ("UnitTrackFeature", UNIT_TRACK_FEATURE),
    ],
}
# The operations on one record, which take and send its ETag.
RECORD_ACTIONS = frozenset({"retrieve", "update", "partial_update", "destroy"})

SAFE_METHODS = frozenset(permissions.SAFE_METHODS)


def header(description, *, required=False, schema=None):
    return {"description": description, "required": required, "schema": schema or {"type": "string"}}


ETAG = header("The record's version; send it back in If-Match to write, or If-None-Match to read.", required=True)
RETRY_AFTER = header("Seconds to wait before retrying.", required=True, schema={"type": "integer", "minimum": 0})
LOCATION = header("The address of the record created.", required=True, schema={"type": "string", "format": "uri"})
LINK = header('Of a STIX page (format=stix): the next and previous pages, as `<url>; rel="next", <url>; rel="prev"`.')
CONTENT_DISPOSITION = header("Of an export (CSV, GeoJSON): the suggested file name.")
# Parameters whose values have a shape a type alone does not say.
PARAMETER_PATTERNS = {
    "bbox": r"^-?\d+(\.\d+)?(,-?\d+(\.\d+)?){3}$",
    "cursor": r"^[A-Za-z0-9_-]*$",
    "near": r"^-?\d+(\.\d+)?,-?\d+(\.\d+)?,\d+(\.\d+)?$",
}
SUMMARIES = {
    "list": "List {plural}",
    "create": "Create {a} {name}",
    "retrieve": "Read {a} {name}",
    "update": "Replace {a} {name}",
    "partial_update": "Update fields of {a} {name}",
    "destroy": "Delete {a} {name}",
    "history": "Edit history of {a} {name}",
}


class AutoSchema(BaseAutoSchema):
    """drf-spectacular's AutoSchema, plus the answers, headers and access rules of each operation."""

    def get_description(self):
        # The view's own docstring says what the resource is; the methods' docstrings behind it
        # (mixins, DRF's) are about the code. @extend_schema(description=...) still overrides this.
        return own_doc(type(self.view)) or ""

    def get_summary(self):
        summary = get_override(self.view, "summary", None)
        model = getattr(getattr(self.view, "queryset", None), "model", None)
        action = getattr(self.view, "action", None)
        if summary or model is None or action not in SUMMARIES:
            return summary
        name, plural = model._meta.verbose_name, model._meta.verbose_name_plural
        return SUMMARIES[action].format(a=article(name), name=name, plural=plural)

    def get_auth(self):
        """Writes need a token or a session. An operation anyone may call declares no security at
        all: ``[{}, token, session]`` would say the same, but client generators read any security
        requirement as "credentials required" and would demand a token to read."""
        open_to_anyone = any(
            isinstance(permission, permissions.AllowAny)
            or (
                isinstance(permission, permissions.DjangoModelPermissionsOrAnonReadOnly) and self.method in SAFE_METHODS
            )
            for permission in self.view.get_permissions()
        )
        return [] if open_to_anyone else super().get_auth()

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._is_record_operation():
            if self.method == "GET":
                parameters.append(
                    OpenApiParameter(
                        "If-None-Match",
                        OpenApiTypes.STR,
                        OpenApiParameter.HEADER,
                        description="ETags already held; the answer is 304 with no body if the record has one of them.",
                    )
                )
            elif self.method in WRITE_METHODS:
                parameters.append(
                    OpenApiParameter(
                        "If-Match",
                        OpenApiTypes.STR,
                        OpenApiParameter.HEADER,
                        description=(
                            "The ETag the change is based on; if the record changed since, the answer is 412 and "
                            "nothing is written. Optional, but without it a write may overwrite another's."
                        ),
                    )
                )
        return parameters

    def _get_filter_parameters(self):
        parameters = super()._get_filter_parameters()
        filterset_class = getattr(self.view, "filterset_class", None)
        filters = filterset_class.base_filters if filterset_class is not None else {}
        for parameter in parameters:
            filter_ = filters.get(parameter["name"])
            if filter_ is not None:
                if not parameter.get("description"):
                    parameter["description"] = str(filter_.extra.get("help_text") or filter_.label or "")
                for bound, keyword in (("minimum", "min_value"), ("maximum", "max_value")):
                    if filter_.extra.get(keyword) is not None:
                        parameter["schema"][bound] = filter_.extra[keyword]
                if isinstance(filter_, ModelChoiceFilter):  # a record's id
                    parameter["schema"].update(minimum=1, maximum=MAX_ID)
                if parameter["schema"].get("type") == "array":
                    parameter["schema"]["minItems"] = 1  # an empty list is a 400
            self._add_pattern(parameter)
        return parameters

    def _get_pagination_parameters(self):
        parameters = super()._get_pagination_parameters()
        for parameter in parameters:
            self._add_pattern(parameter)
        return parameters

    def _get_format_parameters(self):
        parameters = super()._get_format_parameters()
        for parameter in parameters:
            parameter["description"] = (
                "The response's format, in place of an Accept header: "
                + ", ".join(f"`{name}`" for name in parameter["schema"].get("enum", []))
                + "."
            )
        return parameters

    @staticmethod
    def _add_pattern(parameter):
        pattern = PARAMETER_PATTERNS.get(parameter["name"])
        if pattern:
            parameter["schema"]["pattern"] = pattern

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        for field in schema["properties"].values():
            # drf-spectacular writes a blank-able URL as oneOf [uri, empty string]; a validator
            # that does not assert formats finds an empty string matches both, which oneOf forbids.
            if any(option.get("maxLength") == 0 for option in field.get("oneOf", [])):
                field["anyOf"] = field.pop("oneOf")
        if direction == "response":
            # Every representation carries all its fields, null or empty when there is nothing to say.
            schema["required"] = sorted(
                name for name, field in schema["properties"].items() if not field.get("writeOnly")
            )
        # A component describes the resource, not the base classes behind its serializer.
        description = get_override(serializer, "description", None) or own_doc(type(serializer))
        model = getattr(getattr(serializer, "Meta", None), "model", None)
        description = description or (own_doc(model) if model is not None else None)
        if description:
            schema["description"] = description
        else:
            schema.pop("description", None)
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # A JSON value that may be null is any JSON value; "oneOf: [{}, null]" would match null twice.
        if isinstance(schema, dict) and {} in schema.get("oneOf", []):
            del schema["oneOf"]
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        model = getattr(getattr(self.view, "queryset", None), "model", None)
        for response in responses.values():
            for media_type, content in response.get("content", {}).items():
                exports = MODEL_EXPORT_SCHEMAS.get((media_type, model and model._meta.label)) or EXPORT_SCHEMAS.get(
                    media_type
                )
                if exports is not None:
                    list_schema, detail_schema = exports
                    schema = self._component(*(list_schema if self._is_list_view() else detail_schema))
                    if schema is None:
                        content.pop("schema", None)
                    else:
                        content["schema"] = schema
        for name, referred in REFERRED_COMPONENTS.items():
            if name in str(responses):
                for component in referred:
                    self._component(*component)
        error = self._error_ref()
        has_id = "{id}" in self.path
        errors = {
            "429": (error, "Too many requests; retry after the number of seconds in the Retry-After header."),
            "503": (error, "The database is unavailable; retry after the Retry-After header."),
            "406": (error, "None of the media types in the Accept header is offered here."),
            # Answered by the HTTP server (gunicorn's limit_request_line, 4094 bytes by default),
            # before the request reaches the service: its body is the server's own.
            "414": (None, "The URL is longer than the server accepts: send fewer or shorter query parameters."),
        }
        errors["400"] = (
            self._component("ValidationError", VALIDATION_ERRORS),
            "Bad input: an unknown or malformed parameter or field.",
        )
        errors["401"] = (
            error,
            "Not authenticated: send a valid token or log in."
            if self.method in WRITE_METHODS
            else "The credentials sent are not valid (reads need none).",
        )
        if has_id:
            errors["404"] = (error, "No record with this id.")
        if self.method == "GET" and self._is_record_operation():
            errors["304"] = (None, "Not modified: the record still has the ETag sent in If-None-Match.")
        if self.method in WRITE_METHODS:
            errors["403"] = (error, "The user lacks the model's permission.")
            errors["409"] = (
                self._component("Conflict", CONFLICT),
                "The database refused the change, e.g. a record still referenced.",
            )
            if self.method != "DELETE":
                errors["415"] = (error, "The body's Content-Type is not one the API reads: send application/json.")
            if has_id:
                errors["412"] = (error, "The record changed since the ETag sent in If-Match.")
        for code, (schema, description) in errors.items():
            response = {"description": description}
            if schema is not None:
                response["content"] = {"application/json": {"schema": schema}}
            responses.setdefault(code, response)
        for code, headers in self._response_headers().items():
            if code in responses:
                responses[code].setdefault("headers", {}).update(copy.deepcopy(headers))
        return responses

    def _response_headers(self):
        headers = {"429": {"Retry-After": RETRY_AFTER}, "503": {"Retry-After": RETRY_AFTER}}
        is_record = self._is_record_operation()
        if is_record and self.method in {"GET", "PUT", "PATCH"}:
            headers["200"] = {"ETag": ETAG}
        if is_record and self.method == "GET":
            headers["304"] = {"ETag": ETAG}
        if self.method == "POST" and self._is_record_view():
            headers["201"] = {"ETag": ETAG}
            serializer = self._get_serializer()
            if isinstance(getattr(serializer, "fields", {}).get("url"), RecordURLField):
                headers["201"]["Location"] = LOCATION
        if self.method == "GET" and self._is_list_view() and self._is_record_view():
            formats = set(self.map_renderers("format"))
            list_headers = {}
            if formats & {"csv", "geojson"}:
                list_headers["Content-Disposition"] = CONTENT_DISPOSITION
            if "stix" in formats:
                list_headers["Link"] = LINK
            headers["200"] = list_headers
        return headers

    def _is_record_operation(self):
        """A read or write of one record (not its history, nor a list under it such as a unit's track)."""
        return "{id}" in self.path and getattr(self.view, "action", None) in RECORD_ACTIONS

    def _is_record_view(self):
        return hasattr(self.view, "get_queryset") and getattr(self.view, "filterset_class", None) is not None

    def _component(self, name, schema):
        """A reference to the component ``name`` holding ``schema``; ``schema`` itself if unnamed."""
        if name is None:
            return copy.deepcopy(schema) if schema is not None else None
        # A copy: the post-processing hooks rewrite components in place, and the next schema
        # generation must start from the constants as written.
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, object=name, schema=copy.deepcopy(schema)
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _error_ref(self):
        component = self.resolve_serializer(ErrorSerializer, "response")
        assert isinstance(component, ResolvedComponent)
        return component.ref


def own_doc(cls):
    """The class's own docstring, not one it inherits, in Markdown (``code`` is `code` there)."""
    doc = cls.__dict__.get("__doc__")
    return inspect.cleandoc(doc).replace("``", "`") if doc else None


def postprocess_schema(result, generator, request, public):
    """Enums as one component each, named for client code, and operations linked for stateful clients.

    - A parameter taking a shared enum (countries, event types, ...) refers to its component
      instead of repeating its values.
    - ``x-enum-varnames`` gives each value the name of its member in ``events.choices``
      (``CONFIRMED`` for credibility 1), so generated clients do not call it ``VALUE_1``.
    - A field's description leaves out the list of 250 countries, which their component holds.
    - Each create answer links to the operations on the record it created (``id`` from the body),
      so clients and testers can follow them.
    - An operation anyone may call has ``security: []``: no requirement, stated rather than left out.
    """
    schemas = result.get("components", {}).get("schemas", {})
    enums = {name: schema for name, schema in schemas.items() if "enum" in schema}
    by_values = {}
    for name, schema in enums.items():
        by_values.setdefault(frozenset(schema["enum"]), name)
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            # Open to anyone, said outright: no requirement at all (see AutoSchema.get_auth).
            operation.setdefault("security", [])
            for parameter in operation.get("parameters", []):
                _refer_to_enum(parameter, by_values)
                _name_orderings(parameter)
    for name, schema in enums.items():
        names = _enum_varnames(name, schema["enum"])
        if names:
            schema["x-enum-varnames"] = names
    for schema in schemas.values():
        for field in schema.get("properties", {}).values():
            if "CountryEnum" in str(field.get("oneOf", field.get("allOf", field.get("$ref", "")))):
                field["description"] = field.get("description", "").partition("\n\n* `")[0]
    _link_created_records(result.get("paths", {}))
    return result


def _refer_to_enum(parameter, by_values):
    schema = parameter.get("schema", {})
    target = schema.get("items", schema) if schema.get("type") == "array" else schema
    name = by_values.get(frozenset(target.get("enum", ())))
    if name is None:
        return
    reference = {"$ref": f"#/components/schemas/{name}"}
    if target is schema:
        parameter["schema"] = reference
    else:
        schema["items"] = reference
    # The component lists the values and what they mean; the parameter says what it filters.
    parameter["description"] = parameter.get("description", "").partition("\n\n* `")[0]


def _name_orderings(parameter):
    """``-start_date`` is ``START_DATE_DESC`` in client code."""
    items = parameter.get("schema", {}).get("items", {})
    if parameter["name"] == "ordering" and "enum" in items:
        items["x-enum-varnames"] = [
            value.lstrip("-").upper() + ("_DESC" if value.startswith("-") else "") for value in items["enum"]
        ]


def _enum_varnames(name, values):
    if name == "BlankEnum":
        return ["BLANK"]
    if name == "NullEnum":
        return None
    override = spectacular_settings.ENUM_NAME_OVERRIDES.get(name)
    if not isinstance(override, str):
        return None
    choices = import_string(override)
    if not (isinstance(choices, type) and issubclass(choices, Choices)):
        return None  # countries: their codes are their names
    by_value = {member.value: member.name for member in choices}
    if all(value in by_value for value in values):
        return [by_value[value] for value in values]
    return None


def _link_created_records(paths):
    for path, path_item in paths.items():
        create = path_item.get("post", {})
        record_path = f"{path}{{id}}/"
        if "201" not in create.get("responses", {}) or record_path not in paths:
            continue
        links = {}
        for method, operation in paths[record_path].items():
            links[operation["operationId"]] = {
                "operationId": operation["operationId"],
                "parameters": {"id": "$response.body#/id"},
                "description": f"{operation.get('summary', method)}: the record just created.",
            }
        create["responses"]["201"]["links"] = links
