"""The lab's files as the programs that read them see them: the FreeSWITCH snippets after
FreeSWITCH's line-by-line preprocessor, the SIPp scenarios loaded by the real `sipp` (3.6, Debian's
sip-tester, which conf/bootstrap.sh installs), the systemd units, the provisioning script and the
Grafana dashboard's queries against the metrics the controller exposes."""

import configparser
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from controller import config
from controller.config import Settings

ROOT = Path(__file__).resolve().parent.parent
FREESWITCH = ROOT / "conf" / "freeswitch"
SIPP = ROOT / "conf" / "sipp"
SYSTEMD = ROOT / "conf" / "systemd"
PROVISION = ROOT / "vagrant" / "provision.sh"
DASHBOARD = ROOT / "conf" / "grafana" / "controller-dashboard.json"
OFFICE = json.loads((ROOT / "flows" / "office.json").read_text())

FREESWITCH_FILES = sorted(FREESWITCH.rglob("*.xml"))
SCENARIOS = sorted(SIPP.glob("*.xml"))

# What each folder of FreeSWITCH's conf/ tree holds once the <include> wrapper is gone.
ROOT_ELEMENT = {"dialplan": "context", "directory": "domain", "sip_profiles": "profile",
                "autoload_configs": "configuration"}
# Global variables FreeSWITCH sets itself at start-up, before it reads its configuration.
CORE_VARIABLES = {"local_ip_v4", "local_ip_v6", "base_dir", "conf_dir", "log_dir", "recordings_dir",
                  "sounds_dir", "storage_dir", "hostname", "switch_serial"}


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def as_freeswitch_reads(text: str) -> str:
    """The text FreeSWITCH parses (switch_xml.c, preprocess()): it drops every line that holds
    `<include>`, `</include>` or `<?`, and every line that mentions X-PRE-PROCESS without being
    that element; it replaces the element by the included text (left out here)."""
    kept = []
    for line in text.splitlines(keepends=True):
        if "<include>" in line or "</include>" in line or "<?" in line:
            continue
        if "x-pre-process" in line.lower():
            continue
        kept.append(line)
    return "".join(kept)


@pytest.mark.parametrize("path", FREESWITCH_FILES + SCENARIOS, ids=relative)
def test_xml_file_is_well_formed(path: Path) -> None:
    ET.parse(path)


@pytest.mark.parametrize("path", FREESWITCH_FILES, ids=relative)
def test_freeswitch_snippet_survives_the_preprocessor_whole(path: Path) -> None:
    text = path.read_text()
    assert set(re.findall(r"\$\$\{([^}]*)\}", text)) <= CORE_VARIABLES
    root = ET.fromstring(as_freeswitch_reads(text))
    assert root.tag == ROOT_ELEMENT[path.parent.name]


def extensions() -> list[ET.Element]:
    context = ET.parse(FREESWITCH / "dialplan" / "controller.xml").getroot().find("context")
    assert context is not None
    return context.findall("extension")


def with_captures(data: str, match: re.Match[str]) -> str:
    return re.sub(r"\$(\d)", lambda m: match.group(int(m.group(1))) or "", data)


def run_dialplan(number: str) -> list[tuple[str, str]]:
    """The applications FreeSWITCH's XML dialplan would run for a call to `number` in the context
    (conditions on destination_number, continue="true", transfer within the context)."""
    executed: list[tuple[str, str]] = []
    for extension in extensions():
        condition = extension.find("condition")
        assert condition is not None and condition.get("field") == "destination_number"
        found = re.search(condition.get("expression", ""), number)
        if found is None:
            continue
        for action in condition.findall("action"):
            app, data = action.get("application", ""), action.get("data", "")
            data = with_captures(data, found)
            if app == "transfer":
                target, dialplan, context = data.split()
                assert (dialplan, context) == ("XML", "controller")
                return executed + run_dialplan(target)
            executed.append((app, data))
        if extension.get("continue") != "true":
            break
    return executed


def test_dialplan_hands_every_call_to_the_controllers_socket_then_turns_it_away() -> None:
    apps = run_dialplan("1001")
    names = [app for app, _ in apps]
    assert ("socket", f"{Settings().esl_listen} async full") in apps
    assert ("set", "hangup_after_bridge=true") in apps
    assert names.index("set") < names.index("socket") < names.index("respond")
    assert not any(data.startswith("controller_account_id=") for _, data in apps)


