"""receive_fax through the real server, the simulator as a fax machine calling (its rxfax as
mod_spandsp answers it: controller/lab/fax.py): the steps sent to FreeSWITCH, the one job each
fax leaves, and caller text kept out of every application argument."""

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import redis
from PIL import Image

from controller import config
from controller.esl.server import OutboundServer
from controller.lab.fax import FaxSender
from controller.notify.job import job_errors
from tests.office import ACCOUNT, call, flow, load, node, queued_jobs

FAST = 0.001  # spandsp's 60 s T0 becomes 60 ms
BOX = {"id": "fb-front", "name": "Front desk fax", "owner_id": "u-ann", "fax_identity": "+15550001000",
       "fax_header": "Test Office", "notifications": {"inbound": {"email": {"send_to": ["desk@office.test"]}}}}
HOSTILE = "${system(touch /tmp/pwned)}\\$'{x}<b>\nBcc: evil@example.com"


@pytest.fixture
def settings(settings: config.Settings, tmp_path: Path) -> config.Settings:
    """The test settings with the received faxes in a scratch folder."""
    return dataclasses.replace(settings, fax_dir=str(tmp_path / "fax"))


def fax_call(server: OutboundServer, number: str, **scenario: Any) -> Any:
    scenario.setdefault("fax", FaxSender(pages=2))
    return call(server, number, time_scale=FAST, **scenario)


def test_a_fax_to_a_faxbox_is_received_into_the_accounts_folder_and_mailed_once(
    rds: redis.Redis, esl_server: OutboundServer, settings: config.Settings
) -> None:
    load(rds, flow("700", node("receive_fax", {"faxbox_id": "fb-front"})), faxboxes=[BOX])
    record = fax_call(esl_server, "700", caller_name="Fax Sender", caller_number="+15557770000")
    assert record.app_names() == ["multiset", "mkdir", "answer", "rxfax", "hangup"]
    settings_arg = record.apps[0][1]
    for setting in ("fax_enable_t38=false", "fax_enable_t38_request=false", "fax_ident=+15550001000",
                    "fax_header=Test Office", "fax_result_code=", "fax_success="):
        assert setting in settings_arg.split("\x1f")
    folder = f"{settings.fax_dir}/{ACCOUNT}"
    assert record.args_of("mkdir") == [folder]  # rxfax does not create it
    [path] = record.args_of("rxfax")
    assert path.startswith(folder + "/") and path.endswith(".tiff")
    with Image.open(path) as tiff:  # written by the simulator, as mod_spandsp would
        assert tiff.n_frames == 2
    assert record.hangup_cause == "NORMAL_CLEARING"
    [job] = queued_jobs(rds)
    assert job_errors(job) == []
    assert job["type"] == "fax_inbound_to_email"
    assert job["recipients"] == [{"type": "user", "id": "u-ann"}, {"type": "email", "id": ["desk@office.test"]}]
    fax = job["data"]["fax"]
    assert (fax["success"], fax["result_code"], fax["result_text"], fax["media_path"]) == (True, 0, "OK", path)
    assert (fax["transferred_pages"], fax["box_id"], fax["box_name"]) == (2, "fb-front", "Front desk fax")
    assert fax["remote_station_id"] == "+15557770000" and fax["owner_id"] == "u-ann"


def test_t38_follows_the_nodes_fax_option_before_the_boxes(rds: redis.Redis, esl_server: OutboundServer) -> None:
    box = {**BOX, "media": {"fax_option": True}}
    load(rds, flow("701", node("receive_fax", {"faxbox_id": "fb-front"})),
         flow("702", node("receive_fax", {"id": "fb-front", "media": {"fax_option": "false"}})), faxboxes=[box])
    offered = fax_call(esl_server, "701", fax=FaxSender(t38=True)).apps[0][1].split("\x1f")
    assert "fax_enable_t38=true" in offered and "fax_enable_t38_request=true" in offered
    refused = fax_call(esl_server, "702").apps[0][1].split("\x1f")
    assert "fax_enable_t38=false" in refused and "fax_enable_t38_request=false" in refused
    assert [j["data"]["fax"]["t38"] for j in queued_jobs(rds)] == [True, False]


