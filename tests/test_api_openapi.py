"""The OpenAPI document is served without a token and stays true: every route and method of the
app is in it, nothing else is, and its references and parameters hold together."""

import re
from collections.abc import Iterator
from typing import Any

import pytest

from controller.api.app import create_app
from controller.api.auth import API_AUTH, PUBLIC, USER_AUTH
from controller.services import Services
from tests.api_world import Client, serve_api

METHODS = {"GET", "PUT", "POST", "PATCH", "DELETE"}
LOGINS = (USER_AUTH, API_AUTH)


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with serve_api(services) as client:
        yield client


def app_routes(services: Services) -> set[tuple[str, str]]:
    app = create_app(services)
    return {(re.sub(r"<[^>]+>", "{}", rule.rule), method.lower())
            for rule in app.url_map.iter_rules() for method in (rule.methods or set()) & METHODS}


def document_routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(re.sub(r"{[^}]+}", "{}", path), method) for path, ops in doc["paths"].items() for method in ops}


def test_the_document_is_served_without_a_token(api: Client) -> None:
    response = api.call("GET", "/v2/openapi.json", who=None)
    assert response.status_code == 200 and response.json()["openapi"] == "3.1.0"


def test_every_route_of_the_app_is_in_the_document_and_nothing_else(api: Client, services: Services) -> None:
    doc = api.call("GET", "/v2/openapi.json", who=None).json()
    routes = app_routes(services)
    assert len(routes) > 50
    assert routes - document_routes(doc) == set(), "routes missing from the OpenAPI document"
    assert document_routes(doc) - routes == set(), "documented operations the app does not serve"


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def test_operations_declare_their_parameters_and_references_resolve(api: Client) -> None:
    doc = api.call("GET", "/v2/openapi.json", who=None).json()
    ids = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            ids.append(op["operationId"])
            declared = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), (path, method)
            assert op["responses"] and all(code.isdigit() for code in op["responses"])
            if path not in PUBLIC:
                assert {"401", "403"} <= set(op["responses"]), (path, method)
            else:
                assert op["security"] == [], path
    assert len(ids) == len(set(ids))
    schemas = doc["components"]["schemas"]
    for ref in set(refs(doc["paths"])) | set(refs(schemas)):
        if ref.startswith("#/components/schemas/"):
            assert ref.removeprefix("#/components/schemas/") in schemas, ref
    assert schemas["User"]["$id"] == "user.json" and schemas["Notification"]["additionalProperties"] is False


def test_every_route_but_the_document_and_the_landing_refuses_a_request_without_a_valid_token(
    api: Client, services: Services
) -> None:
    for path, method in sorted(app_routes(services)):
        url = path.replace("{}", "child")
        for who in (None, "forged-token"):
            response = api.call(method.upper(), url, who=who, json={"data": {}})
            expected = (400 if path in LOGINS else 200) if path in PUBLIC else 401  # a login needs credentials
            assert response.status_code == expected, (method, path, who)
