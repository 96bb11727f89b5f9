"""/v2/notifications and /v2/accounts/{id}/notifications over real HTTP: system templates (super
admin only), account overrides down the account tree, bodies by Accept and by upload, the two
bulk actions, hostile templates refused with nothing written."""

import base64
from collections.abc import Iterator

import pytest
import redis

from controller.notify.templates import Templates, packaged, packaged_ids
from controller.services import Services
from controller.store import keys
from tests.api_world import Client, serve_api


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with serve_api(services) as client:
        yield client


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


NEW_SYSTEM = {"id": "port_request", "subject": "Port request {{ account.name }}", "from": "ports@example.com",
              "to": {"type": "admins"}, "html": b64("<p>Port {{ account.name }}</p>"), "plain": "Port request"}


def test_system_templates_are_listed_with_their_macros(api: Client) -> None:
    listed = api.ok("GET", "/v2/notifications", "child")
    assert [t["id"] for t in listed] == packaged_ids()
    missed = next(t for t in listed if t["id"] == "missed_call")
    assert missed["macros"]["caller_id.name"] == {"friendly_name": "Caller ID Name", "description": "Caller ID Name",
                                                  "i18n_label": "caller_id_name"}
    assert "account_overridden" not in missed
    one = api.ok("GET", "/v2/notifications/missed_call", "child")
    assert one["subject"] == "Missed call from {{ caller_id.name_number }}"
    assert one["templates"]["text/html"]["length"] > 100 and one["templates"]["text/plain"]["length"] > 10
    assert api.call("GET", "/v2/notifications/no_such").status_code == 404


def test_only_a_super_admin_changes_system_templates(api: Client, rds: redis.Redis) -> None:
    for who in ("reseller", "child"):
        assert api.call("PUT", "/v2/notifications", who, json={"data": NEW_SYSTEM}).status_code == 403
        replace = {"data": {"subject": "x"}}
        assert api.call("POST", "/v2/notifications/missed_call", who, json=replace).status_code == 403
        assert api.call("DELETE", "/v2/notifications/missed_call", who).status_code == 403
    assert not rds.exists(keys.template("system", "port_request"), keys.template("system", "missed_call"))
    created = api.call("PUT", "/v2/notifications", "super", json={"data": NEW_SYSTEM})
    assert created.status_code == 201
    doc = created.json()["data"]
    assert doc["id"] == "port_request" and doc["templates"]["text/plain"]["length"] == len("Port request")
    assert "account.name" in doc["macros"]
    assert "port_request" in [t["id"] for t in api.ok("GET", "/v2/notifications", "child")]
    assert api.call("PUT", "/v2/notifications", "super", json={"data": NEW_SYSTEM}).status_code == 409
    changed = api.ok("POST", "/v2/notifications/missed_call", "super",
                     json={"data": {"subject": "Missed: {{ caller_id.number }}", "from": "pbx@example.com"}})
    assert changed["subject"] == "Missed: {{ caller_id.number }}" and "caller_id.name" in changed["macros"]
    upload = api.call("POST", "/v2/notifications/missed_call", "super", data=b"System {{ call_id }}",
                      headers={"Content-Type": "text/plain"})
    assert upload.status_code == 200 and upload.json()["data"]["templates"]["text/plain"]["length"] == 20
    assert api.call("GET", "/v2/accounts/other/notifications/missed_call?accept=text/plain", "other").text == \
        "System {{ call_id }}"
    assert api.ok("DELETE", "/v2/notifications/missed_call", "super")["subject"] == "Missed: {{ caller_id.number }}"
    assert api.ok("GET", "/v2/notifications/missed_call")["subject"] == "Missed call from {{ caller_id.name_number }}"
    assert api.call("DELETE", "/v2/notifications/missed_call", "super").status_code == 404


def test_bodies_are_read_by_accept_header_or_query_and_406_otherwise(api: Client) -> None:
    html = api.call("GET", "/v2/notifications/missed_call", headers={"Accept": "text/html"})
    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")
    assert html.text.lstrip().startswith("<!DOCTYPE html>")
    plain = api.call("GET", "/v2/notifications/missed_call?accept=text/plain")
    assert plain.headers["Content-Type"].startswith("text/plain") and "{{" in plain.text
    assert api.call("GET", "/v2/notifications/missed_call", headers={"Accept": "*/*"}).json()["data"]["id"]
    for wrong in ({"headers": {"Accept": "image/png"}}, {"params": {"accept": "application/pdf"}}):
        refused = api.call("GET", "/v2/notifications/missed_call", **wrong)  # type: ignore[arg-type]
        assert refused.status_code == 406 and refused.json()["error"] == "406"
    account_html = api.call("GET", "/v2/accounts/child/notifications/missed_call?accept=text/html")
    assert account_html.text == html.text


