"""Text from outside reaching a real FreeSWITCH runs nothing there.

Each payload calls FreeSWITCH's `system` API on a script of the test's folder that creates a
file when run (its path has no space, so it also fits in a SIP URI). FreeSWITCH expands `${...}`
in every application argument (twice in `set`/`multiset`), its expander drops the escape `\\'`
after a `$`, and a dial string starts with `{...}` channel variables: each form is tried as the
caller ID name a caller sends, and as callflow text that a module puts on the channel. A
control test shows that the payload does run when FreeSWITCH expands it.
"""
# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

import html
import itertools
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from controller import config
from controller.errors import DocumentError
from controller.esl.server import OutboundServer
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    ALERT_ALICE,
    ALICE,
    BEN,
    CALLER,
    DID,
    executed,
    finish,
    mail,
    mailbox,
    main_number,
    node,
    office,
    settings,
)
from tests.freeswitch_harness import FreeSwitch, Sipp

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(40)]

# {S} is the path of a script that leaves a file behind when it runs.
FORMS = {
    "dollar-brace": "${system({S})}",
    "double-dollar": "$${system({S})}",
    "escaped-quote": "$\\'{system({S})}",
    "escaped-brace": "$\\{system({S})}",
    "percent-brace": "%{system({S})}",
    "backslashes": "\\\\${system({S})}",
    "quotes": "'${system({S})}'",
    "channel-variables": "{api_on_answer=system {S}}Bob",
    "newline": "Bob%0A${system({S})}",
}


# FreeSWITCH's own guard, at CRIT, when sofia stores the raw From of such a caller (the
# controller plays no part): switch_channel_set_variable_var_check refuses a `${` value.
FREESWITCH_GUARD = re.compile(r"Invalid data \(\$\{sip_(from_display|full_from)\} contains a variable\)")


