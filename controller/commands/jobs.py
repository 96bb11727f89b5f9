"""`controller jobs ...`: look at and repair the notification queue."""

from __future__ import annotations

import argparse
import json
from typing import Any

from controller.config import Settings
from controller.notify.queue import JobQueue
from controller.store.connection import connect


def register(commands: Any) -> None:
    parser = commands.add_parser("jobs", help="notification queue: stats, dead letters, replay")
    sub = parser.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    stats = sub.add_parser("stats", help="queue depth, oldest job age, retries, dead letters")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(run=run_stats)
    dead = sub.add_parser("dead", help="list dead-lettered jobs with their last error")
    dead.add_argument("--limit", type=int, default=100)
    dead.add_argument("--json", action="store_true", help="print JSON lines, job documents included")
    dead.set_defaults(run=run_dead)
    replay = sub.add_parser("replay", help="re-queue dead jobs (all, or the ids given)")
    replay.add_argument("job_ids", nargs="*", metavar="JOB_ID")
    replay.set_defaults(run=run_replay)


def run_stats(args: argparse.Namespace, settings: Settings) -> int:
    queue = JobQueue(connect(settings))
    queue.promote()
    queue.reap()
    stats = queue.stats()
    if args.json:
        print(json.dumps(stats, sort_keys=True))
        return 0
    age, due = stats["oldest_ready_age"], stats["oldest_due_age"]
    print(f"ready:      {stats['ready']}")
    print(f"oldest:     {_age(age)} (ready), {_age(due)} (not delivered yet, retries included)")
    print(f"scheduled:  {stats['scheduled']} (retries waiting)")
    print(f"processing: {stats['processing']} (held)")
    print(f"workers:    {stats['workers']} alive{': ' if stats['workers'] else ''}{', '.join(stats['worker_names'])}")
    print(f"dead:       {stats['dead']}")
    return 0


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s"


def run_dead(args: argparse.Namespace, settings: Settings) -> int:
    entries = JobQueue(connect(settings)).dead(args.limit)
    for entry in entries:
        if args.json:
            print(json.dumps(entry, sort_keys=True))
            continue
        job = _parsed(entry["job"])
        what = f"{job.get('type', '?')} account={job.get('account_id', '?')}"
        print(f"{entry['id']}  {what}  attempts={entry['attempts']}  error={entry['error']}")
    if not entries and not args.json:
        print("no dead jobs")
    return 0


def _parsed(raw: str | None) -> dict[str, Any]:
    try:
        doc = json.loads(raw or "{}")
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def run_replay(args: argparse.Namespace, settings: Settings) -> int:
    moved = JobQueue(connect(settings)).replay(args.job_ids or None)
    print(f"re-queued {moved} job(s)")
    return 0 if moved or not args.job_ids else 1
