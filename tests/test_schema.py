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


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_operation_has_a_summary_and_every_parameter_a_description(schema):
    for path, method, operation in operations(schema):
        assert operation.get("summary"), f"{method} {path} has no summary"
        for parameter in operation.get("parameters", []):
            assert parameter.get("description"), f"{method} {path}: {parameter['name']} has no description"


def test_shaped_parameters_say_their_shape(schema):
    events = {p["name"]: p["schema"] for p in schema["paths"]["/api/events/"]["get"]["parameters"]}
    assert re.fullmatch(events["bbox"]["pattern"], "34,50.5,-39,53")
    assert not re.fullmatch(events["bbox"]["pattern"], "34,50,39")
    assert re.fullmatch(events["cursor"]["pattern"], "MTIz")
    assert re.fullmatch(events["near"]["pattern"], "51.73,-36.19,100")
    assert not re.fullmatch(events["near"]["pattern"], "51.73,36.19")
    assert events["date_from"] == events["date_to"] == {"type": "string", "format": "date"}
    assert events["modified_since"]["format"] == "date-time"


def test_request_bodies_are_json_only(schema):
    for path, method, operation in operations(schema):
        if "requestBody" in operation:
            assert list(operation["requestBody"]["content"]) == ["application/json"], f"{method} {path}"


def test_reads_are_open_and_writes_need_a_token_or_a_session(schema):
    for path, method, operation in operations(schema):
        if method == "get" or path == "/api/auth/token/":
            assert operation["security"] == [], f"{method} {path}"
        else:
            assert operation["security"] == [{"tokenAuth": []}, {"cookieAuth": []}], f"{method} {path}"


def test_fields_always_sent_are_required_in_responses(schema):
    components = schema["components"]["schemas"]
    for name in ("Event", "CasualtyReport", "Source", "Unit", "Citation", "EventUnit", "CasualtyReportLink"):
        assert set(components[name]["required"]) == set(components[name]["properties"]), name
    report = components["CasualtyReport"]["properties"]
    assert report["unit"]["oneOf"] == [{"$ref": "#/components/schemas/UnitBrief"}, {"type": "null"}]
    assert report["low"]["type"] == ["integer", "null"]
    # Requests leave out what has a default.
    assert "low" not in components["CasualtyReportRequest"].get("required", [])


def test_conditional_and_retry_headers_are_documented(schema):
    detail = schema["paths"]["/api/events/{id}/"]
    assert "ETag" in detail["get"]["responses"]["200"]["headers"]
    assert "ETag" in detail["get"]["responses"]["304"]["headers"]
    assert "If-None-Match" in {p["name"] for p in detail["get"]["parameters"] if p["in"] == "header"}
    for method in ("put", "patch", "delete"):
        assert "If-Match" in {p["name"] for p in detail[method]["parameters"] if p["in"] == "header"}
        assert "412" in detail[method]["responses"]
    created = schema["paths"]["/api/events/"]["post"]["responses"]["201"]
    assert {"ETag", "Location"} <= set(created["headers"])
    assert set(created["links"]) >= {"events_retrieve", "events_partial_update", "events_destroy"}
    assert "Link" in schema["paths"]["/api/events/"]["get"]["responses"]["200"]["headers"]
    for path, method, operation in operations(schema):
        for code in ("429", "503"):
            assert "Retry-After" in operation["responses"][code]["headers"], f"{method} {path} {code}"


def test_shared_enums_are_one_named_component(schema):
    components = schema["components"]["schemas"]
    assert str(schema).count("Afghanistan") == 1  # the 250 countries are listed once, in their component
    events = {p["name"]: p["schema"] for p in schema["paths"]["/api/events/"]["get"]["parameters"]}
    assert events["country"] == {"$ref": "#/components/schemas/CountryEnum"}
    assert components["CredibilityEnum"]["x-enum-varnames"][0] == "CONFIRMED"
    ordering = events["ordering"]["items"]
    assert dict(zip(ordering["enum"], ordering["x-enum-varnames"], strict=True))["-start_date"] == "START_DATE_DESC"


def test_no_internal_docstring_describes_anything(schema):
    text = str(schema)
    for phrase in ("clean()", "records()", "Runs the model", "the view reads", "``"):
        assert phrase not in text, phrase
    assert schema["components"]["schemas"]["Source"]["description"].startswith("Who originates")
