"""A person who opens the URL `controller run` prints is told what the API is and where to go;
an `Accept` the API cannot answer is 406, as the README says."""

from collections.abc import Iterator

import pytest

from controller.services import Services
from tests.api_world import Client, serve_api


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with serve_api(services) as client:
        yield client


@pytest.mark.parametrize("path", ["/", "/v2/", "/v2"])
def test_the_landing_answers_without_a_token_and_says_where_to_go(api: Client, path: str) -> None:
    response = api.call("GET", path, who=None)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["openapi"] == "/v2/openapi.json"
    assert "controller tokens create" in data["auth"] and "README" in data["docs"]
    assert api.call("GET", data["openapi"], who=None).status_code == 200


def test_a_browser_gets_the_landing_as_a_page(api: Client) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = api.call("GET", "/", who=None, headers={"Accept": browser})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert '<a href="/v2/openapi.json">' in response.text
    assert api.call("GET", "/", who=None, headers={"Accept": "*/*"}).json()["status"] == "success"


def test_a_request_without_a_token_is_told_how_to_get_one(api: Client) -> None:
    response = api.call("GET", "/v2/accounts", who=None)
    assert response.status_code == 401
    assert "controller tokens create" in response.json()["data"]["X-Auth-Token"]["required"]


def test_an_accept_the_api_cannot_answer_is_406(api: Client) -> None:
    refused = api.call("GET", "/v2/accounts", headers={"Accept": "image/png"})
    assert refused.status_code == 406 and refused.json()["error"] == "406"
    assert "application/json" in refused.json()["data"]["accept"]["enum"]
    assert api.call("GET", "/", who=None, headers={"Accept": "image/png"}).status_code == 406
    for accepted in ("application/json", "application/*", "*/*", "text/plain", "image/png, application/json;q=0.1"):
        assert api.call("GET", "/v2/accounts", headers={"Accept": accepted}).status_code == 200, accepted
