"""The variables FreeSWITCH adds to a channel as its call goes on, so that the simulator's events
are as large as a real FreeSWITCH's and carry the same names (see the captures' `*.events.json`):

- the media variables once the channel's media is set up (an answer): the answer capture's
  CHANNEL_ANSWER (`rtp_local_sdp_str`, `local_media_port`, `rtp_use_ssrc`...);
- the call report at hangup, in switch_channel_set_timestamps' order (`src/switch_channel.c`):
  `digits_dialed`, the `*_stamp`, `*_epoch` and `*_uepoch` times, `last_app`, `last_arg`,
  `caller_id`, then the durations (`duration`, `billsec`, `mduration`, `uduration`...), all from
  the channel's own times;
- the RTP statistics mod_sofia adds after the report when the channel had media.
"""

from __future__ import annotations

import dataclasses
import secrets
import string
import time
from collections.abc import Sequence

from controller.lab import templates

Variables = list[tuple[str, str]]
STAMP = "%Y-%m-%d %H:%M:%S"
PACKETS_PER_SECOND = 50  # 20 ms frames
PAYLOAD = 160  # PCMU bytes per 20 ms frame
RTP_HEADER = 12
TAG_LETTERS = string.ascii_letters + string.digits
# switch_channel_cause_q850: the Q.850 causes themselves; FreeSWITCH's own (ALLOTTED_TIMEOUT,
# ORIGINATOR_CANCEL...) report 16 (missed capture).
Q850 = {"UNALLOCATED_NUMBER": 1, "NORMAL_CLEARING": 16, "USER_BUSY": 17, "NO_USER_RESPONSE": 18,
        "NO_ANSWER": 19, "CALL_REJECTED": 21, "DESTINATION_OUT_OF_ORDER": 27, "NORMAL_UNSPECIFIED": 31,
        "NORMAL_TEMPORARY_FAILURE": 41}


def q850(cause: str) -> int:
    return Q850.get(cause, 16)


@dataclasses.dataclass
class Times:
    """A caller profile's times (switch_caller_profile_t.times): microseconds since the epoch,
    0 for what never happened."""

    created: int
    answered: int = 0
    progress: int = 0
    progress_media: int = 0
    bridged: int = 0
    hungup: int = 0

    @classmethod
    def now(cls) -> Times:
        return cls(microseconds())


def microseconds() -> int:
    return time.time_ns() // 1000


def sip_tag() -> str:
    """A SIP tag as sofia makes them: 13 letters and digits."""
    return "".join(secrets.choice(TAG_LETTERS) for _ in range(13))


def media() -> Variables:
    """What a channel gains when its media is set up (the answer capture's CHANNEL_ANSWER)."""
    return [(name, value) for name, value in templates.load()["media"]]


