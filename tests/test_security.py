"""Who may write, how hard clients may push, and how the service fails."""

import os
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest
from django.db import OperationalError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from events.api.views import EventViewSet

from . import openapi_conformance
from .factories import make_event

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[1]


def test_revoked_token_is_401(curator_api, curator):
    assert curator_api.post("/api/sources/", {"name": "a", "slug": "a", "kind": "media"}).status_code == 201
    Token.objects.filter(user=curator).delete()
    response = curator_api.post("/api/sources/", {"name": "b", "slug": "b", "kind": "media"})
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert "detail" in response.json()


def test_inactive_user_token_is_401(curator_api, curator):
    curator.is_active = False
    curator.save()
    assert curator_api.get("/api/sources/").status_code == HTTPStatus.UNAUTHORIZED


@pytest.fixture
def low_rates(monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "user": "5/minute"})


def test_anonymous_client_is_throttled_with_retry_after(api, low_rates):
    codes = [api.get("/api/sources/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = api.get("/api/sources/")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert 0 < int(response["Retry-After"]) <= 60
    assert "throttled" in response.json()["detail"].lower()


def test_users_have_their_own_higher_limit(api, curator_api, low_rates):
    for _ in range(3):
        api.get("/api/sources/")
    assert api.get("/api/sources/").status_code == HTTPStatus.TOO_MANY_REQUESTS
    codes = [curator_api.get("/api/sources/").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429], "an authenticated user is counted apart from anonymous clients"


def test_a_read_answered_again_from_the_primary_counts_once(api, low_rates, settings, monkeypatch):
    """A replica that fails mid-request: the view runs again on the primary, one request to the client."""
    from events.api.views import SourceViewSet
    from osint import replicas

    # Where settings.py puts it when replicas are configured.
    after = settings.MIDDLEWARE.index("osint.middleware.DatabaseUnavailableMiddleware") + 1
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:after],
        "osint.replicas.ReplicaRoutingMiddleware",
        *settings.MIDDLEWARE[after:],
    ]
    unhealthy = replicas.Health(False, 0.0, "unreachable: connection refused")
    monkeypatch.setattr(replicas, "pool", lambda: type("Pool", (), {"check": lambda self, alias: unhealthy})())
    monkeypatch.setattr(replicas, "used_replicas", lambda: {"replica1"})
    runs = []
    listing = SourceViewSet.list

    def replica_fails_first(view, request, *args, **kwargs):
        runs.append(request.path)
        if not getattr(request._request, "replica_retry", False):
            raise OperationalError("server closed the connection unexpectedly")
        return listing(view, request, *args, **kwargs)

    monkeypatch.setattr(SourceViewSet, "list", replica_fails_first)
    codes = [api.get("/api/sources/").status_code for _ in range(4)]
    assert len(runs) == 6  # each answered request ran twice; the refused one not at all
    assert codes == [200, 200, 200, 429], "the rate counts requests, not runs of the view"


def test_cors_for_configured_origins(api, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://dashboard.example.org"]
    response = api.get("/api/events/", HTTP_ORIGIN="https://dashboard.example.org")
    assert response["Access-Control-Allow-Origin"] == "https://dashboard.example.org"
    assert "ETag" in response["Access-Control-Expose-Headers"]
    preflight = api.options(
        "/api/events/1/",
        HTTP_ORIGIN="https://dashboard.example.org",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, if-match, content-type",
    )
    assert preflight.status_code == HTTPStatus.OK
    assert "if-match" in preflight["Access-Control-Allow-Headers"]
    other = api.get("/api/events/", HTTP_ORIGIN="https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in other


def test_database_outage_is_a_clean_503(api, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")

    monkeypatch.setattr(EventViewSet, "list", unreachable)
    response = api.get("/api/events/")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"]
    assert "5432" not in response.content.decode(), "no internals leak"


def test_crash_is_a_json_500_without_a_traceback(monkeypatch):
    event = make_event()

    def crash(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(EventViewSet, "retrieve", crash)
    client = APIClient(raise_request_exception=False)
    with openapi_conformance.unchecked():  # a 500 is a bug, and the schema promises none
        response = client.get(f"/api/events/{event.pk}/")
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert response.json() == {"error": "Server Error (500)"}
    assert "secret internals" not in response.content.decode()


def manage(*args, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {
    "DJANGO_PRODUCTION": "1",
    "DJANGO_SECRET_KEY": "k" * 20 + "-a-long-random-production-secret-key-for-the-test-only-0123456789",
    "DJANGO_ALLOWED_HOSTS": "api.example.org",
}


def test_production_configuration_passes_the_deploy_check():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_secrets_and_hosts(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = manage("check", **env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_debug_is_off_unless_asked():
    result = manage("shell", "-c", "from django.conf import settings; print(settings.DEBUG)")
    assert result.stdout.strip().splitlines()[-1] == "False"
    result = manage("shell", "-c", "from django.conf import settings; print(settings.DEBUG)", DJANGO_DEBUG="1")
    assert result.stdout.strip().splitlines()[-1] == "True"


def test_admin_is_for_staff_only(client, curator):
    client.force_login(curator)
    response = client.get("/admin/events/event/")
    assert response.status_code == HTTPStatus.FOUND
    assert "/admin/login/" in response["Location"]


def test_unknown_api_address_is_a_json_404(api, client):
    response = api.get("/api/no-such-list/")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {"detail": "Not found."}
    page = client.get("/no-such-page/")
    assert page.status_code == HTTPStatus.NOT_FOUND
    assert page["Content-Type"].startswith("text/html"), "people get a page"
