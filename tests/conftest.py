import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from . import openapi_conformance

# Every API response a test receives is checked against the schema (see openapi_conformance).
openapi_conformance.install()


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttling counts requests in the cache; every test starts with none counted."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api():
    """An anonymous API client."""
    return APIClient()


def client_for(user):
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def curator(db):
    """A user holding every add/change/delete/view permission of the events app."""
    user = User.objects.create_user("curator", password="curator-password-1")
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="events"))
    return user


@pytest.fixture
def curator_api(curator):
    """An API client authenticated by token as ``curator``."""
    return client_for(curator)


@pytest.fixture
def reader_api(db):
    """An API client authenticated by token as a user with no model permissions."""
    return client_for(User.objects.create_user("reader", password="reader-password-1"))


@pytest.fixture
def staff_client(client, db):
    """A Django test client logged into the admin as a superuser."""
    admin = User.objects.create_superuser("admin", "admin@example.com", "admin-password-1")
    client.force_login(admin)
    return client
