"""The `controller` command (also `python -m controller`): one entry point, one subcommand per
role or tool. gevent's monkey patching happens here, first, before anything opens a socket."""

from gevent import monkey

monkey.patch_all()

import argparse
import dataclasses
import errno
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import redis

from controller import config, localredis, logcontext, runrecord
from controller.commands import api, flows, jobs, lab, mailer, run, serve, tokens
from controller.errors import ConfigError
from controller.logcontext import announce

DESCRIPTION = """\
The FreeSWITCH call controller: FreeSWITCH hands each call to it over an outbound event socket, it
runs the account's callflow on the channel, and it emails (or texts) the alerts the callflow asks
for. `controller run` starts everything; the other commands load callflows, place simulated calls,
look after the notification queue and manage API tokens."""
EPILOG = "Each command has its own --help. The operator's guide is README.md; settings are CONTROLLER_* variables."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="controller", description=DESCRIPTION, epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    flows.register(commands)
    jobs.register(commands)
    mailer.register(commands)
    lab.register(commands)
    serve.register(commands)
    run.register(commands)
    api.register(commands)
    tokens.register(commands)
    return parser


def load_settings(command: str, environ: Mapping[str, str] | None = None) -> tuple[config.Settings, Mapping[str, str]]:
    """The settings and the environment they came from. With no Redis configured, every command
    but `run` uses the private Redis of a running `controller run`: the one in data_dir, else the
    run recorded in the user's state directory when the command has nothing of its own to go by
    (controller/runrecord.py)."""
    env = os.environ if environ is None else environ
    settings = config.load(env)
    if command == "run" or not localredis.is_wanted(settings, env):
        return settings, env
    if not localredis.socket_in(settings.data_dir).exists():
        recorded = runrecord.recorded_environment(env)
        if recorded is not None:
            env = recorded[0]
            settings = config.load(env)
            if not localredis.is_wanted(settings, env):
                return settings, env
    sock = localredis.socket_in(settings.data_dir)
    if sock.exists():
        settings = dataclasses.replace(settings, redis_url=localredis.url_for(sock))
    return settings, env


def unreachable(settings: config.Settings, env: Mapping[str, str], exc: Exception) -> str:
    """Why no Redis answers, and what to do."""
    if localredis.is_wanted(settings, env) and not settings.redis_url.startswith("unix://"):
        return (f"no Redis: no `controller run` is running on {Path(settings.data_dir).resolve()} (its private "
                f"Redis) and none is recorded in {runrecord.path(env)}; start `controller run` (./conf/run in the "
                "repository), or set CONTROLLER_REDIS_URL to your Redis")
    if localredis.is_wanted(settings, env):
        return f"cannot reach the private Redis of `controller run` at {settings.redis_url}: {exc}; is it stopping?"
    return f"cannot reach Redis at {settings.redis_url}: {exc} (check CONTROLLER_REDIS_URL and that Redis runs)"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Until the settings are known, the format the environment asks for (if it is a valid one).
    early = os.environ.get("CONTROLLER_LOG_FORMAT", "text")
    logcontext.configure("INFO", early if early in ("text", "json") else "text")
    try:
        settings, env = load_settings(args.command)
    except ConfigError as exc:
        announce(f"configuration refused: {exc}", logging.ERROR)
        return 2
    for line in config.unknown_variables():
        announce(f"warning: {line}", logging.WARNING)
    logcontext.configure(settings.log_level, settings.log_format)
    try:
        return int(args.run(args, settings) or 0)
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        announce(f"cannot listen: {exc}; choose another address or port "
                 "(CONTROLLER_ESL_LISTEN, CONTROLLER_API_LISTEN)", logging.ERROR)
        return 1
    except redis.ResponseError as exc:
        if "DB index" not in str(exc):
            raise
        announce(f"Redis at {settings.redis_url} refused the database: {exc}", logging.ERROR)
        return 1
    except redis.ConnectionError as exc:
        announce(unreachable(settings, env, exc), logging.ERROR)
        return 1
