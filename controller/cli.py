"""The `controller` command (also `python -m controller`): one entry point, one subcommand per
role or tool. gevent's monkey patching happens here, first, before anything opens a socket."""

from gevent import monkey

monkey.patch_all()

import argparse
import dataclasses
import errno
import sys
from collections.abc import Sequence

import redis

from controller import config, localredis, logcontext
from controller.commands import api, flows, jobs, lab, mailer, run, serve, tokens
from controller.errors import ConfigError

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


def with_private_redis(settings: config.Settings) -> config.Settings:
    """With no Redis configured, the private Redis of a running `controller run` (its socket in
    data_dir) is the one every command uses."""
    if not localredis.is_wanted(settings):
        return settings
    sock = localredis.socket_in(settings.data_dir)
    return dataclasses.replace(settings, redis_url=localredis.url_for(sock)) if sock.exists() else settings


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = config.load()
    except ConfigError as exc:
        print(f"controller: configuration refused: {exc}", file=sys.stderr)
        return 2
    for line in config.unknown_variables():
        print(f"controller: warning: {line}", file=sys.stderr)
    settings = with_private_redis(settings)
    logcontext.configure(settings.log_level, settings.log_format)
    try:
        return int(args.run(args, settings) or 0)
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        print(f"controller: cannot listen: {exc}; choose another address or port "
              "(CONTROLLER_ESL_LISTEN, CONTROLLER_API_LISTEN)", file=sys.stderr)
        return 1
    except redis.ResponseError as exc:
        if "DB index" not in str(exc):
            raise
        print(f"controller: Redis at {settings.redis_url} refused the database: {exc}", file=sys.stderr)
        return 1
    except redis.ConnectionError as exc:
        print(
            f"controller: cannot reach Redis at {settings.redis_url}: {exc} "
            "(start `controller run`, which brings its own, or set CONTROLLER_REDIS_URL)",
            file=sys.stderr,
        )
        return 1
