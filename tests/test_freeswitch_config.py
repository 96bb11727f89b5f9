"""The project's conf/freeswitch, installed over FreeSWITCH's vanilla configuration as
vagrant/provision.sh installs it, loads cleanly in a real FreeSWITCH."""

import re

import pytest

from tests.freeswitch_harness import FreeSwitch

pytestmark = pytest.mark.freeswitch

# Start-up lines at WARNING or above that are FreeSWITCH's own, not caused by our files.
FREESWITCH_OWN = {
    r"sofia\.c:\d+ MSG Thread \d+ Started": "mod_sofia announces each message thread at WARNING level",
    r"switch_core\.c:\d+ Cannot locate domain 127\.0\.0\.1":
        "the vanilla acl.conf.xml list 'domains' names $${domain} (local_ip_v4), whose directory "
        "file directory/default.xml is set aside (provision.sh's set_aside_vanilla_files)",
    r"Failed to set SCHED_FIFO scheduler|Could not set nice level":
        "FreeSWITCH wants real-time priority, which an unprivileged test user lacks",
}
LEVELS = re.compile(r"\[(WARNING|ERR|CRIT|ALERT)\]")


def complaints(freeswitch: FreeSwitch, levels: tuple[str, ...], allowed: dict[str, str]) -> list[str]:
    """Start-up lines at one of `levels` that no pattern of `allowed` explains."""
    found = []
    for line in freeswitch.startup_log():
        level = LEVELS.search(line)
        if level and level.group(1) in levels and not any(re.search(p, line) for p in allowed):
            found.append(line)
    return found


def test_the_projects_profiles_dialplan_and_modules_are_loaded(freeswitch: FreeSwitch) -> None:
    status = freeswitch.api("sofia status")
    assert re.search(r"office\.example\.com\s+alias\s+internal\s+ALIASED", status)
    assert re.search(r"external::carrier-a\s+gateway", status)
    assert freeswitch.api("module_exists mod_flite").strip() == "true"


def test_the_projects_configuration_loads_without_an_error(freeswitch: FreeSwitch) -> None:
    assert complaints(freeswitch, ("ERR", "CRIT", "ALERT"), FREESWITCH_OWN) == []


def test_the_projects_configuration_loads_without_a_warning(freeswitch: FreeSwitch) -> None:
    """Deprecated parameters included: 1.11 warns of rtp-timeout-sec and rtp-hold-timeout-sec."""
    assert complaints(freeswitch, ("WARNING",), FREESWITCH_OWN) == []
