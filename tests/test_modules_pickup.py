"""group_pickup, intercept, eavesdrop (and their feature codes), page_group and intercom through
the real server, the simulator playing FreeSWITCH's channel list (`show channels as json`),
`intercept` and `eavesdrop` for calls that share its switchboard."""

from types import SimpleNamespace
from typing import Any

import gevent
import redis

from controller.errors import CommandError
from controller.esl.safety import inert
from controller.esl.server import OutboundServer
from controller.lab.scenario import BridgeOutcome
from controller.lab.simulator import CallRecord
from controller.lab.switchboard import Switchboard
from controller.modules import pickup
from tests.office import call, flow, load, node

FAST = 0.05


def callflows(rds: redis.Redis, *extra: dict[str, Any]) -> None:
    """5000 rings Bob; 1002 is Bob's extension; *8, *9 and *7 + an extension pick up,
    intercept and listen; *0 + an extension is the intercom."""
    load(rds, flow("5000", node("user", {"id": "u-bob", "timeout": 20})), flow("1002", node("user", {"id": "u-bob"})),
         *extra)


def code(prefix: str, module: str, **data: Any) -> dict[str, Any]:
    return {"id": f"cf-code-{module}", "patterns": [rf"^\{prefix}([0-9]+)$"], "flow": node(module, data)}


def ringing_then(server: OutboundServer, number: str, **picker: Any) -> tuple[CallRecord, CallRecord]:
    """A call from outside to 5000 rings Bob; once it rings, Ann's phone (1001) dials `number`."""
    board = Switchboard()
    ringing = gevent.spawn(call, server, "5000", switchboard=board, time_scale=FAST * 4)
    for _ in range(300):
        if board.legs:
            break
        gevent.sleep(0.01)
    other = call(server, number, internal_user="1001", switchboard=board, **{"hangup_after": 0.3, **picker})
    return ringing.get(timeout=15), other


def test_a_ringing_call_is_picked_up_with_the_feature_code(rds: redis.Redis, esl_server: OutboundServer) -> None:
    callflows(rds, code("*8", "group_pickup_feature", type="extension"))
    ringing, picker = ringing_then(esl_server, "*81002")
    assert picker.args_of("intercept") == [ringing.uuid]
    assert "CHANNEL_BRIDGE" in ringing.events and "CHANNEL_BRIDGE" in picker.events
    assert ringing.variables.get("originate_disposition") == "PICKED_OFF"
    # The picked-up caller's flow stays with the call: no hangup with the bridge's cause.
    assert "hangup" not in ringing.app_names()
    assert ringing.hangup_cause == "NORMAL_CLEARING"


