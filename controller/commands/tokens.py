"""`controller tokens ...`: API tokens. `create` prints the new token once (only its sha256 digest
is stored); `list` shows digests and rights; `revoke` removes tokens by digest prefix."""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from controller.config import Settings
from controller.store.connection import connect
from controller.store.documents import Accounts
from controller.store.tokens import Tokens


def register(commands: Any) -> None:
    parser = commands.add_parser("tokens", help="create, list and revoke HTTP API tokens")
    sub = parser.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    create = sub.add_parser("create", help="create a token and print it (once)")
    create.add_argument("--account", required=True, help="the account the token belongs to")
    create.add_argument("--admin", action="store_true", help="may write (otherwise read only)")
    create.add_argument("--super", action="store_true", help="super admin: every account, system templates")
    create.set_defaults(run=run_create)
    listing = sub.add_parser("list", help="list tokens (digest, account, rights)")
    listing.set_defaults(run=run_list)
    revoke = sub.add_parser("revoke", help="revoke tokens by digest prefix (8+ hex digits)")
    revoke.add_argument("digest")
    revoke.set_defaults(run=run_revoke)


@contextmanager
def _redis(settings: Settings) -> Iterator[redis.Redis]:
    rds = connect(settings)
    try:
        yield rds
    finally:
        rds.connection_pool.disconnect()


def run_create(args: argparse.Namespace, settings: Settings) -> int:
    with _redis(settings) as rds:
        if not Accounts(rds).exists(args.account):
            print(f"controller: no account {args.account!r}")
            return 1
        secret, token = Tokens(rds).create(args.account, admin=args.admin, super_admin=args.super)
    rights = "super admin" if token.super else "admin" if token.admin else "read only"
    print(secret)
    print(f"controller: token {token.digest[:12]} for account {token.account_id} ({rights}); it is not shown again")
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    with _redis(settings) as rds:
        found = Tokens(rds).all()
    for token in found:
        rights = "super" if token.super else "admin" if token.admin else "read"
        created = datetime.datetime.fromtimestamp(token.created, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        print(f"{token.digest[:16]}  {token.account_id}  {rights}  {created} UTC")
    return 0


def run_revoke(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with _redis(settings) as rds:
            gone = Tokens(rds).revoke(args.digest)
    except ValueError as exc:
        print(f"controller: {exc}")
        return 2
    print(f"controller: {len(gone)} token(s) revoked")
    return 0 if gone else 1
