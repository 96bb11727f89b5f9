"""The `notification` callflow module with a template the account defined itself, through a real
FreeSWITCH: the template and the callflow made through the HTTP API, a SIPp caller on the DID,
Ben's SIPp phone answering, both emails (sent as the flow runs and once the call is gone)
delivered by the real mail sender to a real SMTP server."""

# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from controller import config
from controller.api.app import close_app, create_app
from controller.api.server import ApiServer
from controller.esl.server import OutboundServer
from controller.services import Services
from controller.store.bundle import load_bundle
from controller.store.tokens import Tokens
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    ACCOUNT_ID,
    ALICE,
    BEN,
    CALLER,
    DID,
    OFFICE,
    finish,
    mail,
    mailbox,
    node,
    office,
    settings,
)
from tests.freeswitch_harness import FreeSwitch, Sipp

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(60)]

TEMPLATES = (
    {"id": "vip_caller", "subject": "VIP call from {{ caller_id.name_number }}", "to": {"type": "original"},
     "plain": "{{ comments }}: {{ caller_id.number }}", "html": base64.b64encode(b"<b>{{ comments }}</b>").decode()},
    {"id": "after_call", "subject": "Call to {{ to.user }} is over",
     "plain": "Answered: {{ 'yes' if call.bridged else 'no' }}"},
)


@pytest.fixture
def api(services: Services) -> Iterator[tuple[str, str]]:
    """The office without callflows, and the HTTP API in this process with an admin token of it."""
    load_bundle(services.rds, {**OFFICE, "callflows": []}, "flows/office.json without its callflows")
    app = create_app(services)
    server = ApiServer(("127.0.0.1", 0), app, log=None)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", Tokens(services.rds).create(ACCOUNT_ID, admin=True)[0]
    finally:
        server.stop(timeout=2)
        close_app(app)


def put(api: tuple[str, str], path: str, data: dict[str, Any]) -> None:
    base, token = api
    reply = requests.put(f"{base}/v2/accounts/{ACCOUNT_ID}/{path}", json={"data": data},
                         headers={"X-Auth-Token": token}, timeout=30)
    assert reply.status_code == 201, reply.text


def test_a_notification_with_an_account_template_is_delivered_for_a_real_call(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path], api: tuple[str, str],
) -> None:
    for template in TEMPLATES:
        put(api, "notifications", template)
    after = node("notification", {"template_id": "after_call", "recipients": [{"type": "user", "id": BEN["id"]}]},
                 _=node("user", {"id": BEN["id"], "timeout": 20}))
    flow = node("notification", {"send_at": "callflow_exec", "template_id": "vip_caller", "comments": "VIP line",
                                 "recipients": [{"type": "user", "id": ALICE["id"]}]}, _=after)
    put(api, "callflows", {"id": "fs-notification", "numbers": [DID], "flow": flow})
    mark = fs.mark()
    phone = sipp.phone("1002", "uas_answer.xml", "-d", "500")
    caller = sipp.call(DID, "-d", "1500")
    finish(fs, caller, phone)
    assert "SIP/2.0 200 OK" in caller.received()
    messages = {str(m["Subject"]): m for m in mail(settings, mailbox[1])}
    assert set(messages) == {f"VIP call from SIPp ({CALLER})", f"Call to {DID} is over"}
    vip = messages[f"VIP call from SIPp ({CALLER})"]
    assert vip["To"] == ALICE["email"]
    plain, html = vip.get_body(("plain",)), vip.get_body(("html",))
    assert plain is not None and plain.get_content().strip() == f"VIP line: {CALLER}"
    assert html is not None and "<b>VIP line</b>" in html.get_content()
    over = messages[f"Call to {DID} is over"]
    body = over.get_body(("plain",))
    assert over["To"] == BEN["email"] and body is not None and body.get_content().strip() == "Answered: yes"
    assert fs.errors_since(mark) == []