def test_a_group_pickup_takes_a_call_ringing_a_member_of_the_group(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    callflows(rds, flow("8000", node("group_pickup", {"group_id": "g-sales", "approved_group_id": "g-sales"})))
    ringing, picker = ringing_then(esl_server, "8000")
    assert picker.args_of("intercept") == [ringing.uuid]


def test_a_caller_not_approved_hears_so_and_picks_nothing_up(rds: redis.Redis, esl_server: OutboundServer) -> None:
    callflows(rds, flow("8000", node("group_pickup", {"user_id": "u-bob", "approved_user_id": "u-bob"})))
    _, picker = ringing_then(esl_server, "8000")
    assert "intercept" not in picker.app_names()
    assert picker.args_of("speak") == ["flite|kal|you have no permission to intercept this call"]


def test_nothing_ringing_plays_kazoos_no_channels_prompt(rds: redis.Redis, esl_server: OutboundServer) -> None:
    callflows(rds, code("*8", "group_pickup_feature"))
    record = call(esl_server, "*81002", internal_user="1001")
    assert record.args_of("playback") == ["pickup/pickup-no_channels.wav"]
    assert "intercept" not in record.app_names()


def test_an_unknown_extension_plays_park_no_caller(rds: redis.Redis, esl_server: OutboundServer) -> None:
    callflows(rds, code("*8", "group_pickup_feature"))
    record = call(esl_server, "*84444", internal_user="1001")
    assert record.args_of("playback") == ["park/park-no_caller.wav"]


def test_intercepting_another_users_call_needs_an_approval(rds: redis.Redis, esl_server: OutboundServer) -> None:
    callflows(rds, code("*9", "intercept_feature", type="extension"))
    _, refused = ringing_then(esl_server, "*91002")
    assert "intercept" not in refused.app_names()
    assert refused.args_of("playback") == ["intercept/intercept-no_channels.wav"]
    callflows(rds, code("*9", "intercept_feature", type="extension", approved_group_id="g-sales"))
    ringing, taken = ringing_then(esl_server, "*91002")
    assert taken.args_of("intercept") == [ringing.uuid]


def answered_then(server: OutboundServer, number: str) -> tuple[CallRecord, CallRecord, str]:
    """A call to 5000 answered by Bob; while they talk Ann's phone (1001) dials `number`. The
    two records and Bob's leg's uuid."""
    board = Switchboard()
    talking = gevent.spawn(call, server, "5000", switchboard=board, bridges=(BridgeOutcome("answered", talk=3.0),))
    for _ in range(300):
        if any(leg.callstate == "ACTIVE" for leg in board.legs.values()):
            break
        gevent.sleep(0.01)
    [bob] = board.legs
    other = call(server, number, internal_user="1001", switchboard=board, hangup_after=0.3)
    return talking.get(timeout=15), other, bob


def test_an_answered_call_is_taken_over_by_an_approved_phone(rds: redis.Redis, esl_server: OutboundServer) -> None:
    callflows(rds, flow("9000", node("intercept", {"user_id": "u-bob", "approved_device_id": "d-ann"})))
    talking, taker, _ = answered_then(esl_server, "9000")
    assert taker.args_of("intercept") == [talking.uuid]
    assert talking.events.count("CHANNEL_BRIDGE") == 2  # to Bob, then to Ann
    assert talking.variables.get("bridge_hangup_cause") == "PICKED_OFF"
    assert "hangup" not in talking.app_names()  # the flow left the call to Ann
    assert talking.ended_at - talking.connected_at < 2.5  # it ended with Ann, not after its 3 s


def test_an_approved_caller_listens_in_on_an_answered_call(rds: redis.Redis, esl_server: OutboundServer) -> None:
    callflows(rds, code("*7", "eavesdrop_feature", approved_device_id="d-ann"))
    talking, listener, bob = answered_then(esl_server, "*71002")
    assert listener.args_of("eavesdrop") == [bob]
    assert "eavesdrop_enable_dtmf=true" in " ".join(listener.args_of("multiset"))
    assert "intercept" not in listener.app_names() and talking.events.count("CHANNEL_BRIDGE") == 1


def test_eavesdropping_without_an_approval_is_refused(rds: redis.Redis, esl_server: OutboundServer) -> None:
    callflows(rds, flow("7000", node("eavesdrop", {"user_id": "u-bob"})))
    record = call(esl_server, "7000", internal_user="1001")
    assert "eavesdrop" not in record.app_names()
    assert record.args_of("playback") == ["eavesdrop/eavesdrop-no_channels.wav"]


AUTO_ANSWER = "{sip_auto_answer=true,alert_info=intercom,sip_auto_answer_suppress_notify=true}"


def test_a_page_dials_every_member_device_once_auto_answered_into_a_muted_conference(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    endpoints = [{"id": "u-bob", "endpoint_type": "user"}, {"id": "g-sales", "endpoint_type": "group"}]
    callflows(rds, flow("3000", node("page_group", {"audio": "one-way", "endpoints": endpoints})))
    record = call(esl_server, "3000", internal_user="1001", hangup_after=0.3)
    [outcall] = record.args_of("conference_set_auto_outcall")
    # Bob's phone once, Ann's other (route) device; the calling phone (1001) is left out.
    assert outcall.split("|") == [AUTO_ANSWER + "user/1002@office.test", AUTO_ANSWER + "sofia/lab/1009@192.0.2.10:5060"]
    setup = " ".join(record.args_of("multiset"))
    assert "conference_utils_auto_outcall_flags=mute" in setup and "conference_auto_outcall_timeout=5" in setup
    assert record.args_of("conference") == [f"page_{record.uuid}@sla+flags{{endconf}}"]


def test_a_two_way_page_does_not_mute_the_members(rds: redis.Redis, esl_server: OutboundServer) -> None:
    callflows(rds, flow("3000", node("page_group", {"audio": "two-way", "endpoints": [
        {"id": "d-bob", "endpoint_type": "device"}]})))
    record = call(esl_server, "3000", internal_user="1001", hangup_after=0.3)
    assert "conference_utils_auto_outcall_flags=mute" not in " ".join(record.args_of("multiset"))


def test_intercom_rings_the_extension_with_the_auto_answer_variables(
    rds: redis.Redis, esl_server: OutboundServer
) -> None:
    callflows(rds, code("*0", "intercom"))
    record = call(esl_server, "*01002", internal_user="1001", bridges=(BridgeOutcome("answered"),))
    assert record.args_of("export")[:2] == ["nolocal:sip_auto_answer=true", "nolocal:alert_info=intercom"]
    assert record.args_of("bridge") == ["[leg_timeout=20]user/1002@office.test"]
    assert record.variables.get("sip_auto_answer") is None  # exported to the legs only


def test_a_callers_hostile_name_reaches_the_page_conference_inert(rds: redis.Redis, esl_server: OutboundServer) -> None:
    callflows(rds, flow("3000", node("page_group", {"endpoints": [{"id": "d-bob", "endpoint_type": "device"}]})))
    name = "$\\'{system(touch /tmp/x)}\n x"
    record = call(esl_server, "3000", internal_user="1001", caller_name=name, hangup_after=0.3)
    setup = " ".join(record.args_of("multiset"))
    assert f"conference_auto_outcall_caller_id_name={inert(name)}\x1f" in setup
    assert "$" not in setup and "\\" not in setup
    assert record.api_calls == []  # FreeSWITCH's expander ran nothing


MINE, THEIRS, LEG_MINE, LEG_THEIRS = (f"{n:08x}-0000-4000-8000-000000000000" for n in range(1, 5))


def test_a_presence_another_account_shares_takes_none_of_its_calls() -> None:
    """Another account's device may carry the same username and name the same realm: its calls
    ring a leg with the same presence_id. Only the account's own callers are taken or heard."""
    rows = [{"uuid": leg, "direction": "outbound", "presence_id": "1001@shared.example.com", "callstate": state,
             "call_uuid": caller, "created_epoch": "1"}
            for leg, caller, state in ((LEG_THEIRS, THEIRS, "RINGING"), (LEG_MINE, MINE, "RINGING"))]
    own = {MINE}.__contains__
    assert pickup.callers(rows, {"1001@shared.example.com"}, "me", pickup.UNANSWERED, own) == [MINE]
    assert pickup.device_legs(rows, {"1001@shared.example.com"}, "me", pickup.UNANSWERED, own) == [LEG_MINE]


class _Channel:
    def __init__(self, accounts: dict[str, str]) -> None:
        self.accounts = accounts

    def api(self, command: str) -> str:
        uuid = command.split()[1]
        if uuid not in self.accounts:
            raise CommandError(command, "-ERR No such channel!")
        return self.accounts[uuid] + "\n"


def test_a_call_is_the_accounts_own_when_freeswitch_says_so() -> None:
    accounts = {MINE: "acct-a", THEIRS: "acct-b", LEG_MINE: "_undef_"}
    call = SimpleNamespace(account_id="acct-a", channel=_Channel(accounts))
    own = pickup.owned(call)  # type: ignore[arg-type]
    assert [own(uuid) for uuid in (MINE, THEIRS, LEG_MINE, LEG_THEIRS)] == [True, False, False, False]
