"""Media uploaded through the API, played by its Kazoo media id through a real FreeSWITCH: the
callflow names the media document, the controller resolves it to the stored file and FreeSWITCH
opens and plays that file to a SIPp caller without an error.
"""
# ruff: noqa: F811 (the fixtures imported from tests.freeswitch_calls are test parameters)

import io
import math
import struct
import wave
from pathlib import Path

import pytest
import redis

from controller import config
from controller.esl.server import OutboundServer
from controller.services import Services
from tests.api_world import serve_api
from tests.freeswitch_calls import (  # noqa: F401 (fixtures)
    ACCOUNT_ID,
    DID,
    executed,
    finish,
    main_number,
    node,
    office,
)
from tests.freeswitch_harness import ROOT, FreeSwitch, Sipp

pytestmark = [pytest.mark.freeswitch, pytest.mark.timeout(40)]

MEDIA_ID = "7a4d2c9e1b3f4a5c8d6e0f1a2b3c4d5e"


@pytest.fixture
def settings(redis_url: str, freeswitch: FreeSwitch, tmp_path: Path) -> config.Settings:
    """The controller where the dialplan's `socket` connects, its media in the test's folder."""
    return config.load({
        "CONTROLLER_CONFIG": str(ROOT / "tests" / "controller-test.toml"),
        "CONTROLLER_REDIS_URL": redis_url,
        "CONTROLLER_ESL_LISTEN": f"127.0.0.1:{freeswitch.ports.controller_esl}",
        "CONTROLLER_API_LISTEN": "127.0.0.1:0",
        "CONTROLLER_ROUTE_PROFILE": "external",
        "CONTROLLER_VOICEMAIL_DIR": str(freeswitch.voicemail_dir),
        "CONTROLLER_MEDIA_DIR": str(tmp_path / "media"),
    })


def tone_wav(seconds: float, rate: int = 8000) -> bytes:
    """A 440 Hz tone, 16-bit mono."""
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
                                   for n in range(int(rate * seconds))))
    return out.getvalue()


def test_a_wav_uploaded_through_the_api_is_played_by_its_media_id(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, services: Services,
    settings: config.Settings,
) -> None:
    main_number(rds, node("play", {"id": MEDIA_ID}, _=node("play", {"id": f"/{ACCOUNT_ID}/{MEDIA_ID}"})))
    audio = tone_wav(1.0)
    base = f"/v2/accounts/{ACCOUNT_ID}/media"
    with serve_api(services) as api:
        api.ok("PUT", base, "super", json={"data": {"id": MEDIA_ID, "name": "Welcome", "description": "welcome.wav"}})
        uploaded = api.call("POST", f"{base}/{MEDIA_ID}/raw", "super", data=audio,
                            headers={"Content-Type": "audio/wav"})
        assert uploaded.status_code == 200, uploaded.text
    path = Path(settings.media_dir) / ACCOUNT_ID / f"{MEDIA_ID}.wav"
    assert path.read_bytes() == audio
    mark = fs.mark()
    caller = sipp.call(DID, "-d", "4000")  # on the line for both playbacks (1 s each)
    finish(fs, caller)
    played = executed(fs, mark, "playback")
    assert len(played) == 2 and all(f"playback({path})" in line for line in played), played
    done = [line for line in fs.log_since(mark) if f"done playing file {path}" in line]
    assert len(done) == 2, fs.log_since(mark)[-40:]  # switch_ivr_play_file opened it and played it out
    assert fs.errors_since(mark) == []


def test_a_stored_menu_greets_with_an_uploaded_media_and_the_key_pressed_picks_its_child(
    fs: FreeSwitch, sipp: Sipp, office: OutboundServer, rds: redis.Redis, services: Services,
    settings: config.Settings,
) -> None:
    """Kazoo's form end to end: a media document with its WAV uploaded, a menus document naming
    it as its greeting, both through the API; the caller hears the file and presses 2."""
    main_number(rds, node("hangup", {}), number="+15550000099")  # the office account, its DID still free
    base = f"/v2/accounts/{ACCOUNT_ID}"
    chosen = {key: node("play", {"id": f"tone_stream://%(100,0,{tone})"}, _=node("hangup", {}))
              for key, tone in (("1", 350), ("2", 620))}
    with serve_api(services) as api:
        api.ok("PUT", f"{base}/media", "super", json={"data": {"id": MEDIA_ID, "name": "Menu greeting"}})
        uploaded = api.call("POST", f"{base}/media/{MEDIA_ID}/raw", "super", data=tone_wav(0.5),
                            headers={"Content-Type": "audio/wav"})
        assert uploaded.status_code == 200, uploaded.text
        api.ok("PUT", f"{base}/menus", "super", json={"data": {
            "id": "m-main", "name": "Main menu", "max_extension_length": 1, "timeout": 5000,
            "media": {"greeting": MEDIA_ID}}})
        api.ok("PUT", f"{base}/callflows", "super", json={"data": {
            "numbers": [DID], "flow": node("menu", {"id": "m-main"}, **chosen)}})
    mark = fs.mark()
    caller = sipp.call(DID, "-set", "keys", "2", scenario="uac_keys.xml")
    finish(fs, caller)
    path = Path(settings.media_dir) / ACCOUNT_ID / f"{MEDIA_ID}.wav"
    [collected] = executed(fs, mark, "play_and_get_digits")
    assert str(path) in collected
    assert any("%(100,0,620)" in line for line in executed(fs, mark, "playback"))
    assert not any("%(100,0,350)" in line for line in executed(fs, mark, "playback"))
    assert fs.errors_since(mark) == []
