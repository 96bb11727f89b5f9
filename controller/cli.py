"""The `controller` command (also `python -m controller`): one entry point, one subcommand per
role or tool. gevent's monkey patching happens here, first, before anything opens a socket."""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from controller import config  # noqa: E402
from controller.commands import flows, jobs, lab  # noqa: E402
from controller.errors import ConfigError  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="controller", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    flows.register(commands)
    jobs.register(commands)
    lab.register(commands)
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
