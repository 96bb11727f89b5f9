"""Every command says what it does in its --help, and every failure says what to do next and exits
non-zero: `jobs replay` with an id that is not dead, `lab call` when nothing listens or the number
reaches no callflow, `flows match` without the account a pattern needs, `tokens create` for an
account that does not exist."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest
import redis

from controller import cli
from controller.commands import flows, jobs, lab, tokens
from controller.config import Listen, Settings
from controller.esl.server import OutboundServer
from controller.notify.job import make_job
from controller.notify.queue import JobQueue
from tests.conftest import free_port
from tests.office import ACCOUNT, bundle, flow, node


def subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every subcommand's parser, by its full name (`jobs replay`), nested ones included."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[f"{prefix}{name}"] = sub
                found.update(subcommands(sub, f"{prefix}{name} "))
    return found


def command(register: object, settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())  # type: ignore[operator]
    args = parser.parse_args(list(argv))
    return int(args.run(args, settings))


def test_every_command_has_a_description_in_its_help() -> None:
    parser = cli.build_parser()
    found = subcommands(parser)
    assert {"run", "serve", "api", "mailer", "jobs replay", "lab call", "flows match"} <= set(found)
    undescribed = sorted(name for name, sub in found.items() if not (sub.description or "").strip())
    assert undescribed == []
    for name in ("run", "serve", "api"):
        assert len(found[name].description or "") > 80, name  # a sentence, not a word


def test_the_top_level_help_speaks_to_an_operator_not_of_the_implementation() -> None:
    text = cli.build_parser().format_help()
    assert "monkey" not in text and "gevent" not in text
    assert "controller run" in text and "README" in text
    assert not any("issue" in (sub.format_help()) for sub in subcommands(cli.build_parser()).values())


def test_replaying_an_id_that_is_not_dead_names_it_and_exits_1(
    settings: Settings, rds: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = JobQueue(rds)
    job = make_job("missed_call", ACCOUNT, {"call_id": "c-1"}, instance="t", recipients=[])
    queue.enqueue(job)
    claimed = queue.claim_batch("w", 1, timeout=1)
    assert queue.fail("w", claimed[0], "refused for the test", permanent=True) == "dead"
    assert command(jobs.register, settings, "jobs", "replay", "nosuchid", job["id"]) == 1
    out, err = capsys.readouterr()
    assert "re-queued 1 job(s)" in out
    assert "no dead job 'nosuchid'" in err and "controller jobs dead" in err
    assert command(jobs.register, settings, "jobs", "replay", job["id"]) == 1  # replayed already: not dead
    assert command(jobs.register, settings, "jobs", "replay") == 0
    assert "no dead jobs to replay" in capsys.readouterr().out


def test_a_lab_call_that_cannot_connect_says_where_it_dialled_and_exits_1(
    settings: Settings, rds: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere = dataclasses.replace(settings, esl_listen=Listen("127.0.0.1", free_port()))
    assert command(lab.register, nowhere, "lab", "call", "--to", "+15554441111", "--wait", "0") == 1
    err = capsys.readouterr().err
    assert f"1 of 1 call(s) could not connect to {nowhere.esl_listen}" in err
    assert "start `controller run`" in err


def test_a_lab_call_to_a_number_without_callflow_says_how_to_add_one_and_exits_1(
    settings: Settings, rds: redis.Redis, esl_server: OutboundServer, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "office.json").write_text(json.dumps(bundle([flow("+15554441111", node("answer", {}))])))
    assert command(flows.register, settings, "flows", "load", str(tmp_path / "office.json")) == 0
    serving = dataclasses.replace(settings, esl_listen=Listen(*esl_server.address))
    argv = ["lab", "call", "--to", "+15559990000", "--account", ACCOUNT, "--time-scale", "0.01", "--wait", "0"]
    assert command(lab.register, serving, *argv) == 1
    err = capsys.readouterr().err
    assert "found no callflow: load one (`controller flows load FILE`)" in err
    assert f"controller flows match '+15559990000' --account {ACCOUNT}" in err
    argv = ["lab", "call", "--to", "+15554441111", "--account", ACCOUNT, "--scenario", "answered",
            "--time-scale", "0.01", "--wait", "0"]
    assert command(lab.register, serving, *argv) == 0
    assert "controller lab call:" not in capsys.readouterr().err


def test_matching_a_pattern_without_an_account_asks_for_the_account(
    settings: Settings, rds: redis.Redis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert command(flows.register, settings, "flows", "load", "flows/office.json") == 0
    capsys.readouterr()
    assert command(flows.register, settings, "flows", "match", "*97", "--caller", "1001") == 1
    assert "name the account with --account ACCOUNT_ID" in capsys.readouterr().err
    office = "d62e78a7630949a10d48dc8a431758d7"
    assert command(flows.register, settings, "flows", "match", "*97", "--account", office, "--caller", "1001") == 0
    assert "pattern '^\\\\*97$'" in capsys.readouterr().out


def test_a_token_goes_alone_to_standard_output_and_a_missing_account_is_explained(
    settings: Settings, rds: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert command(tokens.register, settings, "tokens", "create", "--account", "nope") == 1
    assert "load its bundle first" in capsys.readouterr().err
    assert command(flows.register, settings, "flows", "load", "flows/office.json") == 0
    capsys.readouterr()
    assert command(tokens.register, settings, "tokens", "create", "--account", "d62e78a7630949a10d48dc8a431758d7") == 0
    out, err = capsys.readouterr()
    assert len(out.split()) == 1 and "not shown again" in err
