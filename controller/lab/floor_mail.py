"""The least a call and its email can cost in the product's design, for `controller lab bench-
freeswitch` (its `floor-mail` server), measured beside the floor and the product.

`python -m controller.lab.floor_mail --port P --smtp HOST:PORT --redis-dir DIR` speaks the floor's
ESL dialogue (controller/lab/baseline.py: answer -> 200 ms tone -> hangup, framing and nothing
else), and at each call's end pushes one job onto a list of its own private Redis (started as its
child, configured as `controller run`'s: append-only, fsync each second); in the same process a
greenlet pops the jobs and sends each as one email over one SMTP connection kept open (MAIL, RCPT
and BDAT pipelined in one write): a prepared ~5 KB multipart message (the size of the product's
missed-call email) whose Message-ID is the call's. Nothing else: no callflow, no event parsing, no
templates, no exactly-once records, no roles in processes of their own. Whatever the product does
beyond this is what it adds.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import uuid
from email import policy
from email.message import EmailMessage
from pathlib import Path

from gevent import monkey

monkey.patch_all()

import gevent
import redis
from gevent import socket as gsocket
from gevent.server import StreamServer

from controller.lab.baseline import TONE_STEPS, floor_call
from controller.localredis import LocalRedis

JOBS = "floor:jobs"
CALLS = "floor:calls"  # calls that queued a job: what the benchmark expects as many emails of
SENDER, RECIPIENT = "pbx@bench.example.com", "alerts@bench.example.com"
MARK = "@@MESSAGE-ID@@"


def prepared_message() -> bytes:
    """A multipart (text and HTML) message of about 5 KB, its Message-ID left to fill in."""
    message = EmailMessage()
    message["From"], message["To"] = SENDER, RECIPIENT
    message["Subject"] = "Missed call from +15550001111"
    message["Message-ID"] = MARK
    line = "You missed a call from +15550001111 (Bench Caller) to +15554449999 at 12:00:00 UTC. "
    message.set_content(line * 20)
    message.add_alternative("<html><body>" + f"<p>{line}</p>" * 20 + "</body></html>", subtype="html")
    return message.as_bytes(policy=policy.SMTP)


class FloorMail:
    """One job per call, one email per job."""

    def __init__(self, rds: redis.Redis, smtp: tuple[str, int]) -> None:
        self.rds, self.smtp = rds, smtp
        self.message = prepared_message()

    def call(self, sock: gsocket.socket, address: object) -> None:
        try:
            if not floor_call(sock, address, TONE_STEPS):
                return  # not a call: a probe of the port
        except OSError:
            pass  # the caller gone early: still its one email
        pipe = self.rds.pipeline(transaction=False)
        pipe.lpush(JOBS, uuid.uuid4().hex)
        pipe.incr(CALLS)
        pipe.execute()

    def send_forever(self) -> None:
        connection: Smtp | None = None
        while True:
            try:
                popped = self.rds.brpop([JOBS], timeout=1)
            except redis.ConnectionError:  # its Redis stopping with it, or restarted
                gevent.sleep(0.5)
                continue
            if popped is None:
                continue
            ident = popped[1].decode() if isinstance(popped[1], bytes) else str(popped[1])
            try:
                connection = connection or Smtp(self.smtp)
                connection.send(self.message.replace(MARK.encode(), f"<{ident}@floor>".encode()))
            except OSError:
                logging.warning("floor-mail: email %s not sent; the job goes back", ident, exc_info=True)
                self.rds.rpush(JOBS, ident)
                if connection is not None:
                    connection.close()
                connection = None
                gevent.sleep(0.5)


class Smtp:
    """The least SMTP client: EHLO once, then per message MAIL, RCPT and BDAT LAST with the
    message in one write (PIPELINING, CHUNKING) and their three replies in one read or so."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = gsocket.create_connection(address, timeout=10)
        self.file = self.sock.makefile("rb")
        self._replies(1)  # the greeting
        self.sock.sendall(b"EHLO floor\r\n")
        self._replies(1)

    def send(self, message: bytes) -> None:
        envelope = f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RECIPIENT}>\r\nBDAT {len(message)} LAST\r\n"
        self.sock.sendall(envelope.encode() + message)
        self._replies(3)

    def _replies(self, count: int) -> None:
        """Read `count` replies (the last line of each has a space after its code); a 4xx or 5xx fails."""
        for _ in range(count):
            while True:
                line = self.file.readline()
                if not line:
                    raise OSError("the SMTP server closed the connection")
                if line[:1] not in (b"2", b"3"):
                    raise OSError(f"SMTP server said {line.decode(errors='replace').strip()}")
                if line[3:4] != b"-":
                    break

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
            self.sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--smtp", required=True, help="HOST:PORT of the SMTP server")
    parser.add_argument("--redis-dir", type=Path, required=True, help="folder of its private Redis")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    local = LocalRedis(args.redis_dir)
    server = local.spawn()
    try:
        rds = redis.Redis.from_url(local.url)
        for _ in range(200):
            if local.answers():
                break
            gevent.sleep(0.05)
        host, _, port = args.smtp.rpartition(":")
        floor = FloorMail(rds, (host, int(port)))
        gevent.spawn(floor.send_forever)
        stream = StreamServer(("127.0.0.1", args.port), floor.call, backlog=4096)
        gevent.signal_handler(signal.SIGTERM, stream.close)  # then its Redis is stopped below
        stream.serve_forever()
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
