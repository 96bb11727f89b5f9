"""The `controller` command (also `python -m controller`): one entry point, one subcommand per
role or tool. gevent's monkey patching happens here, first, before anything opens a socket."""

from gevent import monkey

monkey.patch_all()

import argparse
import logging
import sys
from collections.abc import Sequence

from controller import config
from controller.commands import api, flows, jobs, lab, mailer, serve, tokens
from controller.errors import ConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="controller", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    flows.register(commands)
    jobs.register(commands)
    mailer.register(commands)
    lab.register(commands)
    serve.register(commands)
    api.register(commands)
    tokens.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = config.load()
    except ConfigError as exc:
        print(f"controller: configuration refused: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    return int(args.run(args, settings) or 0)
