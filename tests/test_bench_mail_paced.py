"""`controller lab bench-mail --paced`: a mailer process fed one job at a time delivers every
email and its CPU per email is reported (figures are for the benchmark, not asserted here)."""

import argparse
import tempfile
from pathlib import Path

import pytest
import redis

from controller import config
from controller.commands.lab import rates
from controller.lab import bench_mail
from controller.lab.processes import free_port
from controller.store.bundle import load_bundle


def test_a_paced_mailer_delivers_every_job_and_its_cost_is_measured(redis_url: str, rds: redis.Redis) -> None:
    settings = config.load({"CONTROLLER_REDIS_URL": redis_url})
    load_bundle(rds, bench_mail.BUNDLE, "test")
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        sink = Path(folder) / "accepted"
        smtp = bench_mail._smtp("fast", port, sink)
        try:
            result = bench_mail.paced(settings, rds, port, sink, rate=20, seconds=1.0)
        finally:
            smtp.terminate()
            smtp.wait(10)
    assert result.emails == 20
    assert result.cpu > 0 and "mailer cpu" in result.line()


def test_paced_rates_are_positive_numbers() -> None:
    assert rates("1,10, 200") == (1.0, 10.0, 200.0)
    for wrong in ("fast", "0,10", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            rates(wrong)
