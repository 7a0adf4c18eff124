"""Schemathesis fuzzes every operation of our own OpenAPI schema.

Each operation gets a bounded number of generated requests, sent with a curator's token so
that writes get past authentication. Every answer must be free of server errors and match
the schema: a documented status code, a documented content type and a body of the
documented shape.
"""

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
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


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Calls go straight to the WSGI handler, which closes "old" connections around each request.

    Inside the test's transaction that would close the connection under the test (Django's
    test client disconnects the same handler); the database state must survive between calls.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


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
