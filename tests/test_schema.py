"""The OpenAPI schema and the documentation pages, served with no internet access."""

import re
from http import HTTPStatus

import pytest
from django.core.management import call_command

from events.api.urls import router


def test_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == HTTPStatus.OK
    return response.json()


def test_schema_lists_every_resource_with_full_crud(schema):
    for prefix, _, _ in router.registry:
        assert set(schema["paths"][f"/api/{prefix}/"]) >= {"get", "post"}
        assert set(schema["paths"][f"/api/{prefix}/{{id}}/"]) >= {"get", "put", "patch", "delete"}


def resolve(schema, node):
    """``node``, or the component it refers to."""
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def test_every_filter_is_documented_with_a_type(schema):
    for prefix, viewset, _ in router.registry:
        documented = {p["name"]: p for p in schema["paths"][f"/api/{prefix}/"]["get"]["parameters"]}
        for name in viewset.filterset_class.base_filters:
            assert name in documented, f"{prefix}: filter {name} is missing from the schema"
            assert "type" in resolve(schema, documented[name]["schema"]), f"{prefix}: filter {name} has no type"
        assert {"limit", "offset", "q", "ordering"} <= set(documented)


def test_filter_types(schema):
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/events/"]["get"]["parameters"]}
    assert parameters["start_date__gte"] == {"type": "string", "format": "date"}
    assert parameters["unit"]["type"] == "integer"
    assert parameters["has_coordinates"]["type"] == "boolean"
    assert parameters["type__in"]["type"] == "array"
    assert "strike" in resolve(schema, parameters["type__in"]["items"])["enum"]
    assert parameters["limit"]["maximum"] == 1000


def test_schema_documents_fields_and_nested_sources(schema):
    components = schema["components"]["schemas"]
    report = components["CasualtyReport"]["properties"]
    assert "Admiralty" in report["credibility"]["description"]
    citation = components["Citation"]["properties"]
    assert citation["source"]["allOf"] == [{"$ref": "#/components/schemas/SourceBrief"}]
    assert components["CitationRequest"]["properties"]["source"]["type"] == "integer"


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_and_their_assets_are_served_locally(client, page):
    response = client.get(page)
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, "the page loads its scripts"
    for asset in assets:
        assert not asset.startswith(("http://", "https://", "//")), f"{asset} would need the internet"
        assert client.get(asset).status_code == HTTPStatus.OK, asset
