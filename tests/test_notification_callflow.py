"""The seeds' main case end to end, as an operator does it: an account, its user and phone, a
template of the account's own and a callflow with `notification` nodes, all made through the HTTP
API of a running `controller run`; a call placed by `controller lab call`; the emails read from a
real SMTP server."""

import base64
import json
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.controller_run import Run, controller, end_leftovers, environment, wait_until
from tests.mailserver import delivered, running_smtp

pytestmark = pytest.mark.timeout(120)

NUMBER = "+15554442222"
VIP_TEMPLATE = {
    "id": "vip_caller", "friendly_name": "VIP caller", "category": "callflow",
    "subject": "VIP call from {{ caller_id.name_number }}",
    "to": {"type": "original"}, "cc": {"type": "specified", "email_addresses": ["desk@office.test"]},
    "template_charset": "utf-8",
    "plain": "{{ comments }}: {{ caller_id.number }} called {{ to.user }} ({{ account.name }})",
    "html": base64.b64encode(b"<p>{{ comments }}</p>").decode(),
}
AFTER_TEMPLATE = {
    "id": "after_call", "subject": "Call {{ call_id }} is over",
    "plain": "Answered: {{ 'yes' if call.bridged else 'no' }}",
}


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token

    def put(self, path: str, data: dict[str, Any]) -> dict[str, Any]:
        reply = requests.put(self.base + path, json={"data": data}, headers={"X-Auth-Token": self.token}, timeout=30)
        assert reply.status_code == 201, (path, reply.status_code, reply.text)
        return dict(reply.json()["data"])


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    yield from running_smtp(tmp_path)


@pytest.fixture
def running(tmp_path: Path, mailbox: tuple[int, Path]) -> Iterator[tuple[Run, dict[str, str]]]:
    """`controller run` in a folder of its own (the SMTP server is not one of its processes)."""
    folder = tmp_path / "run"
    folder.mkdir()
    env = environment(folder)
    env["CONTROLLER_SMTP_URL"] = f"smtp://127.0.0.1:{mailbox[0]}"
    run = Run(env, folder, folder / "run.log").start()
    yield run, env
    run.close()
    assert not end_leftovers(folder)


def operator_api(run: Run, env: dict[str, str], folder: Path) -> Api:
    """A super admin token on a provider's root account: the one account `flows load` makes;
    everything else goes through the API."""
    (folder / "root.json").write_text(json.dumps({"account": {"id": "provider", "name": "Provider",
                                                              "realm": "provider.test"}}))
    assert controller("flows", "load", "root.json", env=env, cwd=folder).returncode == 0
    made = controller("tokens", "create", "--account", "provider", "--super", env=env, cwd=folder)
    assert made.returncode == 0, made.stderr
    return Api(run.api, made.stdout.strip())


def mail_to(maildir: Path, count: int) -> list[EmailMessage]:
    return list(wait_until(lambda: len(found := delivered(maildir)) >= count and found, 30, f"{count} emails"))


def test_a_notification_node_with_an_account_template_set_up_through_the_api_sends_its_email(
    running: tuple[Run, dict[str, str]], mailbox: tuple[int, Path]
) -> None:
    run, env = running
    api = operator_api(run, env, run.cwd)
    account = api.put("/v2/accounts", {"name": "Office", "realm": "office.test", "timezone": "UTC"})
    aid = account["id"]
    ann = api.put(f"/v2/accounts/{aid}/users", {"first_name": "Ann", "last_name": "Lee", "email": "ann@office.test"})
    api.put(f"/v2/accounts/{aid}/devices", {"name": "Ann's phone", "owner_id": ann["id"], "sip": {"username": "1001"}})
    assert api.put(f"/v2/accounts/{aid}/notifications", VIP_TEMPLATE)["account_defined"] is True
    api.put(f"/v2/accounts/{aid}/notifications", AFTER_TEMPLATE)
    after = {"module": "notification", "data": {"template_id": "after_call", "recipients": [
        {"type": "email", "id": "boss@office.test"}]}, "children": {}}
    ring = {"module": "user", "data": {"id": ann["id"], "timeout": 20}, "children": {}}
    flow = {"module": "notification", "data": {
        "send_at": "callflow_exec", "template_id": "vip_caller", "comments": "A VIP is calling",
        "recipients": [{"type": "user", "id": ann["id"]}]}, "children": {"_": {**after, "children": {"_": ring}}}}
    api.put(f"/v2/accounts/{aid}/callflows", {"name": "Main", "numbers": [NUMBER], "flow": flow})

    placed = controller("lab", "call", "--to", NUMBER, "--from", "+15557770000", "--name", "Vera Important",
                        "--scenario", "answered", "--time-scale", "0.01", "--account", aid, env=env, cwd=run.cwd)
    assert placed.returncode == 0, placed.stdout + placed.stderr
    assert re.search(r"^  answered +1$", placed.stdout, re.M), placed.stdout

    messages = {str(m["Subject"]): m for m in mail_to(mailbox[1], 2)}
    vip = messages["VIP call from Vera Important (+15557770000)"]
    assert vip["To"] == "ann@office.test" and vip["Cc"] == "desk@office.test"
    plain, html = vip.get_body(("plain",)), vip.get_body(("html",))
    assert plain is not None and plain.get_content().strip() == \
        f"A VIP is calling: +15557770000 called {NUMBER} (Office)"
    assert html is not None and "<p>A VIP is calling</p>" in html.get_content()
    [over] = [m for subject, m in messages.items() if subject.startswith("Call ")]
    assert over["To"] == "boss@office.test"
    body = over.get_body(("plain",))
    assert body is not None and body.get_content().strip() == "Answered: yes"  # sent once the channel was gone
    log = requests.get(f"{run.api}/v2/accounts/{aid}/notifications/smtplog",
                       headers={"X-Auth-Token": api.token}, timeout=10).json()["data"]
    assert sorted(entry["template_id"] for entry in log) == ["after_call", "vip_caller"]