@pytest.mark.parametrize("form", ["{}", "1{}", "+1{}"])
def test_dialplan_places_the_example_dids_in_their_account_whatever_their_form(form: str) -> None:
    dids = [n for flow in OFFICE["callflows"] for n in flow.get("numbers", []) if n.startswith("+1")]
    assert dids
    for did in dids:
        apps = run_dialplan(form.format(did.removeprefix("+1")))
        assert ("set", f"controller_account_id={OFFICE['account']['id']}") in apps
        assert [app for app, _ in apps].count("socket") == 1


def test_directory_holds_the_bundles_registered_devices_with_their_passwords() -> None:
    domain = ET.parse(FREESWITCH / "directory" / "office.example.com.xml").getroot().find("domain")
    assert domain is not None and domain.get("name") == OFFICE["account"]["realm"]
    variables = {v.get("name"): v.get("value") for v in domain.findall("variables/variable")}
    assert variables == {"user_context": "controller", "controller_account_id": OFFICE["account"]["id"]}
    users = {user.get("id"): user.find("params/param[@name='password']") for user in domain.iter("user")}
    passwords = {name: param.get("value") for name, param in users.items() if param is not None}
    registered = {d["sip"]["username"]: d["sip"]["password"] for d in OFFICE["devices"]
                  if d["sip"].get("invite_format") == "username"}
    assert passwords == registered
    assert set(users) == set(registered)  # no user without a password: it would accept any


def test_external_profile_is_the_route_profile_and_holds_the_carriers_gateway() -> None:
    profile = ET.parse(FREESWITCH / "sip_profiles" / "controller-external.xml").getroot().find("profile")
    assert profile is not None and profile.get("name") == Settings().route_profile
    settings = {p.get("name"): p.get("value") for p in profile.findall("settings/param")}
    assert settings["context"] == "controller" and settings["sip-port"] == "5080"
    assert [g.get("name") for g in profile.findall("gateways/gateway")] == ["carrier-a"]


def test_event_socket_listens_where_the_watcher_is_told_to_connect() -> None:
    root = ET.parse(FREESWITCH / "autoload_configs" / "event_socket.conf.xml").getroot()
    settings = {p.get("name"): p.get("value") for p in root.findall("settings/param")}
    assert root.get("name") == "event_socket.conf"
    assert (settings["listen-ip"], settings["listen-port"]) == ("127.0.0.1", "8021")
    assert settings["password"] and settings["apply-inbound-acl"]


# What SIPp prints about itself when all is well: the address it resolves, and for a scenario
# that plays audio, the pcap file it loaded and where it looked for it.
SIPP_NOTICES = ("Resolving", "In pcap ", "max pkt length ", "base port ")


def is_sipp_notice(line: str) -> bool:
    return line.startswith(SIPP_NOTICES) or "SIPp now prefers looking for pcap files next to the scenario" in line


def sipp_binary() -> str:
    found = shutil.which("sipp")
    assert found, "sipp is missing: conf/bootstrap.sh installs it (Debian package sip-tester)"
    return found