def test_an_account_override_is_made_from_a_system_template_and_shown_as_overridden(api: Client) -> None:
    put = api.call("PUT", "/v2/accounts/child/notifications",
                   json={"data": {"id": "missed_call", "subject": "Child missed {{ caller_id.number }}"}})
    assert put.status_code == 201
    doc = put.json()["data"]
    assert doc["account_overridden"] is True and doc["from"] == ""  # the system's: the default sender applies
    assert doc["templates"]["text/html"]["length"] > 100  # the system's bodies were copied
    listed = {t["id"]: t for t in api.ok("GET", "/v2/accounts/child/notifications")}
    assert listed["missed_call"]["account_overridden"] is True and "account_overridden" not in listed["voicemail_full"]
    # the grandchild sees its parent's copy, not as its own
    below = api.ok("GET", "/v2/accounts/grandchild/notifications/missed_call", "child")
    assert below["subject"] == "Child missed {{ caller_id.number }}" and "account_overridden" not in below
    again = api.call("PUT", "/v2/accounts/child/notifications", json={"data": {"id": "missed_call", "subject": "x"}})
    assert again.status_code == 409


def test_an_account_defined_template_can_be_overridden_below_it(api: Client, services: Services) -> None:
    Templates(services.rds).put("reseller", "reseller_news", {"subject": "News", "from": "r@example.com"}, "t", "h")
    made = api.ok("PUT", "/v2/accounts/child/notifications", json={"data": {"id": "reseller_news", "subject": "Ours"}})
    assert made["subject"] == "Ours" and made["from"] == "r@example.com"
    assert made["account_defined"] is True and "account_overridden" not in made  # the system has no such template
    # out of the reseller's tree, the same id is a template of the other account's own, from nothing
    theirs = api.ok("PUT", "/v2/accounts/other/notifications", "other",
                    json={"data": {"id": "reseller_news", "subject": "x"}})
    assert theirs["from"] == "" and theirs["templates"]["text/plain"]["length"] == 0


VIP = {"id": "vip_caller", "subject": "VIP call from {{ caller_id.name_number }}", "from": "",
       "to": {"type": "original"}, "cc": {"type": "specified", "email_addresses": ["desk@child.test"]},
       "bcc": {"type": "specified", "email_addresses": []}, "template_charset": "utf-8", "enabled": True,
       "macros": {"made.up": {"friendly_name": "ignored"}}, "friendly_name": "VIP caller", "category": "callflow",
       "html": b64("<p>{{ comments }} ({{ call_id }})</p>"), "plain": "{{ comments }}: {{ caller_id.number }}"}


def test_an_account_defines_a_template_of_its_own_with_kazoos_fields(api: Client, rds: redis.Redis) -> None:
    made = api.call("PUT", "/v2/accounts/child/notifications", json={"data": VIP})
    assert made.status_code == 201, made.text
    doc = made.json()["data"]
    assert doc["account_defined"] is True and "account_overridden" not in doc
    assert doc["cc"] == VIP["cc"] and doc["template_charset"] == "utf-8" and doc["to"] == {"type": "original"}
    assert "made.up" not in doc["macros"] and "comments" in doc["macros"] and "caller_id.name" in doc["macros"]
    assert doc["templates"]["text/plain"]["length"] == len(VIP["plain"])
    listed = {t["id"]: t for t in api.ok("GET", "/v2/accounts/child/notifications")}
    assert listed["vip_caller"]["account_defined"] is True and listed["vip_caller"]["friendly_name"] == "VIP caller"
    assert "vip_caller" not in [t["id"] for t in api.ok("GET", "/v2/notifications")]
    assert api.call("GET", "/v2/notifications/vip_caller").status_code == 404
    base = "/v2/accounts/child/notifications/vip_caller"
    assert api.call("GET", base + "?accept=text/html").text == "<p>{{ comments }} ({{ call_id }})</p>"
    assert api.call("GET", base, headers={"Accept": "text/plain"}).text == VIP["plain"]
    below = api.ok("GET", "/v2/accounts/grandchild/notifications/vip_caller", "child")  # its parent's, not its own
    assert below["subject"] == VIP["subject"] and "account_defined" not in below
    replaced = api.ok("POST", base, json={"data": {"subject": "VIP!", "to": {"type": "admins"}}})
    assert replaced["subject"] == "VIP!" and replaced["account_defined"] is True and "comments" in replaced["macros"]
    assert api.call("PUT", "/v2/accounts/child/notifications", json={"data": VIP}).status_code == 409
    assert api.ok("DELETE", base)["subject"] == "VIP!"
    assert api.call("GET", base).status_code == 404


