"""What a simulated call does: who calls, what the caller does, how bridges end.

Durations given here are seconds (floats, so tests use 0.01 s playbacks). Times the controller
asks for (`linger 3`, `sleep 500`, a dial string's `leg_timeout=20`, a `read` timeout, a `record`
limit) are FreeSWITCH's own and are multiplied by `time_scale`.
"""

from __future__ import annotations

import dataclasses

from controller.lab.callcenter import Callcenter
from controller.lab.conferences import Rooms
from controller.lab.fax import FaxSender
from controller.lab.switchboard import Switchboard
from controller.lab.valet import Lots

# kind -> (hangup cause, SIP status, whether the callee rings first); as in the captures:
# missed (ALLOTTED_TIMEOUT after leg_timeout), bridge_nolistener (503 after ~40 ms, no ringing).
BRIDGE_FAILURES = {
    "no_answer": ("ALLOTTED_TIMEOUT", None, True),
    "busy": ("USER_BUSY", "486", True),
    "rejected": ("CALL_REJECTED", "603", True),
    "unreachable": ("NORMAL_TEMPORARY_FAILURE", "503", False),
    # FreeSWITCH's user endpoint for a phone that is not registered (error/user_not_registered).
    "not_registered": ("USER_NOT_REGISTERED", None, False),
}
BRIDGE_KINDS = ("answered", *BRIDGE_FAILURES)


@dataclasses.dataclass(frozen=True)
class BridgeOutcome:
    """How one bridge attempt ends.

    kind: `answered` (the callee picks up after `ring` s, talks `talk` s, then hangs up),
    `no_answer` (rings until the leg timeout: ALLOTTED_TIMEOUT), `busy` (USER_BUSY, 486, after
    `ring` s), `rejected` (CALL_REJECTED, 603, after `ring` s), `unreachable`
    (NORMAL_TEMPORARY_FAILURE with sip_invite_failure_status 503 after `ring` s, 40 ms by
    default as in the captures, never ringing), `not_registered` (USER_NOT_REGISTERED, never
    ringing).
    """

    kind: str = "no_answer"
    ring: float | None = None  # None: 0.01 s, or 0.04 s for `unreachable`
    talk: float = 0.01
    timeout: float | None = None  # overrides the leg_timeout found in the dial string

    def __post_init__(self) -> None:
        if self.kind not in BRIDGE_KINDS:
            raise ValueError(f"unknown bridge outcome {self.kind!r}; one of {BRIDGE_KINDS}")

    @property
    def ring_seconds(self) -> float:
        if self.ring is not None:
            return self.ring
        return 0.04 if self.kind == "unreachable" else 0.01


@dataclasses.dataclass(frozen=True)
class Keypress:
    """Digits the caller presses, one DTMF event each.

    With `at`: the first digit `at` s after the call connected. Without: `delay` s after the
    next prompt starts (playback, speak, say, play_and_get_digits, read; only that application's
    prompts when `on` names one), each press waiting for its own prompt. Then one digit every
    `interval` s. `source` is `RTP` (RFC 2833) or `ENDPOINT` (SIP INFO), as DTMF-Source shows in
    the answer capture.
    """

    digits: str
    at: float | None = None
    delay: float = 0.005
    interval: float = 0.005
    source: str = "RTP"
    duration_ms: int = 1280
    on: str | None = None  # e.g. "play_and_get_digits": skip the prompts of other applications


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One call placed by the simulator."""

    destination: str = "15551234567"
    caller_number: str = "15550001111"
    caller_name: str = "Lab Caller"
    internal_user: str | None = None  # a SIP username: the caller is that (authenticated) device
    account_id: str | None = None  # set as variable_controller_account_id by the "dialplan"
    variables: tuple[tuple[str, str], ...] = ()
    playback_seconds: float = 0.01  # how long each playback / speak / say takes
    dtmf: str = ""  # shorthand: these digits, one per `dtmf_interval`, from the first prompt on
    dtmf_interval: float = 0.005
    keypresses: tuple[Keypress, ...] = ()
    hangup_after: float | None = None  # the caller hangs up this many seconds after connect
    hangup_during: tuple[str, float] | None = None  # (app, s): hangs up s after that app starts
    bridges: tuple[BridgeOutcome, ...] = (BridgeOutcome(),)
    record_seconds: float = 2.0  # what a `record` app captures before silence / hangup
    missing_files: tuple[str, ...] = ()  # playback of a path containing one: FILE NOT FOUND
    fax: FaxSender | None = None  # the caller is this fax machine (rxfax: lab/fax.py); None: a voice
    answer_delay: float = 0.001
    time_scale: float = 1.0
    # With linger, FreeSWITCH writes its disconnect notice from the socket's own thread while the
    # channel's events wait in their queue: on a real FreeSWITCH the notice was seen to overtake
    # the running app's CHANNEL_EXECUTE_COMPLETE (a voicemail whose caller hung up lost its length).
    notice_before_completion: bool = False
    # mod_valet_parking's lots: calls given the same Lots park in the same lots (lab/valet.py).
    lots: Lots = dataclasses.field(default_factory=Lots, compare=False)
    # The callee legs other calls can pick up or listen to, shared the same way (lab/switchboard.py).
    switchboard: Switchboard = dataclasses.field(default_factory=Switchboard, compare=False)
    # mod_conference's rooms, shared the same way (lab/conferences.py).
    rooms: Rooms = dataclasses.field(default_factory=Rooms, compare=False)
    # mod_callcenter's agents and waiting callers, shared the same way (lab/callcenter.py).
    callcenter: Callcenter = dataclasses.field(default_factory=Callcenter, compare=False)

    @property
    def presses(self) -> tuple[Keypress, ...]:
        """The caller's whole DTMF script (`dtmf` first, then `keypresses`)."""
        shorthand = (Keypress(self.dtmf, delay=self.dtmf_interval, interval=self.dtmf_interval),) if self.dtmf else ()
        return shorthand + self.keypresses

    def scaled(self, seconds: float) -> float:
        """A FreeSWITCH time (linger, sleep, timeouts) in simulated seconds."""
        return seconds * self.time_scale
