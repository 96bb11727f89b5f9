"""Every Redis key the controller uses is built here and nowhere else.

Layout (all values are JSON documents unless said otherwise):
- `accounts`                              set of account ids
- `account:{aid}`                         the account document
- `account:{aid}:children`                set of child account ids
- `account:{aid}:docs:{kind}`             hash id -> document, kind in DOC_KINDS
- `account:{aid}:numbers`                 hash number -> callflow id (one callflow per number)
- `account:{aid}:patterns`                hash callflow id -> JSON list of its patterns
- `account:{aid}:sip_users`               hash SIP username -> device id
- `account:{aid}:revision`                integer, bumped by every callflow change (cache key)
- `number:{number}:accounts`              set of the account ids whose callflows use the number
- `account:{aid}:cdrs`                    sorted set of call record ids by the call's start (unix time)
- `cdr:{aid}:{cdr id}`                     one call record, expiring after CONTROLLER_CDR_DAYS
- `account:{aid}:acdc_agents`             hash user id -> the agent's status (store/agents.py)
- `account:{aid}:acdc_waits`              hash queue id -> its recent waits (store/queue_waits.py)
"""

from __future__ import annotations

ACCOUNTS = "accounts"
DOC_KINDS = ("users", "devices", "vmboxes", "groups", "menus", "temporal_rules", "temporal_rules_sets", "media",
             "callflows", "queues", "conferences", "lists", "faxboxes", "directories")


def account(aid: str) -> str:
    return f"account:{aid}"


def children(aid: str) -> str:
    return f"account:{aid}:children"


def docs(aid: str, kind: str) -> str:
    if kind not in DOC_KINDS:
        raise ValueError(f"unknown document kind {kind!r}")
    return f"account:{aid}:docs:{kind}"


def numbers(aid: str) -> str:
    return f"account:{aid}:numbers"


def patterns(aid: str) -> str:
    return f"account:{aid}:patterns"


def sip_users(aid: str) -> str:
    return f"account:{aid}:sip_users"


def revision(aid: str) -> str:
    return f"account:{aid}:revision"


def number_accounts(number: str) -> str:
    return f"number:{number}:accounts"


def cdrs(aid: str) -> str:
    return f"account:{aid}:cdrs"


def cdr(aid: str, cdr_id: str) -> str:
    return f"cdr:{aid}:{cdr_id}"


def agent_statuses(aid: str) -> str:
    return f"account:{aid}:acdc_agents"


def queue_waits(aid: str) -> str:
    return f"account:{aid}:acdc_waits"


def all_of_account(aid: str) -> list[str]:
    """Every key that belongs to one account (used to replace an account atomically)."""
    return [account(aid), children(aid), numbers(aid), patterns(aid), sip_users(aid)] + [
        docs(aid, kind) for kind in DOC_KINDS
    ]


# --- the notification queue (controller/notify/queue.py) ------------------------------------------
# - `queue:ready`                  list of job ids ready to deliver (LPUSH in, BLMOVE out)
# - `queue:processing:{worker}`    list of the job ids one worker holds
# - `queue:workers`                set of worker names; `queue:heartbeat:{worker}` expires with the lease
# - `queue:scheduled`              sorted set job id -> time a retry is due
# - `queue:dead`                   sorted set job id -> time it was dead-lettered
# - `queue:job:{id}`               hash: doc, attempts, last_error, enqueued_at
# - `queue:enqueued:{key}`         set when a job with that idempotency key was enqueued
# - `queue:sent:{key}`             set when a job with that idempotency key was delivered
# - `queue:rcpt:{key}`             hash address -> SMTP receipt: the recipients of a job's email already
#                                  delivered while others wait for a retry (never sent to again)
# - `queue:due`                    sorted set job id -> time enqueued, of jobs neither delivered nor dead
#                                  (the age of the oldest due job)
# - `queue:failing`                hash worker -> time its deliveries started failing (none: they succeed)
QUEUE_READY = "queue:ready"
QUEUE_WORKERS = "queue:workers"
QUEUE_SCHEDULED = "queue:scheduled"
QUEUE_DEAD = "queue:dead"
QUEUE_DUE = "queue:due"
QUEUE_FAILING = "queue:failing"


def queue_processing(worker: str) -> str:
    return f"queue:processing:{worker}"


def queue_heartbeat(worker: str) -> str:
    return f"queue:heartbeat:{worker}"


def queue_job(job_id: str) -> str:
    return f"queue:job:{job_id}"


def queue_enqueued(key: str) -> str:
    return f"queue:enqueued:{key}"


def queue_sent(key: str) -> str:
    return f"queue:sent:{key}"


def queue_delivered_to(key: str) -> str:
    return f"queue:rcpt:{key}"


# --- calls in progress (controller/callstate.py) -----------------------------------------------------
# - `call:{uuid}`          hash: account, internal flag, channel data, handlers, flags (expires)
# - `call:{uuid}:claimed`  set by whoever runs the call's termination handlers (exactly once)


def call(uuid: str) -> str:
    return f"call:{uuid}"


def call_claimed(uuid: str) -> str:
    return f"call:{uuid}:claimed"


# --- notification templates and the SMTP log (controller/notify/) -----------------------------------
# - `template:{owner}:{id}`   JSON template with its bodies; owner is an account id or `system`
# - `smtplog:{aid}`           list of SMTP log entries (JSON), newest first, trimmed


def template(owner: str, template_id: str) -> str:
    return f"template:{owner}:{template_id}"


def smtplog(aid: str) -> str:
    return f"smtplog:{aid}"


# --- voicemail messages (controller/store/voicemail.py) ---------------------------------------------
# - `account:{aid}:vmbox:{box}:messages`   hash message id -> JSON metadata (caller, time, length,
#                                          media path, folder)
# - `account:{aid}:vmbox:{box}:order`      sorted set message id -> time left (oldest first)


def vm_messages(aid: str, box_id: str) -> str:
    return f"account:{aid}:vmbox:{box_id}:messages"


def vm_order(aid: str, box_id: str) -> str:
    return f"account:{aid}:vmbox:{box_id}:order"


# --- the HTTP API (controller/api/, controller/store/tokens.py) -------------------------------------
# - `api:tokens`              set of the sha256 digests of every API token
# - `api:token:{digest}`      JSON: account_id, admin, super, created (the token itself is never stored)
# - `templates:{owner}`       set of the template ids an owner (account id or `system`) defines
API_TOKENS = "api:tokens"


def api_token(digest: str) -> str:
    return f"api:token:{digest}"


def templates(owner: str) -> str:
    return f"templates:{owner}"


# --- logins: user_auth and api_auth (controller/store/logins.py) -----------------------------------
# - `account:{aid}:logins`        hash derived credentials (hex) -> user id: how a login finds its user
# - `account:{aid}:login_of`      hash user id -> JSON {method: derived credentials}: what to drop when they change
# - `account:{aid}:api_key`       JSON {digest, created}: the account's API key (only its sha256 is kept)
# - `api:api_key:{digest}`        the account id an API key belongs to
# - `api:login_failures:{scope}`  integer, failed logins of a client address or an account (expires)


def logins(aid: str) -> str:
    return f"account:{aid}:logins"


def login_of(aid: str) -> str:
    return f"account:{aid}:login_of"


def account_api_key(aid: str) -> str:
    return f"account:{aid}:api_key"


def api_key(digest: str) -> str:
    return f"api:api_key:{digest}"


def login_failures(scope: str) -> str:
    return f"api:login_failures:{scope}"
