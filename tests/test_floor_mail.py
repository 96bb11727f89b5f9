"""The benchmark's floor-mail server (controller/lab/floor_mail.py), the least the product's
design costs: each call it is handed ends in exactly one email at a real SMTP sink, counted in its
own Redis as bench-freeswitch counts it."""

import sys
from pathlib import Path

from controller import localredis
from controller.lab.bench_freeswitch import FLOOR_CALLS, Mail, Mailbox
from controller.lab.processes import Process, free_port
from controller.lab.scenario import Scenario
from controller.lab.simulator import run_call


def test_each_call_of_the_floor_mail_server_is_one_email(tmp_path: Path) -> None:
    sink, sink_port, port = tmp_path / "sink.log", free_port(), free_port()
    sink.touch()
    sink_command = [sys.executable, "-m", "controller.lab.smtp_sink", f"127.0.0.1:{sink_port}", str(sink)]
    command = [sys.executable, "-m", "controller.lab.floor_mail", "--port", str(port),
               "--smtp", f"127.0.0.1:{sink_port}", "--redis-dir", str(tmp_path / "redis")]
    with Process(sink_command, tmp_path / "sink.out") as sink_process, \
            Process(command, tmp_path / "floor.log") as server:
        sink_process.wait_port(sink_port, 30)
        server.wait_port(port, 30)
        records = [run_call(("127.0.0.1", port), Scenario(), timeout=10) for _ in range(3)]
        mailbox = Mailbox(sink, localredis.url_for(tmp_path / "redis" / "redis.sock"), count_key=FLOOR_CALLS)
        mail = mailbox.collect(timeout=10)
    assert [record.app_names()[:3] for record in records] == [["answer", "multiset", "playback"]] * 3
    assert all(record.app_names()[-1] == "hangup" for record in records)
    assert mail == Mail(alerts=3, emails=3, distinct=3)
    assert all(ident.endswith("@floor>") for ident in mailbox.ids())
