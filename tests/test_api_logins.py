"""Kazoo's logins over real HTTP: `PUT /v2/user_auth` with md5 or sha1 credentials and the account
named three ways, `PUT /v2/api_auth` with an account's API key; the tokens they make (expiring,
scoped to the account and the user's role); what is stored (no password, nothing a database
reader can log in with); failures that all look the same and are throttled."""

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from controller.errors import DocumentError
from controller.services import Services
from controller.store import keys
from controller.store.bundle import load_bundle
from controller.store.tokens import Tokens, digest_of
from tests.api_world import Client, serve_api

pytestmark = pytest.mark.timeout(120)

USERS = "/v2/accounts/child/users"
PASSWORD = "correct horse battery"


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with serve_api(services) as client:
        yield client


def credentials(username: str, password: str, method: str = "md5") -> str:
    digest = hashlib.md5 if method == "md5" else hashlib.sha1
    return digest(f"{username}:{password}".encode()).hexdigest()


def login(api: Client, **data: Any) -> Any:
    return api.call("PUT", "/v2/user_auth", None, json={"data": data})


def everything(rds: redis.Redis) -> str:
    """Every key and value in Redis, as text."""
    read = {"string": rds.get, "hash": rds.hgetall, "set": rds.smembers, "list": lambda k: rds.lrange(k, 0, -1),
            "zset": lambda k: rds.zrange(k, 0, -1)}
    return json.dumps({key: read[rds.type(key)](key) for key in rds.keys("*")}, default=sorted)  # type: ignore[index]


def make_user(api: Client, ident: str, username: str, **fields: Any) -> dict[str, Any]:
    return dict(api.ok("PUT", USERS, "child", json={"data": {"id": ident, "first_name": ident, "username": username,
                                                              "password": PASSWORD, **fields}}))


def test_a_user_logs_in_with_kazoos_credentials_and_gets_a_token_of_an_hour(api: Client, rds: redis.Redis) -> None:
    made = make_user(api, "u-alice", "Alice@Child.test", priv_level="admin")
    assert made["username"] == "alice@child.test" and "password" not in made  # lowercased, as Kazoo stores it
    assert "password" not in api.ok("GET", USERS + "/u-alice", "child")
    stored = everything(rds)
    for secret in (PASSWORD, credentials("alice@child.test", PASSWORD), credentials("alice@child.test", PASSWORD,
                                                                                     "sha")):
        assert secret not in stored  # neither the password nor what Kazoo kept (the digests a login sends)
    by_name = login(api, credentials=credentials("alice@child.test", PASSWORD), account_name="child office")
    assert by_name.status_code == 201, by_name.text
    body = by_name.json()
    token, data = body["auth_token"], body["data"]
    assert data["account_id"] == "child" and data["owner_id"] == "u-alice" and data["account_name"] == "Child Office"
    assert data["method"] == "cb_user_auth" and 3590 <= data["expires"] - time.time() <= 3600
    assert 3590 <= rds.ttl(keys.api_token(digest_of(token))) <= 3600
    assert api.ok("PATCH", "/v2/accounts/child", token, json={"data": {"timezone": "UTC"}})["timezone"] == "UTC"
    assert api.ok("GET", "/v2/accounts/grandchild", token)["id"] == "grandchild"  # the account's descendants too
    assert api.call("GET", "/v2/accounts/reseller", token).status_code == 403
    assert api.call("PUT", "/v2/notifications", token, json={"data": {"id": "x", "subject": "x"}}).status_code == 403
    by_realm = login(api, credentials=credentials("alice@child.test", PASSWORD, "sha"), method="sha",
                     account_realm="CHILD.test")
    assert by_realm.status_code == 201 and by_realm.json()["data"]["owner_id"] == "u-alice"
    flow = {"numbers": ["+15550004444"], "flow": {"module": "answer", "data": {}, "children": {}}}
    api.ok("PUT", "/v2/accounts/child/callflows", "child", json={"data": flow})
    by_number = login(api, credentials=credentials("alice@child.test", PASSWORD), phone_number="+15550004444")
    assert by_number.status_code == 201 and by_number.json()["data"]["account_id"] == "child"


