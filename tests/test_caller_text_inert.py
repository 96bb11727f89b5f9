"""Caller and tenant text never reaches FreeSWITCH's expander in a form it acts on.

The simulator expands every application argument, and `set`/`multiset` values a second time,
with a port of FreeSWITCH's own expander (controller/lab/expand.py); an API command that the
expansion would run (`${system(...)}`) is recorded on the call. Every hostile string goes
through the modules that pass caller or tenant text to FreeSWITCH, and must come out on the
channel exactly as `inert` made it, with nothing run.
"""

import random
from urllib.parse import unquote

import pytest
import redis

from controller.esl.safety import inert, multiset
from controller.esl.server import OutboundServer
from controller.esl.wire import encode_value
from controller.lab.expand import expand
from tests.office import call, flow, load, node

# Every form FreeSWITCH's expander knows, and the neighbours that could complete one.
HOSTILE = [
    "${system(touch /tmp/pwned)}",
    "$${system(touch /tmp/pwned)}",
    "$\\'{system(touch /tmp/pwned)}",
    "$\\'\\'{system touch /tmp/pwned}",
    "$\\{system(touch /tmp/pwned)}",
    "\\${system(touch /tmp/pwned)}",
    "\\\\${system(touch /tmp/pwned)}",
    "%{system(touch /tmp/pwned)}",
    "%[origination_caller_id_name=x]y",
    "{origination_caller_id_name=x,absolute_codec_string=PCMU}",
    "[leg_timeout=1]",
    "${caller_id_name}",
    "${expr(1+1)}",
    "$",
    "\\",
    "{",
    "'\"`",
    "a\nX-Injected: 1",
    "a%0AX-Injected: 1",
    "\\n\\s\\t\\'",
    "$${${system(x)}}",
    "\u00e9l\u00e8ve $\u00e9",
]


def hostile_lookup(name: str) -> str:
    """Every variable holds hostile text: a substituted value is expanded again."""
    return "${system(from " + name + ")}"


def test_inert_text_is_left_unchanged_by_any_number_of_expansions() -> None:
    ran: list[tuple[str, str]] = []
    for text in HOSTILE:
        safe = inert(text)
        assert "$" not in safe and "\\" not in safe and "\n" not in safe
        once = expand(safe, hostile_lookup, lambda c, a: ran.append((c, a)) or "")
        assert expand(once, hostile_lookup, lambda c, a: ran.append((c, a)) or "") == once == safe
    assert ran == []


def test_random_text_from_the_expanders_own_alphabet_stays_inert() -> None:
    rng = random.Random(13)
    ran: list[tuple[str, str]] = []
    for _ in range(3000):
        text = "".join(rng.choice("$\\'{}() sx") for _ in range(rng.randint(1, 14)))
        safe = inert(text)
        for prefix, suffix in (("", ""), ("Sales ", ""), ("$", ""), ("", "}")):
            composed = inert(prefix + text + suffix)
            assert expand(composed, hostile_lookup, lambda c, a: ran.append((c, a)) or "") == composed
        assert expand(safe, hostile_lookup, lambda c, a: ran.append((c, a)) or "") == safe
    assert ran == []


def test_the_simulator_catches_what_only_removing_dollar_brace_let_through() -> None:
    """The rule before: `${` removed, repeated. FreeSWITCH drops `\\'`, so the second pass of
    `multiset` saw `${system(...)}`: the simulator's expander must show that."""
    def old_inert(text: str) -> str:
        while "${" in text:
            text = text.replace("${", "{")
        return text

    ran: list[tuple[str, str]] = []
    value = "Sales " + old_inert("$\\'{system(touch /tmp/x)}")
    expand(expand(value, hostile_lookup, lambda c, a: ran.append((c, a)) or ""),
           hostile_lookup, lambda c, a: ran.append((c, a)) or "")
    assert ran == [("system", "touch /tmp/x")]


def test_multiset_names_and_values_are_inert_and_one_per_separator() -> None:
    app, arg = multiset({"a": "x\x1fb=$\\'{system(y)}", "c": "1"})
    assert app == "multiset"
    assert arg.split("\x1f") == ["^^", "a=xb=\uff04\uff3c\u2019{system(y)}", "c=1"]


# A real FreeSWITCH splits multiset's argument with switch_separate_string, which removes
# paired single quotes and does not split between them (on FreeSWITCH 1.11, "Pat O'Brien"
# calling from +1555'0000 through prepend_cid set effective_caller_id_name to
# "Sales Pat OBrien<US>effective_caller_id_number=99+15550000" and no number). The simulator
# splits as FreeSWITCH does; inert() turns `'` into the typographic apostrophe.


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_caller_id_through_prepend_cid_and_user_runs_nothing(
        name: str, rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("600", node("prepend_cid", {"caller_id_name_prefix": "Sales ", "caller_id_number_prefix": "9"},
                               _=node("user", {"id": "u-bob", "timeout": 1}))))
    record = call(esl_server, "600", caller_name=name, caller_number=name[:20])
    assert record.api_calls == []
    assert "bridge" in record.app_names()
    # What the controller reads: FreeSWITCH leaves an existing %XX alone when it encodes an
    # event (switch_url_encode), so a display name's `%0A` arrives as a line break.
    assert record.variables["effective_caller_id_name"] == inert("Sales " + as_read(name))
    assert record.variables["effective_caller_id_number"] == inert("9" + as_read(name[:20]))


def as_read(text: str) -> str:
    return unquote(encode_value(text))


@pytest.mark.parametrize("value", [text for text in HOSTILE if "\n" not in text])  # the schema refuses those
def test_hostile_tenant_values_in_set_cid_and_set_variables_run_nothing(
        value: str, rds: redis.Redis, esl_server: OutboundServer) -> None:
    chain = node("set_cid", {"caller_id_name": value},
                 _=node("set_variables", {"custom_channel_vars": {"note": value}},
                        _=node("set_variables", {"custom_channel_vars": {"kept": value}, "export": True})))
    load(rds, flow("601", chain))
    record = call(esl_server, "601")
    assert record.api_calls == []
    assert record.variables["effective_caller_id_name"] == inert(value)
    assert record.variables["ecallmgr_note"] == inert(value)
    assert record.variables["ecallmgr_kept"] == inert(value)


def test_set_variables_naming_freeswitch_hooks_runs_nothing(rds: redis.Redis, esl_server: OutboundServer) -> None:
    """FreeSWITCH would run `api_hangup_hook` at the hangup and `execute_on_answer` at the answer
    (the simulator does, as it records `${system(...)}`); set_variables sets every name as
    `ecallmgr_<name>`, which FreeSWITCH does not act on."""
    hostile = {"api_hangup_hook": "system touch /tmp/x", "execute_on_answer": "bgsystem touch /tmp/y",
               "sound_prefix": "/var/lib/freeswitch", "department": "sales"}
    load(rds, flow("602", node("set_variables", {"custom_channel_vars": hostile},
                                         _=node("set_variables", {"custom_channel_vars": hostile, "export": True},
                                                _=node("answer", {}, _=node("hangup", {}))))))
    record = call(esl_server, "602")
    assert record.app_names() == ["multiset", "export", "export", "export", "export", "answer", "hangup"]
    assert all(arg.startswith("ecallmgr_") for arg in record.args_of("export"))
    assert record.api_calls == []
    assert record.variables["ecallmgr_department"] == "sales"
    assert record.variables["ecallmgr_api_hangup_hook"] == "system touch /tmp/x"
    assert not {"api_hangup_hook", "execute_on_answer", "sound_prefix"} & set(record.variables)
