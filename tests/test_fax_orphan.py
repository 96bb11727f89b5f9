"""A fax whose controller dies while rxfax runs is still one email, the fax's: its job's handler
is registered before rxfax starts, and a watcher finishing the call reads mod_spandsp's result
from the channel's CHANNEL_DESTROY (Call.apply_destroy). A missed_call_alert before it stays
silent: the call's one email is the fax's."""

from typing import Any

import gevent
import redis

from controller.call import Call, GoneChannel
from controller.modules import TERMINATION_HANDLERS, fax_notify
from controller.modules.missed_call_alert import alert_if_missed
from controller.services import Services
from tests.office import queued_jobs

DATA = {"Unique-ID": "fax-orphan-1", "Core-UUID": "core-1", "Caller-Caller-ID-Number": "+15550001",
        "Caller-Destination-Number": "+15554449999"}
RECEIVED = {"variable_fax_success": "1", "variable_fax_result_code": "0", "variable_fax_result_text": "OK",
            "variable_fax_document_transferred_pages": "2", "variable_fax_document_total_pages": "2",
            "Hangup-Cause": "NORMAL_CLEARING", "Caller-Channel-Answered-Time": "1796220853000000"}


def died_during_rxfax(services: Services) -> dict[str, Any]:
    """A call that registered an alert, then began a fax; its process dies: what Redis keeps."""
    call = Call(GoneChannel(), DATA, "acct-test", False, services)
    call.register_termination(alert_if_missed, {"recipients": [{"type": "email", "id": ["desk@office.test"]}]})
    fax_notify.expect(call, {"owner_id": "u-ann"}, None, fax_id="f1", started=1.0, path="/faxes/acct-test/f1.tiff")
    gevent.sleep(services.calls.window * 2)  # written, as a live call's state is
    snapshot = services.calls.load(call.uuid)
    assert snapshot is not None
    return snapshot


def finish_as_a_watcher(services: Services, snapshot: dict[str, Any], destroy: dict[str, str]) -> None:
    orphan = Call.from_snapshot(snapshot, services, TERMINATION_HANDLERS)
    orphan.apply_destroy(destroy)
    assert orphan.run_termination() == 2


def test_the_result_in_the_channels_last_variables_is_mailed_once(services: Services, rds: redis.Redis) -> None:
    finish_as_a_watcher(services, died_during_rxfax(services), RECEIVED)
    [job] = queued_jobs(rds)
    assert job["type"] == "fax_inbound_to_email"
    assert job["data"]["fax"]["transferred_pages"] == 2 and job["data"]["fax"]["media_path"].endswith("f1.tiff")
    assert job["data"]["fax"]["owner_id"] == "u-ann"


def test_without_a_result_the_error_email_says_the_call_dropped(services: Services, rds: redis.Redis) -> None:
    finish_as_a_watcher(services, died_during_rxfax(services), {"Hangup-Cause": "NORMAL_CLEARING"})
    [job] = queued_jobs(rds)
    assert job["type"] == "fax_inbound_error_to_email"
    assert job["data"]["fax"]["result_text"] == "The call dropped prematurely"
