"""Position and wait-time announcements to a caller waiting in a call queue (Kazoo's
acdc_announcements), for `acdc_member`.

The queue's `announcements`: `position_announcements_enabled`, `wait_time_announcements_enabled`
(both false by default), `interval` (30 s, at least 15) and `media` (Kazoo's four prompts
`you_are_at_position`, `in_the_queue`, `increase_in_call_volume`, `the_estimated_wait_time_is`:
ids of the account's media; without them the same words are spoken by flite). As Kazoo does, the first
announcement comes as the caller joins, then one every `interval`: "You are at position 2 in the
queue." (the caller's rank among the members waiting, as `callcenter_config queue list members`
orders them: by score, mod_callcenter's order of service), then "We are experiencing an increase
in call volume." when the estimate grew since the last one, and "The estimated wait time is about
5 minutes." from the average wait of the queue's recent answered callers (store/queue_waits.py;
none yet: less than a minute), in Kazoo's steps.

How, as a real FreeSWITCH 1.11 showed: the `callcenter` application plays its music with no end
and drops what is queued for the channel before it starts it (mod_callcenter.c flushes the
session's private events), so `uuid_broadcast` answers "+OK Message sent" and nothing is ever
heard. mod_callcenter's own periodic announcement is a media bug
(switch_ivr_displace_session), and so is this: `uuid_displace <uuid> start '<prompt>' <limit>`
puts the announcement in place of the music while it lasts ("Attaching BUG" on the caller's
channel, as tests/test_freeswitch_acdc.py checks; "Removing BUG" when the words end); its own
`announce-sound` is one file for the whole queue and cannot say a position.
The bug would outlive the queue (an agent who answers would be drowned out), so it is stopped
when the caller leaves the queue, and never lasts longer than the interval.

The announcer is one greenlet per waiting caller, started and stopped by `acdc_member` around the
`callcenter` application: it sleeps on an event between announcements (never blocking the hub),
asks over the call's own outbound socket (which mod_event_socket answers while the application
runs), and ends when told or when the channel is gone. The prompt holds numbers and the
controller's own words, and media paths made inert (no caller text ever).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import gevent
import redis
from gevent.event import Event

from controller.call import Call
from controller.errors import ChannelGoneError, CommandError
from controller.esl.commands import UUID
from controller.esl.safety import inert
from controller.logcontext import share_call
from controller.modules import callcenter, media_refs
from controller.store.queue_waits import QueueWaits

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 30  # Kazoo's
MIN_INTERVAL = 15  # Kazoo's schema minimum: an announcement never overlaps the next one
FIRST_AFTER = 1.0  # seconds after joining: the caller is a member of the queue by then
RETRY = 1.0  # seconds before asking again when the caller is not listed yet
VOICE = "slt"  # mod_flite's female voice, as the other prompts speak
WORDS = {
    "you_are_at_position": "You are at position",
    "in_the_queue": "in the queue.",
    "increase_in_call_volume": "We are experiencing an increase in call volume.",
    "the_estimated_wait_time_is": "The estimated wait time is",
}
# Kazoo's time_prompt2 steps: (at most seconds, words)
WAIT_STEPS = ((59, "less than one minute."), (300, "about five minutes."), (600, "about ten minutes."),
              (900, "about fifteen minutes."), (1800, "about thirty minutes."), (2700, "about forty five minutes."),
              (3600, "about one hour."))

Part = tuple[str, str]  # ("file", path) or ("text", words)


@dataclasses.dataclass(frozen=True)
class Settings:
    """A queue's announcements."""

    position: bool = False
    wait_time: bool = False
    interval: int = DEFAULT_INTERVAL
    media: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def is_enabled(self) -> bool:
        return self.position or self.wait_time


def settings_of(queue: Mapping[str, Any]) -> Settings:
    doc = queue.get("announcements")
    if not isinstance(doc, dict):
        return Settings()
    media = doc.get("media")
    media = media if isinstance(media, dict) else {}
    return Settings(
        position=doc.get("position_announcements_enabled") is True,
        wait_time=doc.get("wait_time_announcements_enabled") is True,
        interval=max(MIN_INTERVAL, callcenter.seconds(doc, "interval", DEFAULT_INTERVAL)),
        media={k: str(v) for k, v in media.items() if k in WORDS and isinstance(v, str) and v},
    )


def wait_words(seconds: int) -> str:
    return next((words for limit, words in WAIT_STEPS if seconds <= limit), "at least one hour.")


def position(rows: list[dict[str, str]], uuid: str) -> int | None:
    """The caller's place among the members waiting (`queue list members` lists them by score,
    highest first: the order mod_callcenter serves them in); None when not waiting."""
    waiting = [row.get("session_uuid") for row in rows if row.get("state") in ("Waiting", "Trying")]
    return waiting.index(uuid) + 1 if uuid in waiting else None