def test_a_users_token_writes_only_for_an_admin_and_expires(api: Client, rds: redis.Redis) -> None:
    make_user(api, "u-bob", "bob")
    answer = login(api, credentials=credentials("bob", PASSWORD), account_name="Child Office")
    token = answer.json()["auth_token"]
    assert answer.json()["data"]["priv_level"] == "user"
    assert api.ok("GET", USERS + "/u-bob", token)["username"] == "bob"
    refused = api.call("PATCH", USERS + "/u-bob", token, json={"data": {"last_name": "X"}})
    assert refused.status_code == 403 and refused.json()["data"]["token"]["admin"]
    record = json.loads(rds.get(keys.api_token(digest_of(token))))  # type: ignore[arg-type]
    rds.set(keys.api_token(digest_of(token)), json.dumps({**record, "expires": time.time() - 1}))
    assert api.call("GET", USERS + "/u-bob", token).status_code == 401  # expired, even while Redis still has it
    assert digest_of(token) not in [t.digest for t in Tokens(rds).all()]
    gone = [login(api, credentials=credentials("bob", PASSWORD), account_name="Child Office").json()["auth_token"]
            for _ in range(3)]
    rds.delete(*(keys.api_token(digest_of(t)) for t in gone))  # as Redis expires them
    assert Tokens(rds).prune(sample=100) == 3 and len(rds.smembers(keys.API_TOKENS)) == 5  # api_world's own five


def test_every_failed_login_is_the_same_401_until_the_address_is_throttled(api: Client, rds: redis.Redis) -> None:
    make_user(api, "u-carl", "carl")
    make_user(api, "u-off", "off", enabled=False)
    tries = [
        {"credentials": credentials("carl", "wrong"), "account_name": "Child Office"},
        {"credentials": credentials("carl", PASSWORD), "account_name": "No Such Office"},
        {"credentials": credentials("nobody", PASSWORD), "account_realm": "child.test"},
        {"credentials": credentials("off", PASSWORD), "account_name": "Child Office"},  # a disabled user
        {"credentials": credentials("carl", PASSWORD), "account_name": "Other Customer"},  # the right user elsewhere
    ]
    answers = [login(api, **data) for data in tries]
    assert [a.status_code for a in answers] == [401] * len(tries)
    assert len({json.dumps({k: a.json()[k] for k in ("data", "message", "error")}) for a in answers}) == 1
    for _ in range(10 - len(tries)):
        assert login(api, **tries[0]).status_code == 401
    throttled = login(api, credentials=credentials("carl", PASSWORD), account_name="Child Office")
    assert throttled.status_code == 429 and throttled.json()["error"] == "429"  # right ones too, now
    assert 0 < int(throttled.headers["Retry-After"]) <= 900
    assert api.call("PUT", "/v2/api_auth", None, json={"data": {"api_key": "0" * 64}}).status_code == 429
    rds.delete(*rds.keys("api:login_failures:address:*"))
    assert login(api, credentials=credentials("carl", PASSWORD), account_name="Child Office").status_code == 201
    assert login(api, account_name="Child Office").status_code == 400  # no credentials: a malformed request
    assert login(api, credentials=credentials("carl", PASSWORD)).status_code == 400  # no account named


def test_an_account_is_throttled_after_fifty_failures_from_anywhere(api: Client, rds: redis.Redis) -> None:
    make_user(api, "u-dan", "dan")
    rds.set(keys.login_failures("account:child"), 50, ex=900)  # as fifty guesses from many addresses leave it
    assert login(api, credentials=credentials("dan", PASSWORD), account_name="Child Office").status_code == 429
    assert login(api, credentials=credentials("dan", PASSWORD), account_name="Other Customer").status_code == 401


