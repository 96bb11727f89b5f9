"""A call's applications never name another account's files (controller/esl/confinement.py):
another tenant's voicemail, faxes, call recordings or prompts, by an absolute path however
written or by `..`."""

import os

import pytest
import redis

from controller import config
from controller.esl.confinement import Confinement, account_roots
from controller.esl.server import OutboundServer
from controller.store.media import media_root
from tests.office import ACCOUNT, call, flow, load, node

VM = "/var/lib/freeswitch/storage/voicemail"
ROOTS = (VM, "/var/lib/freeswitch/storage/fax", "/srv/media")
MINE = Confinement("acct-a", ROOTS)


@pytest.mark.parametrize("arg", [
    f"{VM}/acct-b/box/m-1.wav",
    f"{VM}//acct-b/box/m-1.wav",
    "/var/lib/freeswitch//storage/./voicemail/acct-b/box/m-1.wav",
    f"file_string://{VM}/acct-a/box/greeting.wav!{VM}/acct-b/box/m-1.wav",
    f"^^\x1fringback={VM}/acct-b/box/m-1.wav",
    f"{VM}/acct-a/../acct-b/box/m-1.wav",
    "../../../../var/lib/freeswitch/storage/voicemail/acct-b/box/m-1.wav",
    "1 1 1 5000 # ../../secret.wav /invalid.wav digits",
    f"{VM}",
    f"{VM}/acct-ab/box/m-1.wav",
    "/srv/media/acct-b/prompt.wav",
])
def test_another_accounts_files_and_climbing_paths_are_refused(arg: str) -> None:
    assert MINE.refusal(arg) is not None


@pytest.mark.parametrize("arg", [
    f"{VM}/acct-a/box/m-1.wav",
    f"{VM}/acct-a",
    f"file_string://{VM}/acct-a/box/greeting.wav!/usr/share/freeswitch/sounds/en/us/callie/beep.wav",
    "voicemail/vm-enter_pass.wav",
    "/media/hello.wav",
    "tone_stream://%(200,0,440)",
    "http_cache://https://203.0.113.7/a.mp3",
    "^^\x1fcaller_id_name=Pat. O..Brien",
    "1 4 3 5000 # /usr/share/freeswitch/sounds/prompt.wav /invalid.wav digits \\d+",
])
def test_the_accounts_own_files_and_everything_elsewhere_pass(arg: str) -> None:
    assert MINE.refusal(arg) is None


def test_the_roots_are_the_voicemail_fax_recordings_and_media_folders(settings: config.Settings) -> None:
    assert account_roots(settings) == (os.path.abspath(settings.voicemail_dir), os.path.abspath(settings.fax_dir),
                                       os.path.abspath(settings.recordings_dir), media_root(settings))


@pytest.mark.parametrize(("folder", "name"), [
    ("voicemail_dir", "box-1/m-0001.wav"),
    ("recordings_dir", "call_recording_0d1e.mp3"),  # record_call's: one folder per account
])
def test_a_play_of_another_accounts_file_is_not_sent_and_the_flow_goes_on(
    rds: redis.Redis, esl_server: OutboundServer, settings: config.Settings, folder: str, name: str,
) -> None:
    root = getattr(settings, folder)
    theirs, mine = f"{root}/acct-other/{name}", f"{root}/{ACCOUNT}/{name}"
    after = node("play", {"id": "/media/after.wav"})
    load(rds,
         flow("931", node("play", {"id": theirs}, _=after)),
         flow("932", node("play", {"id": "../../../" + theirs.lstrip("/")}, _=after)),
         flow("933", node("play", {"id": mine})))
    for number in ("931", "932"):
        record = call(esl_server, number)
        assert record.args_of("playback") == ["/media/after.wav"], record.apps
    assert call(esl_server, "933").args_of("playback") == [mine]
