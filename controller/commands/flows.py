"""`controller flows ...`: check, load, export and try out callflow documents."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import redis

from controller.callflows.matcher import Matcher, resolve_account
from controller.config import Settings
from controller.errors import ControllerError, DocumentError
from controller.store import bundle
from controller.store.connection import connected
from controller.store.documents import Documents, device_by_sip_user


def register(commands: Any) -> None:
    parser = commands.add_parser("flows", help="check, load, export and match callflows",
                                 description="Work with callflow documents and account bundles (README: Accounts, "
                                 "callflows and bundles).")
    sub = parser.add_subparsers(dest="flows_command", required=True, metavar="ACTION")
    check = sub.add_parser("check", help="validate callflow or bundle files (no Redis needed)",
                           description="Validate callflow or bundle files; each error names the file and the JSON "
                           "path. Exit status 1 if any file is invalid.")
    check.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    check.set_defaults(run=run_check)
    load = sub.add_parser("load", help="import account bundles (all or nothing)",
                          description="Check, then import account bundles into Redis; a bundle replaces its "
                          "account's content. If any file has an error nothing is loaded.")
    load.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    load.set_defaults(run=run_load)
    export = sub.add_parser("export", help="print an account as a bundle",
                            description="Print an account and everything in it as a bundle (loadable again).")
    export.add_argument("account", metavar="ACCOUNT", help="the account id")
    export.set_defaults(run=run_export)
    match = sub.add_parser("match", help="show which callflow a number reaches, and why",
                           description="Show which callflow a dialed number reaches, why, and the pattern's "
                           "captures, as a call would find it.")
    match.add_argument("number", metavar="NUMBER", help="the number dialled, e.g. +15554441111 or '*97'")
    match.add_argument("--account", help="account id (default: resolved as for a call)")
    match.add_argument("--caller", help="calling device id or SIP username (an internal call)")
    match.set_defaults(run=run_match)


def _check_paths(paths: list[Path]) -> tuple[list[tuple[Path, Any]], bool]:
    """Read and check every file, printing findings; returns the documents and whether all pass."""
    documents, ok = [], True
    for path in paths:
        try:
            doc = bundle.read_json(path)
        except DocumentError as exc:
            print(f"error: {exc}", file=sys.stderr)
            ok = False
            continue
        report = bundle.check_document(doc, str(path))
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        for error in report.errors:
            print(f"error: {error}", file=sys.stderr)
        ok = ok and report.is_valid
        kind = "bundle" if bundle.is_bundle(doc) else "callflow"
        verdict = "valid" if report.is_valid else f"{len(report.errors)} error(s)"
        print(f"{path}: {kind}: {verdict}")
        documents.append((path, doc))
    return documents, ok


def run_check(args: argparse.Namespace, settings: Settings) -> int:
    return 0 if _check_paths(args.paths)[1] else 1


def run_load(args: argparse.Namespace, settings: Settings) -> int:
    documents, ok = _check_paths(args.paths)
    if not ok:
        print("nothing was loaded", file=sys.stderr)
        return 1
    not_bundles = [str(path) for path, doc in documents if not bundle.is_bundle(doc)]
    if not_bundles:
        print(f"error: not account bundles: {', '.join(not_bundles)}", file=sys.stderr)
        return 1
    with connected(settings) as rds:
        for path, doc in documents:
            try:
                counts = bundle.load_bundle(rds, doc, str(path))
            except ControllerError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
            print(f"{path}: loaded account {doc['account']['id']} ({summary})")
    return 0


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with connected(settings) as rds:
            doc = bundle.export_bundle(rds, args.account)
    except ControllerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    json.dump(doc, sys.stdout, indent=2, sort_keys=True)
    print()
    return 0


def run_match(args: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as rds:
        return _match(args, settings, rds)


def _match(args: argparse.Namespace, settings: Settings, rds: redis.Redis) -> int:
    aid, why = (args.account, "--account") if args.account else resolve_account(
        rds, args.number, None, settings.default_account
    )
    if aid is None:
        print(f"no callflow: {why}", file=sys.stderr)
        print("a number that only a pattern matches (a feature code such as '*97') belongs to no account "
              "by itself: name the account with --account ACCOUNT_ID", file=sys.stderr)
        return 1
    caller = None
    if args.caller:
        caller = Documents(rds, "devices").find(aid, args.caller) or device_by_sip_user(
            rds, aid, args.caller
        )
        if caller is None:
            print(f"error: no device {args.caller!r} in account {aid}", file=sys.stderr)
            return 1
    route = Matcher(rds).match(aid, args.number, is_internal=caller is not None)
    print(f"account:  {aid} ({why})")
    print(f"caller:   {'internal device ' + caller['id'] if caller else 'outside the account'}")
    if route is None:
        print("callflow: none matches")
        inside = None if caller else Matcher(rds).match(aid, args.number, is_internal=True)
        if inside is not None:
            print(f"callflow {inside.callflow_id} holds no_match: it routes only the account's own phones "
                  "(try --caller DEVICE)", file=sys.stderr)
            return 1
        print(f"no callflow of account {aid} has this number or a pattern matching it: add one "
              "(`controller flows load FILE` or the API)", file=sys.stderr)
        return 1
    name = route.callflow.get("name")
    print(f"callflow: {route.callflow_id}" + (f" ({name})" if name else ""))
    print(f"why:      {_why(route)}")
    if route.capture_group is not None:
        print(f"capture_group:  {route.capture_group}")
    if route.capture_groups:
        print(f"capture_groups: {json.dumps(route.capture_groups, sort_keys=True)}")
    print(f"flow:     {route.callflow.get('flow', {}).get('module', '-')}")
    return 0


def _why(route: Any) -> str:
    if route.reason == "number":
        return f"exact number {route.number!r}"
    if route.reason == "pattern":
        return f"pattern {route.pattern!r} (longest capture wins)"
    return "no_match callflow (internal caller, all-digit number)"
