"""`controller api` as an operator runs it: a process serving on CONTROLLER_API_LISTEN that stops
cleanly on SIGTERM."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import gevent
import redis
import requests

from controller.store.documents import Accounts
from controller.store.tokens import Tokens
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_controller_api_serves_on_its_listen_address_and_stops_on_sigterm(redis_url: str, rds: redis.Redis) -> None:
    Accounts(rds).save({"id": "acme", "name": "Acme"})
    secret, _ = Tokens(rds).create("acme")
    port = free_port()
    env = {**os.environ, "CONTROLLER_REDIS_URL": redis_url, "CONTROLLER_API_LISTEN": f"127.0.0.1:{port}",
           "CONTROLLER_CONFIG": str(ROOT / "tests" / "controller-test.toml")}
    proc = subprocess.Popen([sys.executable, "-m", "controller", "api"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        assert f"API listening on http://127.0.0.1:{port}/ " in proc.stdout.readline()  # where the landing answers
        with gevent.Timeout(10):
            answer = requests.get(f"http://127.0.0.1:{port}/v2/accounts/acme", headers={"X-Auth-Token": secret},
                                  timeout=5)
        assert answer.status_code == 200 and answer.json()["data"]["name"] == "Acme"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