class Payloads:
    """Scripts that each create a marker file when run, and the text that would run them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = itertools.count(1)

    def make(self, form: str) -> str:
        n = next(self.count)
        script = self.folder / f"pwn-{n}"
        script.write_text(f"#!/bin/sh\ntouch {self.folder}/pwned-{n}\n")
        script.chmod(0o755)
        return form.replace("{S}", str(script))

    def ran(self) -> list[str]:
        return sorted(path.name for path in self.folder.glob("pwned-*"))


@pytest.fixture
def payloads() -> Iterator[Payloads]:
    """In a short folder of its own: a payload is as long as its path, and schemas bound the
    fields it goes into (a caller ID number is at most 35 characters); flite spells it out."""
    folder = Path(tempfile.mkdtemp(prefix="pw", dir="/tmp"))
    yield Payloads(folder)
    shutil.rmtree(folder, ignore_errors=True)


def test_control_the_payload_runs_when_freeswitch_expands_it(fs: FreeSwitch, payloads: Payloads) -> None:
    fs.api("eval " + payloads.make(FORMS["dollar-brace"]), check=False)  # (system's output is empty: "no reply")
    assert payloads.ran() == ["pwned-1"]


def as_freeswitch_passes_it_on(name: str) -> str:
    """A caller ID name as sofia hands it on, whitespace collapsed: it rewrites `${` (after an
    optional backslash) as `%{` itself, and decodes `%0A` to a line break."""
    return " ".join(re.sub(r"\$(\\?)\{", r"%\1{", name).replace("%0A", "\n").split())


def every_module(end: dict[str, Any]) -> dict[str, Any]:
    """missed_call_alert, then each module that sets or plays something on the channel, then `end`."""
    chain = [
        ("prepend_cid", {"caller_id_name_prefix": "Sales "}),
        ("set_variables", {"custom_channel_vars": {"department": "sales"}}),
        ("record_call", {"action": "start", "format": "wav", "media_name": "injection-{call_id}.wav"}),
        ("tts", {"text": "Hello."}),
        ("say", {"text": "42", "say_type": "number"}),
    ]
    flow = end
    for module, data in reversed(chain):
        flow = node(module, data, _=flow)
    return node("missed_call_alert", ALERT_ALICE, _=flow)


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_a_hostile_caller_id_name_runs_nothing_through_every_module_and_reaches_the_email_as_sent(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path], payloads: Payloads, form: str,
) -> None:
    name = payloads.make(form)
    ring = node("ring_group", {"endpoints": [{"id": BEN["id"], "endpoint_type": "user", "timeout": 1}]})
    main_number(rds, every_module(ring))
    mark = fs.mark()
    phone = sipp.phone("1002", "uas_ring_forever.xml")
    caller = sipp.call(DID, "-d", "8000", "-set", "name", name)
    finish(fs, caller, phone)
    assert payloads.ran() == []
    assert [line.split()[0] for line in phone.received()] == ["INVITE", "CANCEL", "ACK"]  # every module ran
    [message] = mail(settings, mailbox[1])
    assert message["To"] == ALICE["email"]
    shown = as_freeswitch_passes_it_on(name)
    assert message["Subject"] == f"Missed call from {shown} ({CALLER})"
    body = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert shown in " ".join(html.unescape(body).split())
    assert [line for line in fs.errors_since(mark) if not FREESWITCH_GUARD.search(line)] == []


# Callflow text (a tenant's, through the API): each module's field that reaches FreeSWITCH.
TENANT_TEXT = {
    "set_cid": lambda p: {"caller_id_name": p, "caller_id_number": p},
    "set_variables": lambda p: {"custom_channel_vars": {"department": p}},
    "tts": lambda p: {"text": p},
    "say": lambda p: {"text": p, "say_type": "number"},
}
# tts and say once put their text into the `speak` / `say` argument with one_line() only, so
# FreeSWITCH expanded it: the script ran, then `speak` logged "Invalid Params!" and hung the
# caller up. Their text is made inert now, as every other module's.


@pytest.mark.parametrize("module", list(TENANT_TEXT))
def test_callflow_text_carrying_an_expansion_runs_nothing(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path], payloads: Payloads, module: str,
) -> None:
    text = payloads.make(FORMS["dollar-brace"])
    ring = node("user", {"id": BEN["id"], "timeout": 1})
    main_number(rds, node("missed_call_alert", ALERT_ALICE, _=node(module, TENANT_TEXT[module](text), _=ring)))
    phone = sipp.phone("1002", "uas_ring_forever.xml")
    caller = sipp.call(DID, "-d", "8000")
    finish(fs, caller)
    assert payloads.ran() == []
    finish(fs, phone)
    assert [line.split()[0] for line in phone.received()] == ["INVITE", "CANCEL", "ACK"]
    assert len(mail(settings, mailbox[1])) == 1


def test_control_freeswitch_runs_the_api_hangup_hook_of_a_channel(fs: FreeSwitch, payloads: Payloads) -> None:
    """What a variable's name does, whatever its value: a channel holding `api_hangup_hook` runs
    that API command (here `system`: a shell command) when it hangs up."""
    script = payloads.make("{S}")
    fs.api(f"originate {{api_hangup_hook='system {script}'}}loopback/no-such-number/default &hangup", check=False)
    deadline = time.monotonic() + 10
    while not payloads.ran() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert payloads.ran() == ["pwned-1"]


def test_set_variables_naming_freeswitch_hooks_runs_nothing_and_the_call_goes_on(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, settings: config.Settings,
    mailbox: tuple[int, Path], payloads: Payloads,
) -> None:
    """set_variables naming `api_hangup_hook`, `execute_on_answer`, `api_on_answer` and
    `group_confirm_*` (whose `exec` key runs its file as an application on the answering leg):
    each is set as `ecallmgr_<name>`, the phone rings, the missed call is mailed, nothing runs.
    The same callflow set them under their own names once, and all three scripts ran."""
    hostile = {"api_hangup_hook": f"system {payloads.make('{S}')}",
               "execute_on_answer": f"system {payloads.make('{S}')}",
               "api_on_answer": f"system {payloads.make('{S}')}", "group_confirm_key": "exec",
               "group_confirm_file": f"system {payloads.make('{S}')}", "department": "sales"}
    main_number(rds, node("missed_call_alert", ALERT_ALICE, _=node("set_variables", {"custom_channel_vars": hostile},
                _=node("answer", {}, _=node("user", {"id": BEN["id"], "timeout": 1})))))
    mark = fs.mark()
    phone = sipp.phone("1002", "uas_ring_forever.xml")
    caller = sipp.call(DID, "-d", "6000")
    finish(fs, caller, phone)
    assert [line.split()[0] for line in phone.received()] == ["INVITE", "CANCEL", "ACK"]
    assert any("ecallmgr_department=sales" in line for line in executed(fs, mark, "multiset"))
    assert payloads.ran() == []
    assert len(mail(settings, mailbox[1])) == 1


def test_record_call_refuses_a_media_name_that_is_not_a_plain_file_name(rds: redis.Redis, payloads: Payloads) -> None:
    """record_call's schema keeps its media_name to letters, digits, `_.{}-`: no `$` or `(`."""
    record = node("record_call", {"action": "start", "media_name": payloads.make(FORMS["dollar-brace"])})
    with pytest.raises(DocumentError, match="media_name"):
        main_number(rds, record)


def test_single_quotes_in_a_caller_id_no_longer_merge_the_values_multiset_sets(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis,
) -> None:
    """prepend_cid sets both effective caller ID variables in one multiset, whose argument
    FreeSWITCH splits with switch_separate_string: a quote in the name paired with one in the
    number, the quotes went and the separator between them did not split (seen: name "Sales Pat
    OBrien<US>effective_caller_id_number=99+15550000", no number). inert() turns `'` into the
    typographic apostrophe: both values arrive, each whole."""
    prefixes = {"caller_id_name_prefix": "Sales ", "caller_id_number_prefix": "99"}
    main_number(rds, node("prepend_cid", prefixes, _=node("user", {"id": BEN["id"], "timeout": 1})))
    phone = sipp.phone("1002", "uas_ring_forever.xml")
    caller = sipp.call(DID, "-set", "name", "Pat O'Brien", "-set", "caller", "+1555'0000")
    finish(fs, caller, phone)
    invite = phone.messages.split("message received")[1]
    sender = next(line for line in invite.splitlines() if line.startswith("From:"))
    assert "Sales Pat O\u2019Brien" in sender and "effective_caller_id_number" not in sender
    assert "<sip:99+1555" in sender