def parts(settings: Settings, place: int | None, wait: int | None, grew: bool) -> list[Part]:
    """What one announcement says: a prompt (its media, else its words) or spoken words."""
    def prompt(name: str) -> Part:
        return ("file", settings.media[name]) if name in settings.media else ("text", WORDS[name])

    said: list[Part] = []
    if settings.position and place is not None:
        said += [prompt("you_are_at_position"), ("text", str(place)), prompt("in_the_queue")]
    if settings.wait_time and wait is not None:
        said += [prompt("increase_in_call_volume")] if grew else []
        said += [prompt("the_estimated_wait_time_is"), ("text", wait_words(wait))]
    return said


def path(said: list[Part]) -> str:
    """One file FreeSWITCH can play: flite's `tts://` for words only, else a `file_string://` of
    the files and spoken words in turn ("" when nothing is left to say)."""
    if all(kind == "text" for kind, _ in said):
        return f"tts://flite|{VOICE}|{inert(' '.join(text for _, text in said))}" if said else ""
    files = [inert(value) if kind == "file" else f"tts://flite|{VOICE}|{inert(value)}" for kind, value in said]
    return "file_string://" + "!".join(files)


def files_of(call: Call, settings: Settings) -> Settings:
    """The settings with their media resolved to what FreeSWITCH plays. Only the account's own
    media documents are taken (a file the controller names, or their `tts` text), never a path
    or URL a tenant wrote: the prompt goes out as an API command (`uuid_displace`), which passes
    the same checks as an application's argument (Session._check) but is built here, so it names
    only what the account owns. Anything else, or what cannot be played in a file_string, is
    spoken instead."""
    media = {}
    for name, ref in settings.media.items():
        found = media_refs.lookup(call, ref)
        playable = found.playable if found is not None else ""
        if playable and "!" not in playable and (playable.startswith("tts://") or playable.split() == [playable]):
            media[name] = playable
        else:
            log.info("call %s: announcement prompt %s is not one of the account's media: spoken", call.uuid, name)
    return dataclasses.replace(settings, media=media)


class Announcer:
    """The announcements to one waiting caller, in a greenlet of their own."""

    def __init__(self, call: Call, queue: Mapping[str, Any], name: str, settings: Settings) -> None:
        self.call, self.name, self.settings = call, name, settings
        self.queue_id = str(queue.get("id") or "")
        self._last_wait: int | None = None
        self._playing = ""
        self._stopped = Event()
        self._greenlet = gevent.Greenlet(self._run)
        share_call(self._greenlet)

    def start(self) -> Announcer:
        self._greenlet.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """End the announcements (the one playing is stopped) and wait for the greenlet."""
        self._stopped.set()
        self._greenlet.join(timeout)

    def _run(self) -> None:
        delay = FIRST_AFTER
        try:
            while not self._stopped.wait(delay) and not self.call.channel.is_gone:
                delay = self.settings.interval if self._announce() else RETRY
            self._silence()
        except (ChannelGoneError, CommandError):
            pass  # the channel went meanwhile
        except Exception:
            log.exception("call %s: announcements in %s failed", self.call.uuid, self.name)

    def _announce(self) -> bool:
        """One announcement; False when the caller is not a waiting member (yet)."""
        api: Callable[[str], str] = self.call.channel.api
        place = position(callcenter.rows(api(f"callcenter_config queue list members {self.name}")), self.call.uuid)
        if place is None:
            return False
        wait = self._average_wait() if self.settings.wait_time else None
        grew = wait is not None and self._last_wait is not None and wait > self._last_wait
        self._last_wait = wait if wait is not None else self._last_wait
        prompt = path(parts(self.settings, place, wait, grew))
        if prompt and UUID.fullmatch(self.call.uuid) and not self._stopped.is_set():
            self._silence()
            api(f"uuid_displace {self.call.uuid} start '{prompt}' {self.settings.interval}")
            self._playing = prompt
            log.debug("call %s: announced in %s: %s", self.call.uuid, self.name, prompt)
        return True

    def _average_wait(self) -> int | None:
        try:
            return QueueWaits(self.call.services.rds).average(self.call.account_id, self.queue_id)
        except redis.RedisError as exc:
            log.warning("call %s: no wait time to announce: %s", self.call.uuid, exc)
            return None

    def _silence(self) -> None:
        """Stop the announcement that may still be playing (-ERR when it ended by itself)."""
        if self._playing and not self.call.channel.is_gone:
            playing, self._playing = self._playing, ""
            with contextlib.suppress(CommandError):
                self.call.channel.api(f"uuid_displace {self.call.uuid} stop '{playing}'")


def start(call: Call, queue: Mapping[str, Any], name: str) -> Announcer | None:
    """The caller's announcer, running; None when the queue has none."""
    settings = settings_of(queue)
    if not settings.is_enabled:
        return None
    return Announcer(call, queue, name, files_of(call, settings) if settings.media else settings).start()


def record_wait(call: Call, queue_id: str, seconds: float) -> None:
    """An agent answered after `seconds`: one more wait for the estimate (a Redis failure costs
    only this sample)."""
    try:
        QueueWaits(call.services.rds).record(call.account_id, queue_id, seconds, time.time())
    except redis.RedisError as exc:
        log.warning("call %s: wait in queue %s not kept: %s", call.uuid, queue_id, exc)
