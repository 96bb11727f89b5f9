"""Templates over their limits, and address fields that call data could shape, are refused when
written or previewed through the API: a 400 naming the field and the reason, answered at once,
nothing stored."""

import time
from collections.abc import Iterator

import pytest
import redis

from controller.services import Services
from controller.store import keys
from tests.api_world import Client, serve_api

BASE = "/v2/accounts/child/notifications/missed_call"
HOSTILE = {
    "{{ 3**(3*10**7) % 10 }}": "template over its limits: a power's bits over the template limit of 10000",
    "{{ 'a' * 10**8 }}": "template over its limits: a repeated sequence's length over the template limit of 524288",
    "{{ 3**(10**5) }}": "template over its limits: a power's bits over the template limit of 10000",
    "{{ 'a'|center(1000000000) }}": "template over its limits: the width argument over the template limit of 524288",
}


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with serve_api(services) as client:
        yield client


@pytest.mark.timeout(30)
@pytest.mark.parametrize("source", HOSTILE)
def test_a_template_over_its_limits_is_refused_at_save_and_preview_with_the_reason(
    api: Client, rds: redis.Redis, source: str
) -> None:
    for path in (BASE, BASE + "/preview"):
        started = time.monotonic()
        response = api.call("POST", path, json={"data": {"subject": "ok", "plain": source}})
        assert time.monotonic() - started < 2.0
        assert response.status_code == 400, response.text
        assert response.json()["data"] == {"text/plain": {"template": HOSTILE[source]}}
    assert not rds.exists(keys.template("child", "missed_call"))


@pytest.mark.parametrize(("field", "source", "problem"), [
    ("from", "{{ caller_id.name }} <alerts@child.test>",
     {"macros": "from may use the account and system macros only, not caller_id: "
                "no caller chooses who a mail is from or where replies go"}),
    ("reply_to", "{{ user.email }}",
     {"macros": "reply_to may use the account and system macros only, not user: "
                "no caller chooses who a mail is from or where replies go"}),
    ("reply_to", "help@child.test, x@evil.example",
     {"format": "renders to 'help@child.test, x@evil.example', not one email address"}),
    ("from", "{{ account.name }}", {"format": "renders to 'Child Office', not one email address"}),
])
def test_an_address_field_must_be_one_address_made_of_account_values(
    api: Client, rds: redis.Redis, field: str, source: str, problem: dict[str, str]
) -> None:
    response = api.call("POST", BASE, json={"data": {"subject": "ok", field: source}})
    assert response.status_code == 400 and response.json()["data"] == {field: problem}
    assert not rds.exists(keys.template("child", "missed_call"))


def test_account_values_make_a_from_with_a_display_name(api: Client) -> None:
    data = {"subject": "ok", "from": "{{ account.name }} <alerts@{{ account.realm }}>",
            "reply_to": "help@{{ account.realm }}"}
    shown = api.ok("POST", BASE + "/preview", json={"data": data})
    assert (shown["from"], shown["reply_to"]) == ("Child Office <alerts@child.test>", "help@child.test")
    assert api.ok("POST", BASE, json={"data": data})["from"] == data["from"]
