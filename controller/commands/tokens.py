"""`controller tokens ...`: API tokens. `create` prints the new token once (only its sha256 digest
is stored); `list` shows digests and rights; `revoke` removes tokens by digest prefix."""

from __future__ import annotations

import argparse
import datetime
import sys
from typing import Any

from controller.config import Settings
from controller.store.connection import connected
from controller.store.documents import Accounts
from controller.store.tokens import Tokens


def register(commands: Any) -> None:
    parser = commands.add_parser("tokens", help="create, list and revoke HTTP API tokens",
                                 description="Manage the tokens the HTTP API accepts in X-Auth-Token.")
    sub = parser.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    create = sub.add_parser("create", help="create a token and print it (once)",
                            description="Create a token for an account (which must exist) and print it on "
                            "standard output, once: only its digest is stored.")
    create.add_argument("--account", required=True, help="the account the token belongs to")
    create.add_argument("--admin", action="store_true", help="may write (otherwise read only)")
    create.add_argument("--super", action="store_true", help="super admin: every account, system templates")
    create.set_defaults(run=run_create)
    listing = sub.add_parser("list", help="list tokens (digest, account, rights)",
                             description="List every token: digest prefix, account, rights, creation time.")
    listing.set_defaults(run=run_list)
    revoke = sub.add_parser("revoke", help="revoke tokens by digest prefix (8+ hex digits)",
                            description="Revoke the tokens whose digest starts with DIGEST (8 or more hex digits, "
                            "as `controller tokens list` shows them).")
    revoke.add_argument("digest", metavar="DIGEST", help="8 or more hex digits of the digest")
    revoke.set_defaults(run=run_revoke)


def run_create(args: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as rds:
        if not Accounts(rds).exists(args.account):
            print(f"controller: no account {args.account!r}: load its bundle first (`controller flows load FILE`)",
                  file=sys.stderr)
            return 1
        secret, token = Tokens(rds).create(args.account, admin=args.admin, super_admin=args.super)
    rights = "super admin" if token.super else "admin" if token.admin else "read only"
    print(secret)  # alone on standard output: TOKEN=$(controller tokens create ...) keeps it
    print(f"controller: token {token.digest[:12]} for account {token.account_id} ({rights}); it is not shown again",
          file=sys.stderr)
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    with connected(settings) as rds:
        found = Tokens(rds).all()
    for token in found:
        rights = "super" if token.super else "admin" if token.admin else "read"
        created = datetime.datetime.fromtimestamp(token.created, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        print(f"{token.digest[:16]}  {token.account_id}  {rights}  {created} UTC")
    return 0


def run_revoke(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with connected(settings) as rds:
            gone = Tokens(rds).revoke(args.digest)
    except ValueError as exc:
        print(f"controller: {exc}", file=sys.stderr)
        return 2
    print(f"controller: {len(gone)} token(s) revoked")
    if not gone:
        print(f"controller: no token's digest starts with {args.digest!r}: `controller tokens list` shows them",
              file=sys.stderr)
    return 0 if gone else 1
