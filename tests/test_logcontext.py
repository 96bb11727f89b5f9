"""Every log line written while a call runs names the call and its account."""

import json
import logging
from collections.abc import Iterator

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
