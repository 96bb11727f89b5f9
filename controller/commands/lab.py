"""`controller lab ...`: benchmarks and simulated calls against a running system."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from controller.config import Settings
from controller.lab import attack, bench, bench_freeswitch, bench_mail, bench_match, calls, faults, recording
from controller.lab.freeswitch import FreeSwitchError, missing_reason
from controller.store.connection import connect, connected


def register(commands: Any) -> None:
    parser = commands.add_parser("lab", help="simulated calls, benchmarks and fault and attack runs",
                                 description="Simulated calls against a running controller (`lab call`), and the "
                                 "benchmarks, fault runs and attack runs that measure it (docs/benchmarks.md).")
    sub = parser.add_subparsers(dest="lab_command", required=True, metavar="ACTION")
    match = sub.add_parser("bench-match", help="time callflow lookups in a large account",
                           description="Load N callflows and P patterns into a scratch account of the configured "
                           "Redis and print the lookup times (p50, p99).")
    match.add_argument("--callflows", type=int, default=100_000)
    match.add_argument("--patterns", type=int, default=1_000)
    match.add_argument("--lookups", type=int, default=20_000)
    match.set_defaults(run=run_bench_match)
    load = sub.add_parser("bench", help="the ESL server against a bare greenswitch application",
                          description="Run the ESL server, a bare greenswitch application and a raw gevent floor "
                          "under the same simulated load, each in its own process, and print each one's rate, "
                          "setup latency and CPU per call.")
    load.add_argument("--calls", type=int, default=5000, help="calls per measured run")
    load.add_argument("--rate", type=float, default=1000.0, help="offered calls per second")
    load.add_argument("--hold", type=int, default=10000, help="calls held open to measure memory (0: skip)")
    load.add_argument("--chart", type=Path, help="also draw setup latency against offered load into this PNG")
    load.add_argument(
        "--driver", choices=bench.DRIVERS, default="replay",
        help="replay: one simulator call recorded per server, replayed by a light process of its own; "
        "simulator: every call played by the simulator (about 2 ms of CPU per call)",
    )
    load.set_defaults(run=run_bench)
    _bench_mail_parser(sub)
    real = sub.add_parser("bench-freeswitch",
                          help="SIPp through a real FreeSWITCH into the raw floor, the floor with one email a "
                          "call, then the whole product",
                          description="Place SIPp calls through a real FreeSWITCH (/opt/freeswitch) into a raw "
                          "gevent floor, the floor plus one Redis job and one email a call, then a whole "
                          "`controller run`, and print success, INVITE->200 "
                          "latency, each side's CPU per call and emails per missed call.")
    real.add_argument("--calls", type=int, default=1000, help="calls per server")
    real.add_argument("--rate", type=float, default=100.0, help="calls per second")
    real.add_argument("--servers", default=",".join(bench_freeswitch.SERVERS),
                      help="which servers, in order (floor, floor-mail, product)")
    real.add_argument("--mail-wait", type=float, default=120.0, help="seconds to wait for the product's emails")
    real.add_argument("--keep", type=Path, help="leave FreeSWITCH's, SIPp's and the servers' files in this new folder")
    real.add_argument("--realtime", action="store_true",
                      help="start each server at SCHED_RR 1, as the systemd units do (docs/deployment.md)")
    real.set_defaults(run=run_bench_freeswitch)
    call = sub.add_parser("call", help="place simulated calls against the running controller and summarise them",
                          description="Place calls as FreeSWITCH would, over its wire format, against the "
                          "controller at CONTROLLER_ESL_LISTEN, then print the calls by outcome, the notifications "
                          "they enqueued and delivered, and where the mail is. Exit status 1 when a call could not "
                          "connect, failed or a notification was not delivered in time.")
    call.add_argument("--to", required=True, help="the number dialled")
    call.add_argument("--from", dest="caller", default="+15550001111", help="caller number (internal: SIP username)")
    call.add_argument("--name", default="Lab Caller", help="caller ID name")
    call.add_argument("--scenario", choices=calls.SCENARIOS, default="no-answer")
    call.add_argument("--count", type=int, default=1, help="how many calls")
    call.add_argument("--rate", type=float, default=1.0, help="calls started per second")
    call.add_argument("--account", help="the account id the dialplan would set (controller_account_id)")
    call.add_argument("--record", type=float, default=5.0, help="voicemail: seconds the caller talks")
    call.add_argument("--dtmf", default="", help="voicemail: digits the caller presses at the prompts")
    call.add_argument("--hangup-after", type=float, default=3.0, help="hangup: seconds before the caller hangs up")
    call.add_argument("--time-scale", type=float, default=1.0, help="FreeSWITCH times (ring timeouts) times this")
    call.add_argument("--wait", type=float, default=15.0, help="seconds to wait for the notifications to be mailed")
    call.set_defaults(run=run_call)
    fault = sub.add_parser("faults", help="kill and restart real processes under simulated calls; count lost alerts",
                           description="The fault benchmark: each row kills or stops a real process (Redis, the "
                           "mail sender, the SMTP server, `serve`, the whole run) under simulated missed calls and "
                           "counts the alerts lost and duplicated (docs/faults.md). Exit status 1 if a row fails.")
    fault.add_argument("--rows", default=",".join(str(r.number) for r in faults.ROWS),
                       help="which rows, e.g. 1,4 (1 none, 2 mail sender killed, 3 SMTP down, 4-5 Redis restarted, "
                       "6 serve killed, 7 greylisting, 8 controller run killed)")
    fault.add_argument("--scale", type=float, default=1.0, help="calls and waits times this (0.1: a quick run)")
    fault.add_argument("--smtp-down", type=float, default=20.0, help="seconds the SMTP sink is down in row 3")
    fault.add_argument("--keep", type=Path, help="leave each row's logs and data in this new folder")
    fault.set_defaults(run=run_faults)
    _register_attack(sub)


def _register_attack(sub: Any) -> None:
    attacks = sub.add_parser("attack", help="attacks against a controller run, beside normal calls; "
                             "one row each: held or broken, call setup p99, /healthz, memory",
                             description="Attack a `controller run` it starts (hostile ESL peers, templates, "
                             "tenants, input, jobs and configuration) beside a normal call every 50 ms, one row "
                             "per attack (docs/attacks.md). Exit status 1 if a row fails.")
    attacks.add_argument("--only", help=f"attacks by name, comma separated ({', '.join(attack.NAMES)})")
    attacks.add_argument("--quick", action="store_true", help="a quick subset (about 30 s)")
    attacks.add_argument("--keep", type=Path, help="leave the run's logs, data and outbox in this new folder")
    attacks.set_defaults(run=run_attack)


def run_bench_match(args: argparse.Namespace, settings: Settings) -> int:
    bench_match.run(connect(settings), args.callflows, args.patterns, args.lookups)
    return 0


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    options = bench.Options(calls=args.calls, rate=args.rate, hold=args.hold, chart=args.chart, driver=args.driver)
    try:
        bench.run(settings, connect(settings), options)
    except recording.NotReplayableError as exc:
        print(f"controller lab bench: cannot replay: {exc} (--driver simulator plays every call)", file=sys.stderr)
        return 1
    return 0


def _bench_mail_parser(sub: Any) -> None:
    mail = sub.add_parser("bench-mail", help="mail sender: emails/s per worker and end-to-end alert latency",
                          description="Measure one mail sender's emails per second against a local SMTP sink, "
                          "beside plain smtplib, then the delay from a missed call's end to its email.")
    mail.add_argument("--jobs", type=int, default=2000, help="emails per throughput run")
    mail.add_argument("--calls", type=int, default=1000, help="missed calls for the latency run")
    mail.add_argument("--rate", type=float, default=100.0, help="calls per second for the latency run")
    mail.add_argument("--repeat", type=int, default=3, help="throughput runs of each kind")
    mail.add_argument("--sink", choices=("fast", "aiosmtpd"), default="fast", help="the SMTP server measured against")
    mail.add_argument("--paced", type=rates, default=(), metavar="RATES",
                      help="instead: a mailer process fed one job at a time at each of these rates "
                      "(emails/s, comma-separated, e.g. 1,10,100,200): its CPU per email")
    mail.add_argument("--seconds", type=float, default=10.0, help="how long each paced rate is fed")
    mail.set_defaults(run=run_bench_mail)


def rates(text: str) -> tuple[float, ...]:
    try:
        found = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected rates such as 1,10,100, not {text!r}") from None
    if not found or min(found) <= 0:
        raise argparse.ArgumentTypeError("expected positive rates such as 1,10,100")
    return found


def run_bench_mail(args: argparse.Namespace, settings: Settings) -> int:
    options = bench_mail.Options(args.jobs, args.calls, args.rate, args.repeat, args.sink, args.paced, args.seconds)
    bench_mail.run(settings, connect(settings), options)
    return 0


def run_bench_freeswitch(args: argparse.Namespace, settings: Settings) -> int:
    reason = missing_reason()
    if reason is not None:
        print(f"controller lab bench-freeswitch: {reason}", file=sys.stderr)
        return 1
    servers = tuple(s.strip() for s in args.servers.split(",") if s.strip())
    unknown = [s for s in servers if s not in bench_freeswitch.SERVERS]
    if unknown or not servers:
        print(f"controller lab bench-freeswitch: --servers takes {', '.join(bench_freeswitch.SERVERS)}",
              file=sys.stderr)
        return 2
    options = bench_freeswitch.Options(args.calls, args.rate, servers, args.mail_wait, args.keep, args.realtime)
    try:
        bench_freeswitch.run(options)
    except FreeSwitchError as exc:
        print(f"controller lab bench-freeswitch: {exc}", file=sys.stderr)
        return 1
    return 0


def run_call(args: argparse.Namespace, settings: Settings) -> int:
    options = calls.Options(
        to=args.to, caller=args.caller, name=args.name, scenario=args.scenario, count=args.count, rate=args.rate,
        account=args.account, record=args.record, dtmf=args.dtmf, hangup_after=args.hangup_after,
        time_scale=args.time_scale, wait=args.wait,
    )
    with connected(settings) as rds:
        summary = calls.run(settings, rds, options)
    found = calls.problems(summary, options, settings)
    for line in found:
        print(f"controller lab call: {line}", file=sys.stderr)
    return 1 if found else 0


def run_faults(args: argparse.Namespace, settings: Settings) -> int:
    try:
        rows = tuple(int(r) for r in args.rows.split(",") if r.strip())
    except ValueError:
        rows = ()
    known = {r.number for r in faults.ROWS}
    if not rows or not set(rows) <= known or args.scale <= 0:
        print(f"controller lab faults: --rows takes numbers among {sorted(known)}, --scale a positive number",
              file=sys.stderr)
        return 2
    results = faults.run(faults.Options(rows=rows, scale=args.scale, smtp_down=args.smtp_down, keep=args.keep))
    return 0 if all(r.passed for r in results) else 1


def run_attack(args: argparse.Namespace, settings: Settings) -> int:
    only = tuple(n.strip() for n in (args.only or "").split(",") if n.strip())
    unknown = sorted(set(only) - set(attack.NAMES))
    if unknown:
        print(f"controller lab attack: unknown attacks {', '.join(unknown)}; known: {', '.join(attack.NAMES)}",
              file=sys.stderr)
        return 2
    try:
        results = attack.run(attack.Options(only=only, quick=args.quick, keep=args.keep))
    except RuntimeError as exc:  # the system attacked could not be started or set up
        print(f"controller lab attack: {exc}", file=sys.stderr)
        return 1
    return 0 if results and all(r.passed for r in results) else 1
