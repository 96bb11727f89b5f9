"""The Redis client's connections answer redis-py's "unread bytes waiting?" with one poll(2)
(controller/store/connection.py, QuickPoll), and give the same answer as redis-py's own check:
clean, holding an unread reply, closed by the server."""

import socket
from pathlib import Path

import redis

from controller import config
from controller.store.connection import QuickPoll, connect


def client(redis_url: str) -> redis.Redis:
    return connect(config.load({"CONTROLLER_REDIS_URL": redis_url}))


def test_the_pools_connections_poll_quickly_for_tcp_and_unix_sockets(redis_url: str, tmp_path: Path) -> None:
    for url in (redis_url, f"unix://{tmp_path}/redis.sock"):
        pool = connect(config.load({"CONTROLLER_REDIS_URL": url})).connection_pool
        assert issubclass(pool.connection_class, QuickPoll)
        assert pool.connection_class.__mro__[2] in (redis.Connection, redis.UnixDomainSocketConnection)


def test_a_clean_connection_reads_as_clean_and_is_reused(redis_url: str, rds: redis.Redis) -> None:
    rds.set("k", "v")
    quick = client(redis_url)
    assert quick.get("k") == "v"
    conn = quick.connection_pool.get_connection()
    try:
        assert conn.can_read() is False
    finally:
        quick.connection_pool.release(conn)
    assert quick.get("k") == "v"
    assert len(quick.connection_pool._connections) == 1  # the same connection served both
    quick.connection_pool.disconnect()


def test_a_connection_holding_an_unread_reply_says_so(redis_url: str, rds: redis.Redis) -> None:
    rds.set("other", "unread")
    quick = client(redis_url)
    conn = quick.connection_pool.get_connection()
    conn.send_command("GET", "other")  # its reply is never read
    reply_arrived = socket.socket(fileno=conn._sock.fileno())
    try:
        reply_arrived.setblocking(True)
        reply_arrived.recv(1, socket.MSG_PEEK)
    finally:
        reply_arrived.detach()
    assert conn.can_read() is True
    assert super(QuickPoll, conn).can_read() is True  # redis-py's own answer
    assert conn.read_response() == "unread"
    assert conn.can_read() is False
    quick.connection_pool.release(conn)
    quick.connection_pool.disconnect()


def test_a_connection_the_server_closed_is_reconnected(redis_url: str, rds: redis.Redis) -> None:
    rds.set("k", "v")
    quick = client(redis_url)
    quick.client_setname("quick-poll-test")
    assert quick.get("k") == "v"
    [victim] = [c for c in rds.client_list() if c["name"] == "quick-poll-test"]
    rds.client_kill_filter(_id=victim["id"])
    assert quick.get("k") == "v"
    quick.connection_pool.disconnect()
