"""The outbound server: allow-list, call cap, draining, and bad peers that end only their call."""

import dataclasses
import ipaddress

import gevent
import redis
from gevent import socket as gsocket

from controller.esl.lifecycle import CallLifecycle
from controller.esl.server import OutboundServer
from controller.executor import Executor
from controller.modules import REGISTRY
from controller.services import Services
from tests.office import call, flow, load, node


def start(services: Services, **overrides: object) -> OutboundServer:
    settings = dataclasses.replace(services.settings, **overrides)  # type: ignore[arg-type]
    lifecycle = CallLifecycle(dataclasses.replace(services, settings=settings), Executor(REGISTRY))
    server = OutboundServer(settings, lifecycle)
    server.start()
    return server


def closed_without_a_word(address: tuple[str, int]) -> bool:
    sock = gsocket.create_connection(address, timeout=5)
    try:
        return sock.recv(100) == b""
    finally:
        sock.close()


def test_peers_outside_the_allow_list_are_refused(services: Services) -> None:
    server = start(services, esl_allow=(ipaddress.ip_network("10.0.0.0/8"),))
    try:
        assert closed_without_a_word(server.address)
    finally:
        server.stop(1)


def test_past_the_cap_a_call_is_refused_at_once(rds: redis.Redis, services: Services) -> None:
    load(rds, flow("300", node("sleep", {"duration": 1})))
    server = start(services, max_calls=2)
    try:
        held = [gevent.spawn(call, server, "300") for _ in range(2)]
        gevent.sleep(0.2)
        assert server.active_calls == 2
        refused = call(server, "300")
        # `connect` first (FreeSWITCH's async socket app waits for it while the channel is up),
        # then `resume`: once the socket closes, the dialplan goes on with its next action.
        assert refused.command_lines() == ["connect", "resume"]
        assert refused.resumed and refused.closed_by == "server" and refused.apps == []
        assert server.refused == 1
        gevent.joinall(held, timeout=10)
        assert all(job.value.app_names() == ["sleep", "hangup"] for job in held)
    finally:
        server.stop(1)


def test_stop_lets_calls_in_progress_finish(rds: redis.Redis, services: Services) -> None:
    load(rds, flow("301", node("sleep", {"duration": 300, "unit": "ms"}, _=node("play", {"id": "/bye.wav"}))))
    server = start(services)
    job = gevent.spawn(call, server, "301")
    gevent.sleep(0.1)
    server.stop(drain_seconds=5)
    record = job.get(timeout=5)
    assert record.args_of("playback") == ["/bye.wav"]


def test_broken_peers_end_only_their_own_call(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("302", node("answer")))
    garbage = [
        b"Content-Length: 99999999999\n\n",  # a lying Content-Length
        b"not a header line at all\n\n",  # a malformed frame
        b"Content-Type: command/reply\nContent-Length: 50\n\nshort",  # body cut short, then EOF
    ]
    for payload in garbage:
        sock = gsocket.create_connection(esl_server.address, timeout=5)
        sock.recv(100)  # `connect`
        sock.sendall(payload)
        sock.close()
    silent = gsocket.create_connection(esl_server.address, timeout=5)  # never replies
    record = call(esl_server, "302")
    assert record.app_names() == ["answer", "hangup"]
    silent.close()


def test_a_caller_id_name_with_a_line_break_is_just_a_name(rds: redis.Redis, esl_server: OutboundServer) -> None:
    load(rds, flow("303", node("set_cid", {"caller_id_name": "Front desk"})))
    record = call(esl_server, "303", caller_name="Eve\nEvent-Name: CHANNEL_HANGUP_COMPLETE")
    assert record.app_names() == ["multiset", "hangup"]
