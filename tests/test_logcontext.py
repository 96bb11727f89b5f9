"""Every log line written while a call runs names the call and its account."""

import datetime
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
import redis

from controller.esl.server import OutboundServer
from controller.logcontext import CallFilter, JsonFormatter, bind_call
from tests.office import ACCOUNT, call, flow, load, node


class Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.addFilter(CallFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def kept() -> Iterator[Keep]:
    handler = Keep()
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield handler
    root.setLevel(level)
    root.removeHandler(handler)


def test_lines_of_a_call_carry_its_uuid_and_account(rds: redis.Redis, esl_server: OutboundServer, kept: Keep) -> None:
    load(rds, flow("950", node("user", {"id": "u-nobody"})))  # logs "user missing or disabled"
    record = call(esl_server, "950")
    mine = [r for r in kept.records if r.name.startswith("controller.modules")]
    assert mine and all((r.call_id, r.account_id) == (record.uuid, ACCOUNT) for r in mine)


def test_each_greenlet_keeps_its_own_call() -> None:
    seen: list[tuple[str, str]] = []

    def one(uuid: str) -> None:
        bind_call(uuid, "acct-" + uuid)
        gevent.sleep(0.01)
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
        CallFilter().filter(record)
        seen.append((record.call_id, record.account_id))

    gevent.joinall([gevent.spawn(one, "a"), gevent.spawn(one, "b")])
    assert sorted(seen) == [("a", "acct-a"), ("b", "acct-b")]
    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    CallFilter().filter(outside)
    assert (outside.call_id, outside.account_id) == ("-", "-")


def test_json_lines() -> None:
    record = logging.LogRecord("controller.x", logging.WARNING, __file__, 1, "hello %s", ("there",), None)
    record.call_id, record.account_id = "c-1", "acct"
    line = json.loads(JsonFormatter().format(record))
    assert (line["message"], line["call"], line["account"], line["level"]) == ("hello there", "c-1", "acct", "WARNING")
    assert datetime.datetime.fromisoformat(line["time"]).utcoffset() == datetime.timedelta(0)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])


@pytest.fixture
def debug_kept(kept: Keep) -> Iterator[Keep]:
    logging.getLogger().setLevel(logging.DEBUG)
    return kept


def test_the_lines_of_a_calls_reader_carry_its_uuid_too(
    rds: redis.Redis, esl_server: OutboundServer, debug_kept: Keep
) -> None:
    load(rds, flow("951", node("answer")))
    record = call(esl_server, "951")
    gone = [r for r in debug_kept.records if "channel gone" in r.getMessage()]
    assert gone and all((r.call_id, r.account_id) == (record.uuid, ACCOUNT) for r in gone)


def test_in_the_json_format_every_line_a_command_writes_is_json(redis_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLLER_")}
    env.update({"CONTROLLER_CONFIG": os.devnull, "CONTROLLER_REDIS_URL": redis_url, "CONTROLLER_LOG_FORMAT": "json",
                "CONTROLLER_OUTBOX_DIR": str(tmp_path / "outbox"), "CONTROLLER_DATA_DIR": str(tmp_path / "var")})
    done = subprocess.run([sys.executable, "-m", "controller", "mailer", "--burst"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in (done.stdout + done.stderr).splitlines()]
    messages = [line["message"] for line in lines]
    assert any(m.startswith("mailer ") and "delivering to" in m for m in messages), messages
    assert any(m.startswith("mailer stopped after 0 jobs") for m in messages), messages
    assert all(datetime.datetime.fromisoformat(line["time"]).tzinfo is not None for line in lines)


def test_in_the_text_format_the_banner_keeps_its_plain_lines(redis_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLLER_")}
    env.update({"CONTROLLER_CONFIG": os.devnull, "CONTROLLER_REDIS_URL": redis_url, "CONTROLLER_LOG_LEVEL": "ERROR",
                "CONTROLLER_OUTBOX_DIR": str(tmp_path / "outbox"), "CONTROLLER_DATA_DIR": str(tmp_path / "var")})
    done = subprocess.run([sys.executable, "-m", "controller", "mailer", "--burst"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "controller: mailer stopped after 0 jobs"  # shown at any log level


def test_in_the_json_format_a_refused_configuration_is_json_too(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLLER_")}
    env.update({"CONTROLLER_CONFIG": os.devnull, "CONTROLLER_LOG_FORMAT": "json", "CONTROLLER_ESL_LISTEN": "x",
                "CONTROLLER_LOG_LEVL": "DEBUG"})
    done = subprocess.run([sys.executable, "-m", "controller", "jobs", "stats"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and done.stdout == ""
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["level"] for line in lines] == ["ERROR"]
    assert "CONTROLLER_ESL_LISTEN" in lines[0]["message"]
