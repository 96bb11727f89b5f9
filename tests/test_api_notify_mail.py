"""What the notifications API changes reaches real email: a template changed through the API
shapes the next missed-call email of a simulated call, a preview is rendered (and sent only when
asked), customer_update reaches a reseller's customers, and each send is in the SMTP log the API
serves. The mail sender runs in burst mode into its outbox (.eml files)."""

import base64
import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import redis

from controller.esl.server import OutboundServer
from controller.lab.scenario import BridgeOutcome
from controller.notify.delivery import OutboxSender
from controller.notify.mailer import Mailer
from controller.notify.queue import JobQueue
from controller.services import Services
from controller.store import keys
from tests.api_world import Client, serve_api
from tests.office import call


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with serve_api(services) as client:
        yield client


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def deliver(rds: redis.Redis, outbox: Path) -> list[EmailMessage]:
    Mailer(rds, JobQueue(rds), OutboxSender(str(outbox)), name="api-test").run(burst=True)
    messages = []
    for path in sorted(outbox.glob("*.eml")):
        messages.append(email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
        path.unlink()
    return messages  # type: ignore[return-value]


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML bodies (without the line end MIME may add)."""
    text, html = (str(p.get_content()).rstrip("\n") for p in message.iter_parts())
    return text, html


def add_people(api: Client, aid: str, who: str = "reseller") -> None:
    people: list[dict[str, Any]] = [
        {"id": "ann", "first_name": "Ann", "email": f"ann@{aid}.test", "priv_level": "admin"},
        {"id": "bob", "first_name": "Bob", "email": f"bob@{aid}.test"},
        {"id": "nomail", "first_name": "No", "priv_level": "admin"},
    ]
    for person in people:
        api.ok("PUT", f"/v2/accounts/{aid}/users", who, json={"data": person})


def test_a_template_changed_through_the_api_shapes_the_next_missed_call_email(
    api: Client, esl_server: OutboundServer, rds: redis.Redis, tmp_path: Path
) -> None:
    add_people(api, "child")
    api.ok("PUT", "/v2/accounts/child/devices", json={"data": {"id": "d-bob", "owner_id": "bob",
                                                              "sip": {"username": "1002"}}})
    alert = {"module": "missed_call_alert", "data": {"recipients": [{"type": "user", "id": "ann"}]},
             "children": {"_": {"module": "user", "data": {"id": "bob", "timeout": 1}}}}
    api.ok("PUT", "/v2/accounts/child/callflows", json={"data": {"numbers": ["+15554441111"], "flow": alert}})
    api.ok("POST", "/v2/accounts/child/notifications/missed_call", json={"data": {
        "subject": "Child office missed {{ caller_id.number }}", "from": "pbx@child.test",
        "to": {"type": "original"}, "plain": "Call {{ call_id }} from {{ caller_id.name }}",
    }})
    record = call(esl_server, "+15554441111", account_id="child", caller_name="Carol", caller_number="+15557770000",
                  bridges=(BridgeOutcome("busy"),))
    [message] = deliver(rds, tmp_path)
    assert message["Subject"] == "Child office missed +15557770000" and message["From"] == "pbx@child.test"
    assert message["To"] == "ann@child.test"
    assert parts(message)[0] == f"Call {record.uuid} from Carol"
    [entry] = api.ok("GET", "/v2/accounts/child/notifications/smtplog")
    assert entry["template_id"] == "missed_call" and entry["template_account_id"] == "child"
    assert entry["emails"]["to"] == ["ann@child.test"] and entry["call_id"] == record.uuid
    assert api.ok("GET", f"/v2/accounts/child/notifications/smtplog/{entry['id']}")["subject"] == message["Subject"]
    assert api.call("GET", "/v2/accounts/child/notifications/smtplog/nope").status_code == 404
    assert api.call("GET", f"/v2/accounts/child/notifications/smtplog/{entry['id']}", "other").status_code == 403


def test_a_preview_renders_with_sample_values_and_sends_nothing_unless_asked(
    api: Client, rds: redis.Redis, tmp_path: Path
) -> None:
    add_people(api, "child")
    data = {"subject": "Hi {{ user.first_name }} from {{ account.name }}", "from": "pbx@child.test",
            "html": b64("<p>{{ caller_id.name }} &amp; {{ databag.field1 }}</p>"),
            "plain": "Call {{ caller_id.number }}"}
    shown = api.ok("POST", "/v2/accounts/child/notifications/missed_call/preview", json={"data": data})
    assert shown["subject"] == "Hi Ann from Child Office"
    assert shown["html"] == "<p>Sample Caller &amp; value1</p>" and shown["plain"] == "Call +15555550100"
    assert "sent" not in shown and rds.llen(keys.QUEUE_READY) == 0
    assert deliver(rds, tmp_path) == []
    assert api.ok("GET", "/v2/accounts/child/notifications/missed_call")["subject"].startswith("Missed call from")
    data["to"] = {"email_addresses": ["designer@example.com"]}
    sent = api.ok("POST", "/v2/accounts/child/notifications/missed_call/preview", json={"data": data})
    assert sent["sent"]["to"] == ["designer@example.com"]
    [message] = deliver(rds, tmp_path)
    assert message["To"] == "designer@example.com" and message["Subject"] == "Hi Ann from Child Office"
    assert parts(message)[1] == "<p>Sample Caller &amp; value1</p>"
    assert "preview" not in str([t["id"] for t in api.ok("GET", "/v2/accounts/child/notifications")])
    broken = api.call("POST", "/v2/accounts/child/notifications/missed_call/preview",
                      json={"data": {"plain": "{{ x.__class__ }}{% endfor %}"}})
    assert broken.status_code == 400 and "template" in broken.json()["data"]["text/plain"]
    read_only = api.call("POST", "/v2/accounts/child/notifications/missed_call/preview", "reseller_ro",
                         json={"data": data})
    assert read_only.status_code == 403 and rds.llen(keys.QUEUE_READY) == 0


def test_customer_update_reaches_the_admins_of_every_child_account(
    api: Client, rds: redis.Redis, tmp_path: Path
) -> None:
    for aid in ("reseller", "child", "grandchild", "other"):
        add_people(api, aid, "super")
    message = {"subject": "News for {{ account.name }}", "from": "news@reseller.test",
               "html": b64("<p>Dear {{ user.first_name }}: {{ databag.field2.subfield1 }}</p>"),
               "plain": "Dear {{ user.first_name }}: {{ databag.field2.subfield2 }}",
               "databag": {"field2": {"subfield1": "one", "subfield2": "two"}}}
    sent = api.call("POST", "/v2/accounts/reseller/notifications/customer_update/message", json={"data": message})
    assert sent.status_code == 202
    outcome = sent.json()["data"]["accounts"]
    assert set(outcome) == {"child", "grandchild"} and all(o["recipients"] == 1 for o in outcome.values())
    delivered = sorted(deliver(rds, tmp_path), key=lambda m: str(m["To"]))
    assert [m["To"] for m in delivered] == ["ann@child.test", "ann@grandchild.test"]
    assert [m["Subject"] for m in delivered] == ["News for Child Office", "News for Grandchild"]
    text, html = parts(delivered[0])
    assert text == "Dear Ann: two" and html == "<p>Dear Ann: one</p>"
    assert "customer_update-" not in str(api.ok("GET", "/v2/accounts/reseller/notifications"))


def test_customer_update_to_one_account_and_one_user_or_all_users(
    api: Client, rds: redis.Redis, tmp_path: Path
) -> None:
    add_people(api, "child")
    one = {"data": {"recipient_id": "child", "user_type": "bob"}}
    assert api.call("POST", "/v2/accounts/reseller/notifications/customer_update/message", json=one).status_code == 202
    everyone = {"data": {"recipient_id": "child", "user_type": "all_users"}}
    api.ok("POST", "/v2/accounts/reseller/notifications/customer_update/message", json=everyone)
    delivered = deliver(rds, tmp_path)
    assert sorted(str(m["To"]) for m in delivered) == ["ann@child.test", "bob@child.test", "bob@child.test"]
    assert {m["Subject"] for m in delivered} == {"News from Child Office"}  # the packaged customer_update
    greetings = sorted(parts(m)[0].splitlines()[0] for m in delivered)
    assert greetings == ["Hello Ann,", "Hello Bob,", "Hello Bob,"]


def test_customer_update_takes_an_uploaded_body_and_the_seeds_text_plain_json(
    api: Client, rds: redis.Redis, tmp_path: Path
) -> None:
    add_people(api, "child")
    path = "/v2/accounts/reseller/notifications/customer_update/message"
    uploaded = api.call("POST", path, data=b"<b>Maintenance tonight</b>", headers={"Content-Type": "text/html"})
    assert uploaded.status_code == 202
    as_text = api.call("POST", path, data=b'{"data": {"recipient_id": "child", "plain": "Plain news"}}',
                       headers={"Content-Type": "text/plain"})
    assert as_text.status_code == 202 and list(as_text.json()["data"]["accounts"]) == ["child"]
    delivered = deliver(rds, tmp_path)
    by_html = {parts(m)[1]: m for m in delivered}
    assert "<b>Maintenance tonight</b>" in by_html
    assert sorted(parts(m)[0] for m in delivered if "Maintenance" not in parts(m)[1]) == ["Plain news"]


def test_customer_update_refuses_bad_requests_and_foreign_accounts(api: Client, rds: redis.Redis) -> None:
    path = "/v2/accounts/reseller/notifications/customer_update/message"
    assert api.call("POST", path, json={"data": {"recipient_id": "other"}}).status_code == 403
    assert api.call("POST", path, json={"data": {"recipient_id": "nowhere"}}).status_code == 403
    assert api.call("POST", "/v2/accounts/reseller/notifications/customer_update/message", "child",
                    json={"data": {}}).status_code == 403
    assert api.call("POST", path, json={"data": {"user_type": "bob"}}).status_code == 400
    assert api.call("POST", path, json={"data": {"recipient_id": "child", "user_type": "ghost"}}).status_code == 400
    assert api.call("POST", path, json={"data": {"databag": [1]}}).status_code == 400
    unknown = api.call("POST", path, json={"data": {"colour": "red"}})
    assert unknown.status_code == 400 and "colour" in unknown.json()["data"]
    hostile = api.call("POST", path, json={"data": {"plain": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}})
    assert hostile.status_code == 400
    assert api.call("POST", path, "reseller_ro", json={"data": {}}).status_code == 403
    assert rds.llen(keys.QUEUE_READY) == 0
