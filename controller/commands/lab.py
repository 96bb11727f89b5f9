"""`controller lab ...`: benchmarks and simulated calls against a running system."""

from __future__ import annotations

import argparse
from typing import Any

from controller.config import Settings
from controller.lab import bench_match
from controller.store.connection import connect


def register(commands: Any) -> None:
    parser = commands.add_parser("lab", help="benchmarks and simulated calls")
    sub = parser.add_subparsers(dest="lab_command", required=True, metavar="ACTION")
    match = sub.add_parser("bench-match", help="time callflow lookups in a large account")
    match.add_argument("--callflows", type=int, default=100_000)
    match.add_argument("--patterns", type=int, default=1_000)
    match.add_argument("--lookups", type=int, default=20_000)
    match.set_defaults(run=run_bench_match)


def run_bench_match(args: argparse.Namespace, settings: Settings) -> int:
    bench_match.run(connect(settings), args.callflows, args.patterns, args.lookups)
    return 0
