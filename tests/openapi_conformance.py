"""Every API response the test suite receives is checked against the OpenAPI schema.

The Django and DRF test clients both send their requests through ``Client.request``; wrapped,
each answer of an operation the schema documents is validated with openapi-core, strictly:
a status code, content type, header or body the schema does not describe fails the test that
received it, and so does a property the schema does not list. A schema that drifts from what
the server sends cannot pass the suite.
"""

import contextlib
import functools
import json
import threading

from django.test.client import Client
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from openapi_core import Config, OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound

# Pages about the API rather than of it.
UNDOCUMENTED = ("/api/schema/", "/api/docs/", "/api/redoc/")
# The browsable API's pages are for people and stay out of the schema.
BROWSABLE = "text/html"


def _text(body, **parameters):  # parameters of the media type: charset, version
    return body.decode(parameters.get("charset", "utf-8")) if isinstance(body, bytes) else body


def _json(body, **parameters):
    return json.loads(body)


# Media types whose bodies openapi-core does not parse by itself.
DESERIALIZERS = {
    "text/csv": _text,
    "application/geo+json": _json,
    "application/stix+json": _json,
    "image/svg+xml": _text,
    "image/png": lambda body, **parameters: body,  # the schema gives it no schema: bytes
}
_unchecked = threading.local()


class SchemaViolation(AssertionError):
    pass


@contextlib.contextmanager
def unchecked():
    """For a test that provokes what the schema rightly leaves out (a crash's 500)."""
    _unchecked.active = True
    try:
        yield
    finally:
        _unchecked.active = False


@functools.cache
def openapi() -> OpenAPI:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    spec = json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))
    config = Config(additional_properties_default_policy="forbid", extra_media_type_deserializers=DESERIALIZERS)
    return OpenAPI.from_dict(spec, config=config)


class Request(DjangoOpenAPIRequest):
    @property
    def path_pattern(self):
        # The route is a router's regex; the path is matched against the schema's templates.
        return None


def check(response):
    """Raise SchemaViolation if ``response`` (to a documented operation) breaks the schema."""
    request = response.wsgi_request
    if (
        getattr(_unchecked, "active", False)
        or not request.path.startswith("/api/")
        or request.path.startswith(UNDOCUMENTED)
        or response.get("Content-Type", "").startswith(BROWSABLE)
    ):
        return
    try:
        openapi().validate_response(Request(request), DjangoOpenAPIResponse(response))
    except (PathNotFound, OperationNotFound):
        return  # not an operation of the API (a 404 page, a 405): nothing to compare with
    except Exception as error:
        details = "; ".join(str(cause) for cause in _causes(error))
        raise SchemaViolation(
            f"{request.method} {request.get_full_path()} answered {response.status_code}, which the schema does not "
            f"describe: {error}{': ' + details if details else ''}\n{_body(response)}"
        ) from error


def _causes(error):
    for cause in getattr(error, "schema_errors", None) or []:
        yield f"{'/'.join(map(str, cause.absolute_path))}: {cause.message}"
    if error.__cause__ is not None and error.__cause__ is not error:
        yield from _causes(error.__cause__)


def _body(response):
    if response.streaming:
        return "(streamed)"
    return response.content[:2000].decode(errors="replace")


def validating(request):
    @functools.wraps(request)
    def request_and_check(self, **kwargs):
        response = request(self, **kwargs)
        check(response)
        return response

    return request_and_check


def install():
    """Wrap the test clients' request method once per process."""
    if not getattr(Client.request, "checks_openapi", False):
        Client.request = validating(Client.request)
        Client.request.checks_openapi = True
