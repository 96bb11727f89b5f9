"""bench-freeswitch counts the product's mail against the alerts its calls queued (its /metrics),
not against the calls SIPp saw succeed: duplicates and losses are told apart by Message-ID."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gevent.pywsgi import WSGIServer

from controller.lab.bench_freeswitch import Mail, Mailbox

METRICS = b"""# HELP controller_missed_call_alerts_total Missed-call alerts enqueued
# TYPE controller_missed_call_alerts_total counter
controller_missed_call_alerts_total 3.0
controller_missed_call_alerts_created 1.7e9
"""


@pytest.fixture
def metrics_url() -> Iterator[str]:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [METRICS]

    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.stop()


def test_the_product_mail_is_counted_against_its_own_alerts(metrics_url: str, tmp_path: Path) -> None:
    sink = tmp_path / "sink.log"
    sink.write_text("<a@x> 1.0 data\n<b@x> 1.1 data\n<b@x> 1.2 data\n<c@x> 1.3 data\n")
    mail = Mailbox(sink, metrics_url).collect(timeout=5)
    assert mail == Mail(alerts=3, emails=4, distinct=3)
    assert mail.summary() == "alerts 3 emails 4 (1 duplicate, 0 lost)"


def test_an_alert_whose_email_never_came_is_counted_lost(metrics_url: str, tmp_path: Path) -> None:
    sink = tmp_path / "sink.log"
    sink.write_text("<a@x> 1.0 data\n")
    mail = Mailbox(sink, metrics_url).collect(timeout=1)
    assert mail.summary() == "alerts 3 emails 1 (0 duplicate, 2 lost)"