def test_an_account_defined_template_is_checked_whole_before_it_is_written(api: Client, rds: redis.Redis) -> None:
    for data, field in (({"id": "no_subject", "plain": "x"}, "subject"),
                        ({"id": "bad_body", "subject": "x", "plain": "{{ broken"}, "text/plain"),
                        ({"id": "Bad-Id", "subject": "x"}, "id"),
                        ({"id": "smtplog", "subject": "x"}, "id"),
                        ({"id": "who_from", "subject": "x", "from": "{{ caller_id.name }} <a@b.example>"}, "from")):
        refused = api.call("PUT", "/v2/accounts/child/notifications", json={"data": data})
        assert refused.status_code == 400 and field in refused.json()["data"], (data, refused.text)
    assert api.call("PUT", "/v2/accounts/child/notifications", "reseller_ro",
                    json={"data": {"id": "read_only", "subject": "x"}}).status_code == 403
    assert not rds.keys("template:child:*") and not rds.smembers(keys.templates("child"))


def test_account_templates_are_replaced_uploaded_and_deleted(api: Client) -> None:
    base = "/v2/accounts/child/notifications/voicemail_full"
    posted = api.ok("POST", base, json={"data": {"subject": "Box full", "from": "vm@child.test", "enabled": False,
                                                 "plain": "Full: {{ voicemail.mailbox }}"}})
    assert posted["account_overridden"] is True and posted["enabled"] is False
    default = packaged("voicemail_full")
    assert default is not None and set(posted["macros"]) == set(default.fields["macros"])
    assert api.call("GET", base + "?accept=text/plain").text == "Full: {{ voicemail.mailbox }}"
    raw = api.call("POST", base, data=b"<b>{{ account.name }}</b>", headers={"Content-Type": "text/html"})
    assert raw.status_code == 200
    assert api.call("GET", base, headers={"Accept": "text/html"}).text == "<b>{{ account.name }}</b>"
    form = api.call("POST", base, files={"content": ("body.txt", "Plain {{ user.first_name }}", "text/plain")})
    assert form.status_code == 200
    assert api.call("GET", base + "?accept=text/plain").text == "Plain {{ user.first_name }}"
    assert api.ok("GET", base)["subject"] == "Box full"
    assert api.ok("DELETE", base)["subject"] == "Box full"
    assert "account_overridden" not in api.ok("GET", base)
    assert api.call("DELETE", base).status_code == 404


def test_curls_multipart_under_a_text_content_type_is_read_as_the_file(api: Client) -> None:
    boundary = "------------------------abc123"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"file.html\"\r\n"
            f"Content-Type: text/html\r\n\r\n<h1>{{{{ account.name }}}}</h1>\r\n--{boundary}--\r\n")
    response = api.call("POST", "/v2/accounts/child/notifications/missed_call", data=body.encode(),
                        headers={"Content-Type": "text/html"})
    assert response.status_code == 200
    assert api.call("GET", "/v2/accounts/child/notifications/missed_call?accept=text/html").text == \
        "<h1>{{ account.name }}</h1>"


