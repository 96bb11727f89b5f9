"""/v2/accounts/{id}/media over real HTTP (Crossbar's cb_media): the documents, their audio
uploaded and downloaded byte for byte, stored where FreeSWITCH plays it, refused when it is not
WAV or MP3 or too large, out of other accounts' reach, and played by the next call; and a
voicemail message's recording through /vmboxes/{box}/messages/{id}/raw."""

import dataclasses
import io
import os
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from controller.esl.server import OutboundServer
from controller.services import Services
from controller.store import keys
from controller.store.media import media_root
from tests.api_world import Client, serve_api
from tests.office import call, node

BASE = "/v2/accounts/child/media"
DOC = {"name": "Welcome", "description": "welcome.wav", "streamable": True, "language": "en-us"}


def wav_bytes(seconds: float = 0.2, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(bytes(range(256)) * int(rate * seconds * 2 / 256))
    return out.getvalue()


def mp3_bytes(frames: int = 3) -> bytes:
    """MPEG-1 layer III frames, 128 kbit/s at 44.1 kHz (417 bytes each), behind an ID3v2 tag."""
    frame = b"\xff\xfb\x90\x00" + bytes(413)
    return b"ID3\x04\x00\x00\x00\x00\x00\x05" + b"TIT2\x00" + frame * frames


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with serve_api(services) as client:
        yield client


def stored_file(services: Services, media_id: str, extension: str, aid: str = "child") -> Path:
    return Path(media_root(services.settings)) / aid / f"{media_id}.{extension}"


def upload(api: Client, media_id: str, body: bytes, content_type: str = "audio/wav", **kwargs: Any) -> Any:
    return api.call("POST", f"{BASE}/{media_id}/raw", data=body, headers={"Content-Type": content_type}, **kwargs)


def revision(rds: redis.Redis, aid: str = "child") -> int:
    return int(rds.get(keys.revision(aid)) or 0)


def test_media_is_created_uploaded_downloaded_byte_for_byte_listed_and_deleted_with_its_file(
    api: Client, services: Services, rds: redis.Redis
) -> None:
    created = api.call("PUT", BASE, json={"data": DOC})
    assert created.status_code == 201, created.text
    media_id = created.json()["data"]["id"]
    start = revision(rds)
    audio = wav_bytes()
    uploaded = upload(api, media_id, audio)
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["data"] == {**DOC, "id": media_id, "media_source": "upload", "content_type": "audio/wav",
                                       "content_length": len(audio)}
    assert revision(rds) == start + 1  # the call path's caches see the new audio on the next call
    assert stored_file(services, media_id, "wav").read_bytes() == audio
    raw = api.call("GET", f"{BASE}/{media_id}/raw", headers={"Accept": "audio/*"})
    assert raw.status_code == 200 and raw.content == audio
    assert raw.headers["Content-Type"] == "audio/wav"
    assert raw.headers["Content-Disposition"] == f"attachment; filename={media_id}.wav"
    as_kazoo = api.call("GET", f"{BASE}/{media_id}", headers={"Accept": "audio/x-wav"})  # Kazoo's own form
    assert as_kazoo.content == audio
    assert api.ok("GET", f"{BASE}/{media_id}")["content_length"] == len(audio)
    refused = api.call("GET", f"{BASE}/{media_id}/raw", headers={"Accept": "text/csv"})
    assert refused.status_code == 406 and "audio/wav" in refused.json()["data"]["accept"]["enum"]
    assert [doc["id"] for doc in api.ok("GET", BASE)] == [media_id]
    assert api.ok("DELETE", f"{BASE}/{media_id}")["id"] == media_id
    assert not stored_file(services, media_id, "wav").exists()
    assert api.call("GET", f"{BASE}/{media_id}/raw").status_code == 404
    assert api.ok("GET", BASE) == []


def test_an_mp3_upload_replaces_a_wav_and_kazoos_post_to_the_document_uploads_too(
    api: Client, services: Services
) -> None:
    api.ok("PUT", BASE, json={"data": {**DOC, "id": "hold-music"}})
    assert upload(api, "hold-music", wav_bytes()).status_code == 200
    audio = mp3_bytes()
    posted = api.call("POST", f"{BASE}/hold-music", data=audio, headers={"Content-Type": "audio/mp3"})
    assert posted.status_code == 200, posted.text
    assert posted.json()["data"]["content_type"] == "audio/mpeg"
    assert stored_file(services, "hold-music", "mp3").read_bytes() == audio
    assert not stored_file(services, "hold-music", "wav").exists()
    raw = api.call("GET", f"{BASE}/hold-music/raw")
    assert raw.content == audio and raw.headers["Content-Type"] == "audio/mpeg"
    octets = api.call("PUT", f"{BASE}/hold-music/raw", data=wav_bytes(), headers={
        "Content-Type": "application/octet-stream"})
    assert octets.json()["data"]["content_type"] == "audio/wav"  # the bytes decide


def test_one_file_of_a_multipart_body_is_uploaded(api: Client, services: Services) -> None:
    api.ok("PUT", BASE, json={"data": {**DOC, "id": "from-form"}})
    audio = wav_bytes()
    response = api.call("POST", f"{BASE}/from-form/raw", files={"file": ("greeting.wav", audio, "audio/wav")})
    assert response.status_code == 200, response.text
    assert stored_file(services, "from-form", "wav").read_bytes() == audio


@pytest.mark.parametrize(("content_type", "body", "status", "field", "rule"), [
    ("text/plain", b"hello", 415, "Content-Type", "enum"),
    ("audio/ogg", b"OggS\x00\x02", 415, "Content-Type", "enum"),
    ("audio/wav", b"<?php system($_GET['c']); ?>", 400, "file", "format"),
    ("audio/wav", b"RIFF\x24\x00\x00\x00WAVEfmt ", 400, "file", "format"),
    ("application/octet-stream", b"\xff\xfb\x90\x00" + bytes(40), 400, "file", "format"),
    ("audio/wav", mp3_bytes(), 400, "Content-Type", "enum"),
    ("audio/mpeg", wav_bytes(), 400, "Content-Type", "enum"),
    ("audio/wav", b"", 400, "file", "required"),
], ids=["text", "ogg", "script", "truncated-wav", "one-mp3-header", "mp3-as-wav", "wav-as-mp3", "empty"])
def test_what_is_not_wav_or_mp3_is_refused_naming_the_field_and_nothing_is_stored(
    api: Client, services: Services, content_type: str, body: bytes, status: int, field: str, rule: str
) -> None:
    api.ok("PUT", BASE, json={"data": {**DOC, "id": "refused"}})
    response = upload(api, "refused", body, content_type)
    assert response.status_code == status, response.text
    assert rule in response.json()["data"][field]
    assert not (Path(media_root(services.settings)) / "child").exists() or not os.listdir(
        Path(media_root(services.settings)) / "child")
    assert "content_type" not in api.ok("GET", f"{BASE}/refused")


def test_audio_over_the_limit_is_413_naming_it_with_or_without_a_content_length(services: Services) -> None:
    small = dataclasses.replace(services, settings=dataclasses.replace(services.settings, media_max_bytes=4000))
    with serve_api(small) as api:
        api.ok("PUT", BASE, json={"data": {**DOC, "id": "long"}})
        audio = wav_bytes(0.5)
        for body in (audio, iter([audio[:3000], audio[3000:]])):  # the second is sent chunked
            response = upload(api, "long", body)  # type: ignore[arg-type]
            assert response.status_code == 413, response.text
            assert "4000 bytes (CONTROLLER_MEDIA_MAX_BYTES)" in response.json()["data"]["file"]["maxLength"]
        assert upload(api, "long", wav_bytes(0.1)).status_code == 200
    assert len(stored_file(services, "long", "wav").read_bytes()) < 4000


def test_the_uploads_own_fields_are_not_taken_from_a_client(api: Client) -> None:
    doc = api.ok("PUT", BASE, json={"data": {**DOC, "id": "claims", "content_type": "audio/mpeg",
                                             "content_length": 5}})
    assert "content_type" not in doc and "content_length" not in doc
    upload(api, "claims", wav_bytes())
    replaced = api.ok("POST", f"{BASE}/claims", json={"data": {**DOC, "name": "Renamed", "content_type": "audio/mpeg"}})
    assert replaced["name"] == "Renamed" and replaced["content_type"] == "audio/wav"
    patched = api.ok("PATCH", f"{BASE}/claims", json={"data": {"content_length": 1, "content_type": None}})
    assert patched["content_type"] == "audio/wav" and patched["content_length"] > 1


def test_documents_are_validated_as_kazoos_media_schema(api: Client) -> None:
    tts = api.call("PUT", BASE, json={"data": {"name": "Spoken", "media_source": "tts"}})
    assert tts.status_code == 400 and "required" in tts.json()["data"]["tts"]
    wrong = api.call("PUT", BASE, json={"data": {"name": "", "media_source": "fax", "tts": {"voice": "robot voice"}}})
    assert set(wrong.json()["data"]) == {"name", "media_source", "tts.voice"}
    kazoo = {"name": "Main AA", "media_source": "tts", "language": "en-us", "streamable": True,
             "tts": {"text": "Thank you for calling.", "voice": "female/en-US"},
             "ui_metadata": {"origin": "callflows", "ui": "monster-ui"}}
    assert api.call("PUT", BASE, json={"data": kazoo}).status_code == 201


@pytest.mark.parametrize("media_id", ["..", "...", "a.b", "..%2F..%2Fetc%2Fpasswd", "%2E%2E", "x%00y"])
def test_path_traversal_ids_are_refused_and_nothing_is_written_outside(
    api: Client, services: Services, media_id: str
) -> None:
    created = api.call("PUT", BASE, json={"data": {**DOC, "id": media_id.replace("%2F", "/")}})
    assert created.status_code == 400
    for method in ("GET", "POST", "PUT"):
        response = api.call(method, f"{BASE}/{media_id}/raw", data=wav_bytes(), headers={"Content-Type": "audio/wav"})
        assert 400 <= response.status_code < 500 and response.status_code != 403, (method, response.text)
    root = Path(media_root(services.settings))
    assert not root.exists() or list(root.rglob("*")) == []


def test_another_accounts_media_can_neither_be_read_nor_changed(api: Client, services: Services) -> None:
    api.ok("PUT", BASE, json={"data": {**DOC, "id": "secret"}})
    audio = wav_bytes()
    upload(api, "secret", audio)
    for method, path in (("GET", BASE), ("GET", f"{BASE}/secret"), ("GET", f"{BASE}/secret/raw"),
                         ("POST", f"{BASE}/secret/raw"), ("PUT", f"{BASE}/secret/raw"), ("DELETE", f"{BASE}/secret"),
                         ("POST", f"{BASE}/secret"), ("PUT", BASE)):
        response = api.call(method, path, "other", data=wav_bytes(0.3), headers={"Content-Type": "audio/wav"})
        assert response.status_code == 403, (method, path, response.text)
    assert stored_file(services, "secret", "wav").read_bytes() == audio
    assert api.call("GET", f"{BASE}/secret/raw", "reseller_ro").content == audio  # a parent's token reads it
    assert upload(api, "secret", wav_bytes(0.3), who="reseller_ro").status_code == 403


def test_a_stored_file_swapped_for_a_symlink_is_not_served(api: Client, services: Services, tmp_path: Path) -> None:
    api.ok("PUT", BASE, json={"data": {**DOC, "id": "swapped"}})
    upload(api, "swapped", wav_bytes())
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF not for you")
    path = stored_file(services, "swapped", "wav")
    path.unlink()
    path.symlink_to(secret)
    assert api.call("GET", f"{BASE}/swapped/raw").status_code == 404
    api.ok("DELETE", f"{BASE}/swapped")
    assert secret.exists() and not path.is_symlink()


def test_deleting_an_account_removes_its_media_files(api: Client, services: Services) -> None:
    grandchild = "/v2/accounts/grandchild/media"
    api.ok("PUT", grandchild, json={"data": {**DOC, "id": "gone"}})
    api.call("POST", f"{grandchild}/gone/raw", data=wav_bytes(), headers={"Content-Type": "audio/wav"})
    assert stored_file(services, "gone", "wav", "grandchild").exists()
    api.ok("DELETE", "/v2/accounts/grandchild")
    assert not stored_file(services, "gone", "wav", "grandchild").parent.exists()


def test_media_uploaded_through_the_api_is_played_by_the_next_call_by_its_id(
    api: Client, services: Services, esl_server: OutboundServer
) -> None:
    media_id = api.ok("PUT", BASE, json={"data": DOC})["id"]
    upload(api, media_id, wav_bytes())
    flow = node("play", {"id": media_id}, _=node("play", {"id": f"/child/{media_id}"}))
    api.ok("PUT", "/v2/accounts/child/callflows", json={"data": {"numbers": ["4700"], "flow": flow}})
    path = str(stored_file(services, media_id, "wav"))
    assert call(esl_server, "4700", account_id="child").args_of("playback") == [path, path]
    api.call("POST", f"{BASE}/{media_id}/raw", data=mp3_bytes(), headers={"Content-Type": "audio/mpeg"})
    assert call(esl_server, "4700", account_id="child").args_of("playback")[0] == path.removesuffix(".wav") + ".mp3"
    api.ok("DELETE", f"{BASE}/{media_id}")
    record = call(esl_server, "4700", account_id="child")
    assert record.args_of("playback") == []  # logged and skipped, as Kazoo: the call goes on
    assert record.app_names()[-1] == "hangup"


def test_a_voicemail_messages_recording_is_downloaded_from_its_boxs_folder_only(
    api: Client, services: Services, tmp_path: Path
) -> None:
    api.ok("PUT", "/v2/accounts/child/vmboxes", json={"data": {"id": "vm-1", "mailbox": "1001"}})
    folder = Path(services.settings.voicemail_dir) / "child" / "vm-1"
    folder.mkdir(parents=True)
    audio = wav_bytes()
    (folder / "m-1.wav").write_bytes(audio)
    outside = tmp_path / "elsewhere.wav"
    outside.write_bytes(audio)
    (folder / "m-3.wav").symlink_to(outside)
    message = {"timestamp": 1795440020.0, "length": 1, "caller_id_name": "Carol", "caller_id_number": "+15550100"}
    for media_id, path in (("m-1", folder / "m-1.wav"), ("m-2", outside), ("m-3", folder / "m-3.wav"),
                           ("m-4", folder / ".." / ".." / ".." / outside.name)):
        services.messages.add("child", "vm-1", {**message, "media_id": media_id, "media_path": str(path)})
    base = "/v2/accounts/child/vmboxes/vm-1/messages"
    raw = api.call("GET", f"{base}/m-1/raw", headers={"Accept": "audio/wav"})
    assert raw.status_code == 200 and raw.content == audio
    assert raw.headers["Content-Type"] == "audio/wav"
    assert raw.headers["Content-Disposition"] == "attachment; filename=voicemail-Carol-+15550100-20261123-132020.wav"
    for media_id in ("m-2", "m-3", "m-4", "m-none"):
        assert api.call("GET", f"{base}/{media_id}/raw").status_code == 404, media_id
    assert api.call("GET", f"{base}/m-1/raw", "other").status_code == 403
