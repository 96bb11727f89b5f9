"""What a simulated call does: who calls, what the caller does, how bridges end."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class BridgeOutcome:
    """How one bridge attempt ends.

    kind: `answered` (the callee picks up after `ring` s and talks `talk` s, then hangs up),
    `no_answer` (rings until the leg timeout: ALLOTTED_TIMEOUT), `busy` (USER_BUSY, 486),
    `unreachable` (NORMAL_TEMPORARY_FAILURE, 503, after 40 ms as in the captures).
    """

    kind: str = "no_answer"
    ring: float = 0.01
    talk: float = 0.01
    timeout: float | None = None  # overrides the leg_timeout found in the dial string


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
    dtmf: str = ""  # digits the caller presses, one per `dtmf_interval`, from the first prompt
    dtmf_interval: float = 0.005
    hangup_after: float | None = None  # the caller hangs up this many seconds after connect
    bridges: tuple[BridgeOutcome, ...] = (BridgeOutcome(),)
    record_seconds: float = 2.0  # what a `record` app captures before silence / hangup
    answer_delay: float = 0.001