@pytest.mark.parametrize("path", SCENARIOS, ids=relative)
def test_sipp_loads_the_scenario(path: Path, tmp_path: Path) -> None:
    # -m 0: SIPp loads and checks the whole scenario (keywords, labels, variables, transactions),
    # then stops before placing or awaiting any call; nothing listens on port 9. A scenario that
    # plays audio opens pcap/g711a.pcap from its folder (Debian ships it in /usr/share/sip-tester).
    (tmp_path / "pcap").symlink_to("/usr/share/sip-tester")
    result = subprocess.run(
        [sipp_binary(), "-sf", str(path), "-m", "0", "-nostdin", "-i", "127.0.0.1", "127.0.0.1:9"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
    )
    complaints = [line for line in result.stderr.splitlines() if line and not is_sipp_notice(line)]
    assert result.returncode == 0, result.stderr
    assert complaints == []


def test_sipp_refuses_a_broken_scenario_so_the_check_above_can_fail(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text((SIPP / "uac_cancel.xml").read_text().replace('next="answered"', 'next="nowhere"'))
    result = subprocess.run(
        [sipp_binary(), "-sf", str(broken), "-m", "0", "-nostdin", "-i", "127.0.0.1", "127.0.0.1:9"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
    )
    assert result.returncode != 0
    assert "nowhere" in result.stderr


UNITS = {"controller.service": "run", "controller-serve.service": "serve",
         "controller-mailer.service": "mailer", "controller-api.service": "api"}


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string((SYSTEMD / name).read_text())
    return parser


def env_example() -> dict[str, str]:
    lines = (SYSTEMD / "controller.env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def seconds(value: str) -> float:
    return float(value.removesuffix("s"))


def test_systemd_units_are_the_ones_listed() -> None:
    assert sorted(path.name for path in SYSTEMD.glob("*.service")) == sorted(UNITS)


@pytest.mark.parametrize(("name", "role"), UNITS.items())
def test_systemd_unit_runs_its_role_as_the_controller_user_with_the_environment_file(name: str, role: str) -> None:
    parsed = unit(name)
    assert set(parsed.sections()) == {"Unit", "Service", "Install"}
    service = parsed["Service"]
    assert service["ExecStart"].split()[1:] == [role]
    assert service["EnvironmentFile"] == "/etc/controller/controller.env"
    assert service["User"] == service["Group"] == "controller"
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    assert seconds(service["TimeoutStopSec"]) > float(env_example()["CONTROLLER_DRAIN_SECONDS"])
    assert seconds(service["TimeoutStopSec"]) > Settings().drain_seconds
    assert parsed["Install"]["WantedBy"] == "multi-user.target"


def test_all_in_one_unit_and_role_units_exclude_each_other() -> None:
    together = unit("controller.service")["Unit"]["Conflicts"].split()
    assert sorted(together) == sorted(name for name in UNITS if name != "controller.service")
    for name in together:
        assert unit(name)["Unit"]["Conflicts"] == "controller.service"


@pytest.mark.parametrize("role", sorted(set(UNITS.values())))
def test_systemd_units_start_commands_the_controller_has(role: str) -> None:
    result = subprocess.run([sys.executable, "-m", "controller", role, "--help"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_environment_file_example_is_accepted_by_the_controller() -> None:
    settings = config.load(env_example())
    assert str(settings.esl_listen) == "127.0.0.1:8084"
    assert [endpoint.port for endpoint in settings.freeswitch] == [8021]
    assert [carrier.gateway for carrier in settings.carriers] == ["carrier-a"]


def test_provisioning_script_is_valid_bash_that_stops_on_errors() -> None:
    result = subprocess.run(["bash", "-n", str(PROVISION)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert "set -euo pipefail" in PROVISION.read_text()


def test_provisioning_installs_every_freeswitch_snippet_and_unit() -> None:
    script = PROVISION.read_text()
    for path in FREESWITCH_FILES:
        assert str(path.relative_to(FREESWITCH)) in script
    assert "conf/systemd/*.service" in script and "flows load" in script


# What the controller exposes at /metrics on the API port (histograms as their _bucket series).
METRICS = {"controller_calls_active", "controller_calls_total", "controller_missed_call_alerts_total",
           "controller_jobs_enqueued_total", "controller_jobs_delivered_total", "controller_jobs_retried_total",
           "controller_jobs_dead_total", "controller_queue_depth", "controller_queue_oldest_age_seconds",
           "controller_esl_command_seconds", "controller_smtp_seconds", "controller_freeswitch_connected"}
HISTOGRAMS = {"controller_esl_command_seconds", "controller_smtp_seconds"}


def dashboard_panels() -> list[dict[str, object]]:
    found = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        found += [panel, *panel.get("panels", [])]
    return found


def dashboard_queries() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in dashboard_panels() for target in panel.get("targets", [])]  # type: ignore[attr-defined]
    return queries + [var["definition"] for var in doc["templating"]["list"] if var["type"] == "query"]


def test_dashboard_has_a_prometheus_datasource_variable_every_panel_uses() -> None:
    doc = json.loads(DASHBOARD.read_text())
    assert doc["schemaVersion"] >= 36
    variables = {var["name"]: var for var in doc["templating"]["list"]}
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == ("datasource", "prometheus")
    panels = [panel for panel in dashboard_panels() if panel["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert all(target["datasource"] == panel["datasource"] for target in panel["targets"])  # type: ignore[attr-defined]
    ids = [panel["id"] for panel in dashboard_panels()]
    assert len(ids) == len(set(ids))


def test_dashboard_queries_only_the_metrics_the_controller_exposes_and_all_of_them() -> None:
    names = set()
    for query in dashboard_queries():
        assert query.count("(") == query.count(")") and query.count("{") == query.count("}"), query
        for name in re.findall(r"\bcontroller_[a-z_]+", query):
            base = name.removesuffix("_bucket")
            assert base in METRICS, f"{name} is not a metric the controller exposes ({query})"
            assert (base in HISTOGRAMS) == (name != base), f"{name}: histograms are queried by their buckets"
            names.add(base)
    assert names == METRICS


def test_dashboard_shows_p50_and_p99_of_each_histogram() -> None:
    queries = dashboard_queries()
    for histogram in HISTOGRAMS:
        for quantile in ("0.5", "0.99"):
            assert any(q.startswith(f"histogram_quantile({quantile},") and f"{histogram}_bucket" in q for q in queries)