def test_new_credentials_or_deleting_the_user_revoke_its_tokens(api: Client, rds: redis.Redis) -> None:
    make_user(api, "u-eve", "eve", priv_level="admin")
    first = login(api, credentials=credentials("eve", PASSWORD), account_name="Child Office").json()["auth_token"]
    renamed = api.call("PATCH", USERS + "/u-eve", "child", json={"data": {"username": "eve2"}})
    assert renamed.status_code == 400 and "password" in renamed.json()["data"]
    assert api.call("PUT", USERS, "child", json={"data": {"id": "u-dup", "username": "EVE"}}).status_code == 409
    api.ok("PATCH", USERS + "/u-eve", "child", json={"data": {"username": "eve2", "password": "new one"}})
    assert api.call("GET", USERS, first).status_code == 401
    assert login(api, credentials=credentials("eve", PASSWORD), account_name="Child Office").status_code == 401
    second = login(api, credentials=credentials("eve2", "new one"), account_name="Child Office")
    assert second.status_code == 201
    api.ok("POST", USERS + "/u-eve", "child", json={"data": {"username": "eve2", "first_name": "Eve"}})
    assert api.call("GET", USERS, second.json()["auth_token"]).status_code == 200  # same username: kept
    api.ok("DELETE", USERS + "/u-eve", "child")
    assert api.call("GET", USERS, second.json()["auth_token"]).status_code == 401
    assert login(api, credentials=credentials("eve2", "new one"), account_name="Child Office").status_code == 401


def test_a_user_brought_from_kazoo_logs_in_with_the_digest_kazoo_kept(api: Client) -> None:
    kept = credentials("frank@child.test", "from kazoo")  # pvt_md5_auth of the Kazoo user document
    made = api.ok("PUT", USERS, "child", json={"data": {"id": "u-frank", "username": "frank@child.test",
                                                       "credentials": kept}})
    assert "credentials" not in made
    assert login(api, credentials=kept, account_realm="child.test").status_code == 201
    assert api.call("PUT", USERS, "child", json={"data": {"credentials": "not-hex"}}).status_code == 400


def test_an_account_api_key_is_shown_once_and_gets_the_accounts_admin_token(api: Client, rds: redis.Redis) -> None:
    assert api.ok("GET", "/v2/accounts/child/api_key", "child")["exists"] is False
    assert api.call("PUT", "/v2/accounts/child/api_key", "reseller_ro").status_code == 403
    assert api.call("PUT", "/v2/accounts/reseller/api_key", "child").status_code == 403
    key = api.ok("PUT", "/v2/accounts/child/api_key", "child")["api_key"]
    assert len(key) == 64 and int(key, 16) >= 0
    shown = api.ok("GET", "/v2/accounts/child/api_key", "child")
    assert shown["exists"] is True and shown["api_key"] is None and key not in everything(rds)
    answer = api.call("PUT", "/v2/api_auth", None, json={"data": {"api_key": key}})
    assert answer.status_code == 201, answer.text
    token = answer.json()["auth_token"]
    assert answer.json()["data"]["account_id"] == "child" and answer.json()["data"]["method"] == "cb_api_auth"
    assert api.ok("PATCH", "/v2/accounts/child", token, json={"data": {"timezone": "UTC"}})["timezone"] == "UTC"
    assert api.call("GET", "/v2/accounts/reseller", token).status_code == 403
    kazoos = "ab" * 32
    assert api.ok("PUT", "/v2/accounts/child/api_key", "child", json={"data": {"api_key": kazoos}})["api_key"] == kazoos
    assert api.call("PUT", "/v2/api_auth", None, json={"data": {"api_key": key}}).status_code == 401  # replaced
    assert api.call("PUT", "/v2/api_auth", None, json={"data": {"api_key": kazoos}}).status_code == 201
    mine = api.ok("PUT", "/v2/accounts/grandchild/api_key", "child")["api_key"]
    api.ok("DELETE", "/v2/accounts/grandchild", "child")
    assert api.call("PUT", "/v2/api_auth", None, json={"data": {"api_key": mine}}).status_code == 401
    assert not rds.exists(keys.account_api_key("grandchild")) and len(rds.keys("api:api_key:*")) == 1  # child's


def test_a_bundle_never_carries_a_password(rds: redis.Redis) -> None:
    bundle = {"account": {"id": "b-acct", "name": "B"}, "users": [{"id": "u-1", "username": "u", "password": "x"}]}
    with pytest.raises(DocumentError, match="set them through the API"):
        load_bundle(rds, bundle, "b.json")
    assert not rds.exists(keys.account("b-acct"))
