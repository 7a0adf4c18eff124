"""Schemathesis fuzzes every operation of our own OpenAPI schema.

Each operation gets a bounded number of generated requests, sent with a curator's token so
that writes get past authentication. Every answer must be free of server errors and match
the schema: a documented status code, a documented content type and a body of the
documented shape.
"""

import pytest
import schemathesis
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from .conftest import client_for

EXAMPLES_PER_OPERATION = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

application = get_wsgi_application()
# The coverage phase tries every boundary of every parameter, thousands of requests for the
# filter-rich lists; the bounded fuzzing phase keeps the suite's time in check.
config = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}}})
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=config)


@pytest.fixture
def token(curator):
    call_command("loaddata", "seed", verbosity=0)
    return client_for(curator)._credentials["HTTP_AUTHORIZATION"]


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_conforms_to_the_schema(case, token):
    response = case.call(headers={"Authorization": token})
    case.validate_response(response, checks=CHECKS)
