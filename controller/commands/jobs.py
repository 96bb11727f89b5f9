"""`controller jobs ...`: look at and repair the notification queue."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import redis

from controller.config import Settings
from controller.notify.queue import JobQueue
from controller.store import keys
from controller.store.connection import connected


def register(commands: Any) -> None:
    parser = commands.add_parser("jobs", help="notification queue: stats, dead letters, replay",
                                 description="Look at and repair the notification queue in Redis.")
    sub = parser.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    stats = sub.add_parser("stats", help="queue depth, oldest job age, retries, dead letters",
                           description="Print the queue's ready jobs, the age of the oldest ready and oldest "
                           "undelivered job, retries waiting, jobs held, the live mail senders and dead letters.")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(run=run_stats)
    dead = sub.add_parser("dead", help="list dead-lettered jobs with their last error",
                          description="List the jobs that failed their last delivery attempt, oldest first, "
                          "with their last error; `controller jobs replay` sends them again.")
    dead.add_argument("--limit", type=int, default=100)
    dead.add_argument("--json", action="store_true", help="print JSON lines, job documents included")
    dead.set_defaults(run=run_dead)
    replay = sub.add_parser("replay", help="re-queue dead jobs (all, or the ids given)",
                            description="Put dead-lettered jobs (all, or those named by the ids "
                            "`controller jobs dead` shows) back on the queue with a fresh attempt count.")
    replay.add_argument("job_ids", nargs="*", metavar="JOB_ID")
    replay.set_defaults(run=run_replay)


def run_stats(args: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as rds:
        queue = JobQueue(rds)
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
    with connected(settings) as rds:
        entries = JobQueue(rds).dead(args.limit)
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


def _is_dead(rds: redis.Redis, job_id: str) -> bool:
    return rds.zscore(keys.QUEUE_DEAD, job_id) is not None


def run_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Every job named must be a dead one: an id that is not (a typo, a job already replayed or
    delivered) is named, and the exit status is 1."""
    with connected(settings) as rds:
        queue = JobQueue(rds)
        if not args.job_ids:
            moved = queue.replay(None)
            print(f"re-queued {moved} job(s)" if moved else "no dead jobs to replay")
            return 0
        wanted = list(dict.fromkeys(args.job_ids))
        missing = [job_id for job_id in wanted if not _is_dead(rds, job_id)]
        moved = queue.replay([job_id for job_id in wanted if job_id not in missing])
    print(f"re-queued {moved} job(s)")
    for job_id in missing:
        print(f"controller jobs replay: no dead job {job_id!r}: `controller jobs dead` lists the ids of dead jobs",
              file=sys.stderr)
    return 1 if missing else 0