def test_a_fax_for_an_owner_without_a_box_goes_to_that_user(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("703", node("receive_fax", {"owner_id": "u-bob"})))
    record = fax_call(esl_server, "703")
    assert "fax_ident=703" in record.apps[0][1].split("\x1f")  # the number dialled, as Kazoo's default
    [job] = queued_jobs(rds)
    assert job["type"] == "fax_inbound_to_email" and job["recipients"] == [{"type": "user", "id": "u-bob"}]
    assert "box_id" not in job["data"]["fax"]


@pytest.mark.parametrize(("scenario", "code", "text"), [
    ({"fax": FaxSender(result_code=49, seconds=0.01)}, 49, "The call dropped prematurely"),
    ({"fax": FaxSender(seconds=5.0), "hangup_during": ("rxfax", 0.05)}, 49, "The call dropped prematurely"),
    ({"fax": None}, 2, "Timed out waiting for initial communication"),
], ids=["t30-error", "caller-hangs-up", "no-fax-tones"])
def test_a_failed_fax_leaves_one_error_job_with_spandsps_result_text(
    rds: redis.Redis, esl_server: OutboundServer, scenario: dict[str, Any], code: int, text: str
) -> None:
    load(rds, flow("704", node("receive_fax", {"faxbox_id": "fb-front"})), faxboxes=[BOX])
    record = fax_call(esl_server, "704", **scenario)
    assert "rxfax" in record.app_names()
    [job] = queued_jobs(rds)
    assert job_errors(job) == []
    assert job["type"] == "fax_inbound_error_to_email"
    fax = job["data"]["fax"]
    assert (fax["success"], fax["result_code"], fax["result_text"]) == (False, code, text)
    assert "media_path" not in fax and fax["transferred_pages"] == 0


def test_a_fax_whose_folder_cannot_be_made_fails_with_an_error_job(
    rds: redis.Redis, esl_server: OutboundServer, settings: config.Settings
) -> None:
    Path(settings.fax_dir).write_text("a file where the folder should be")
    load(rds, flow("705", node("receive_fax", {"owner_id": "u-ann"})))
    fax_call(esl_server, "705")
    [job] = queued_jobs(rds)
    assert job["type"] == "fax_inbound_error_to_email"
    assert job["data"]["fax"]["result_text"] == "TIFF/F file cannot be opened"


def test_caller_text_never_reaches_an_application_argument(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("706", node("receive_fax", {"faxbox_id": "fb-front"})), faxboxes=[BOX])
    record = fax_call(esl_server, "706", caller_name=HOSTILE, caller_number="+1555$(id)",
                      fax=FaxSender(station_id=HOSTILE))
    for app, arg in record.apps:
        assert "system" not in arg and "$(id)" not in arg and "evil@" not in arg, (app, arg)
    assert record.api_calls == []
    [job] = queued_jobs(rds)
    assert job["call"]["caller_id_name"] == HOSTILE  # kept as sent, for the email (escaped there)
    assert job["data"]["fax"]["remote_station_id"] == HOSTILE


def test_skip_module_continues_to_the_default_child(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("707", node("receive_fax", {"skip_module": True}, _=node("hangup"))))
    record = fax_call(esl_server, "707")
    assert "rxfax" not in record.app_names()
    assert queued_jobs(rds) == []


@pytest.mark.parametrize("scenario", [{}, {"fax": None}], ids=["received", "failed"])
def test_a_fax_call_behind_a_missed_call_alert_is_one_email_the_faxs_own(
    rds: redis.Redis, esl_server: OutboundServer, scenario: dict[str, Any]
) -> None:
    alert = {"recipients": [{"type": "user", "id": "u-ann"}]}
    load(rds, flow("708", node("missed_call_alert", alert, _=node("receive_fax", {"faxbox_id": "fb-front"}))),
         faxboxes=[BOX])
    fax_call(esl_server, "708", **scenario)
    assert [job["type"] for job in queued_jobs(rds)] in (["fax_inbound_to_email"], ["fax_inbound_error_to_email"])