def _stamp(us: int) -> str:
    return time.strftime(STAMP, time.localtime(us // 1_000_000))


def timestamps(times: Times, caller: tuple[str, str], last_app: tuple[str, str] | None, digits: str) -> Variables:
    """switch_channel_set_timestamps: what CHANNEL_HANGUP_COMPLETE carries about the call's
    times, in FreeSWITCH's order. `caller`: the caller ID (name, number); `last_app`: the last
    application and its argument (an empty argument is no variable)."""
    found: Variables = [("digits_dialed", digits or "none"), ("start_stamp", _stamp(times.created)),
                        ("profile_start_stamp", _stamp(times.created))]
    for name, at in (("answer", times.answered), ("bridge", times.bridged), ("progress", times.progress),
                     ("progress_media", times.progress_media)):
        if at:
            found.append((f"{name}_stamp", _stamp(at)))
    found.append(("end_stamp", _stamp(times.hungup)))
    epochs = (("start", times.created), ("profile_start", times.created), ("answer", times.answered),
              ("bridge", times.bridged), ("last_hold", 0))
    for name, at in epochs:
        found += [(f"{name}_epoch", str(at // 1_000_000)), (f"{name}_uepoch", str(at))]
    found += [("hold_accum_seconds", "0"), ("hold_accum_usec", "0"), ("hold_accum_ms", "0"),
              ("resurrect_epoch", "0"), ("resurrect_uepoch", "0")]
    for name, at in (("progress", times.progress), ("progress_media", times.progress_media), ("end", times.hungup)):
        found += [(f"{name}_epoch", str(at // 1_000_000)), (f"{name}_uepoch", str(at))]
    if last_app is not None:
        found.append(("last_app", last_app[0]))
        if last_app[1]:
            found.append(("last_arg", last_app[1]))
    name, number = caller
    found.append(("caller_id", f'"{name}" <{number}>' if name else number))
    return found + _durations(times)


def _durations(times: Times) -> Variables:
    """The durations in seconds, milliseconds and microseconds, each from whole units as
    FreeSWITCH divides them (time_t seconds, then milliseconds)."""
    created, hungup = times.created, times.hungup

    def since(at: int, until: int) -> tuple[int, int, int]:
        return until // 1_000_000 - at // 1_000_000, until // 1000 - at // 1000, until - at

    total = since(created, hungup)
    wait = since(created, times.bridged) if times.bridged > created else (0, 0, 0)
    bill = since(times.answered, hungup) if times.answered else (0, 0, 0)
    flow = total if times.answered else (0, 0, 0)
    answer = since(created, times.answered) if times.answered else (0, 0, 0)
    progress = since(created, times.progress) if times.progress else (0, 0, 0)
    early = since(created, times.progress_media) if times.progress_media else (0, 0, 0)
    names = (("duration", "mduration", "uduration"), ("billsec", "billmsec", "billusec"),
             ("progresssec", "progressmsec", "progressusec"), ("answersec", "answermsec", "answerusec"),
             ("waitsec", "waitmsec", "waitusec"), ("progress_mediasec", "progress_mediamsec", "progress_mediausec"),
             ("flow_billsec", "flow_billmsec", "flow_billusec"))
    values = (total, bill, progress, answer, wait, early, flow)
    by_unit = [[(units[i], str(value[i])) for units, value in zip(names, values, strict=True)] for i in range(3)]
    return by_unit[0] + by_unit[1] + by_unit[2]


def hangup_complete(
    times: Times, cause: str, caller: tuple[str, str], *, last_app: tuple[str, str] | None = None,
    digits: str = "", disposition: str = "", extra: Sequence[tuple[str, str]] = (),
) -> Variables:
    """What CHANNEL_HANGUP_COMPLETE carries on top of CHANNEL_HANGUP's variables: the cause and
    its Q.850 code, the call report, `extra`, how the SIP side ended and, when the channel had
    media (it answered), its RTP counters."""
    found = [("hangup_cause", cause), ("hangup_cause_q850", str(q850(cause))),
             *timestamps(times, caller, last_app, digits), *extra]
    if disposition:
        found.append(("sip_hangup_disposition", disposition))
    if times.answered:
        found += rtp_statistics((times.hungup - times.answered) / 1_000_000)
    return found


def rtp_statistics(media_seconds: float, dtmf_packets: int = 0) -> Variables:
    """mod_sofia's RTP counters of a channel that had media for `media_seconds`: 20 ms PCMU
    frames each way, a clean line (the answer capture's shape)."""
    packets = max(0, int(media_seconds * PACKETS_PER_SECOND))
    raw = packets * (PAYLOAD + RTP_HEADER)
    zero = "0"
    return [
        ("rtp_audio_in_raw_bytes", str(raw)), ("rtp_audio_in_media_bytes", str(packets * PAYLOAD)),
        ("rtp_audio_in_packet_count", str(packets + dtmf_packets)), ("rtp_audio_in_media_packet_count", str(packets)),
        ("rtp_audio_in_skip_packet_count", zero), ("rtp_audio_in_jitter_packet_count", zero),
        ("rtp_audio_in_dtmf_packet_count", str(dtmf_packets)), ("rtp_audio_in_cng_packet_count", zero),
        ("rtp_audio_in_flush_packet_count", zero), ("rtp_audio_in_largest_jb_size", zero),
        ("rtp_audio_in_jitter_min_variance", "0.00"), ("rtp_audio_in_jitter_max_variance", "0.00"),
        ("rtp_audio_in_jitter_loss_rate", "0.00"), ("rtp_audio_in_jitter_burst_rate", "0.00"),
        ("rtp_audio_in_mean_interval", "0.00"), ("rtp_audio_in_flaw_total", zero),
        ("rtp_audio_in_quality_percentage", "100.00"), ("rtp_audio_in_mos", "4.50"),
        ("rtp_audio_out_raw_bytes", str(raw)), ("rtp_audio_out_media_bytes", str(raw)),
        ("rtp_audio_out_packet_count", str(packets)), ("rtp_audio_out_media_packet_count", str(packets)),
        ("rtp_audio_out_skip_packet_count", zero), ("rtp_audio_out_dtmf_packet_count", zero),
        ("rtp_audio_out_cng_packet_count", zero), ("rtp_audio_rtcp_packet_count", zero),
        ("rtp_audio_rtcp_octet_count", zero),
    ]