def test_hostile_or_broken_templates_are_refused_and_nothing_is_written(api: Client, rds: redis.Redis) -> None:
    base = "/v2/accounts/child/notifications/missed_call"
    attempts = {
        "text/html": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "text/plain": "{% for x in range(99999) %}{% for y in range(99999) %}{% endfor %}{% endfor %}",
    }
    for kind, source in attempts.items():
        response = api.call("POST", base, data=source.encode(), headers={"Content-Type": kind})
        assert response.status_code == 400, kind
        assert "template" in response.json()["data"][kind]
    assert "ran longer than" in response.json()["data"]["text/plain"]["template"]
    broken = api.call("POST", base, json={"data": {"subject": "{% if %}", "from": "a@b.test"}})
    assert broken.status_code == 400 and "does not compile" in broken.json()["data"]["subject"]["template"]
    long_subject = api.call("POST", base, json={"data": {"subject": "x" * 201}})
    assert long_subject.status_code == 400 and "maxLength" in long_subject.json()["data"]["subject"]
    unknown = api.call("POST", base, json={"data": {"subject": "ok", "colour": "red", "size": 3}})
    assert unknown.status_code == 400 and set(unknown.json()["data"]) == {"colour", "size"}
    assert "additionalProperties" in unknown.json()["data"]["colour"]
    bad_type = api.call("POST", base, json={"data": {"subject": "ok", "to": {"type": "everyone"}}})
    assert bad_type.status_code == 400 and "enum" in bad_type.json()["data"]["to.type"]
    not_b64 = api.call("POST", base, json={"data": {"subject": "ok", "html": "%%%"}})
    assert not_b64.status_code == 400 and "base64" in not_b64.json()["data"]["html"]
    not_utf8 = api.call("POST", base, data=b"\xff\xfe", headers={"Content-Type": "text/plain"})
    assert not_utf8.status_code == 400
    assert not rds.exists(keys.template("child", "missed_call")) and not rds.smembers(keys.templates("child"))


def test_remove_customizations_and_force_system(api: Client, services: Services) -> None:
    for tid in ("missed_call", "voicemail_full"):
        api.ok("POST", f"/v2/accounts/child/notifications/{tid}", json={"data": {"subject": "Own " + tid}})
    removed = api.ok("DELETE", "/v2/accounts/child/notifications", json={"action": "remove_customizations", "data": {}})
    assert removed == {"missed_call": "deleted", "voicemail_full": "deleted"}
    assert not any(t.get("account_overridden") for t in api.ok("GET", "/v2/accounts/child/notifications"))
    # the reseller customises; force_system makes the child use the system's templates again
    api.ok("POST", "/v2/accounts/reseller/notifications/missed_call", json={"data": {"subject": "Reseller's"}})
    assert api.ok("GET", "/v2/accounts/child/notifications/missed_call")["subject"] == "Reseller's"
    Templates(services.rds).put("child", "own_thing", {"subject": "mine"}, "", "")
    forced = api.ok("PUT", "/v2/accounts/child/notifications", json={"action": "force_system", "data": {}})
    assert forced == {"own_thing": "deleted", **{tid: "replaced" for tid in packaged_ids()}}
    assert api.ok("GET", "/v2/accounts/child/notifications/missed_call")["subject"] == \
        "Missed call from {{ caller_id.name_number }}"
    wrong = api.call("DELETE", "/v2/accounts/child/notifications", json={"action": "force_system"})
    assert wrong.status_code == 400 and "action" in wrong.json()["data"]


def test_account_notifications_are_out_of_reach_of_other_accounts(api: Client, rds: redis.Redis) -> None:
    api.ok("POST", "/v2/accounts/reseller/notifications/missed_call", json={"data": {"subject": "Secret subject"}})
    for method, path, body in (
        ("GET", "/v2/accounts/reseller/notifications", None),
        ("GET", "/v2/accounts/reseller/notifications/missed_call", None),
        ("POST", "/v2/accounts/reseller/notifications/missed_call", {"data": {"subject": "pwned"}}),
        ("DELETE", "/v2/accounts/reseller/notifications/missed_call", None),
        ("DELETE", "/v2/accounts/reseller/notifications", {"action": "remove_customizations"}),
        ("GET", "/v2/accounts/reseller/notifications/smtplog", None),
    ):
        for who in ("child", "other"):
            response = api.call(method, path, who, json=body)
            assert response.status_code == 403, (method, path, who)
            assert "Secret" not in response.text
    assert api.ok("GET", "/v2/accounts/reseller/notifications/missed_call")["subject"] == "Secret subject"
    assert api.call("POST", "/v2/accounts/child/notifications/missed_call", "reseller_ro",
                    json={"data": {"subject": "x"}}).status_code == 403
