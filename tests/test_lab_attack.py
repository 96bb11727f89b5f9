"""`controller lab attack --quick` against a real `controller run` started by the command itself:
every row parses, and the attacks of the quick set held (the refusal or limit each expects
happened, nothing leaked, no 500, no traceback, no role restarted). The latency and memory
targets are printed, not asserted here: on a shared test machine they measure the machine too."""

import re
import subprocess
import sys

from controller.lab.attack import ATTACKS

ROW = re.compile(
    r"^(?P<attack>[a-z0-9-]+)\s+(?P<item>\d|held)\s+(?P<result>held|BROKEN)\s+(?P<p99>[\d.]+|nan)\s+\((?P<calls>\d+)"
    r"(?:, (?P<failed>\d+) failed)?\)\s+(?P<healthz>[\d.]+|nan)\s+(?P<before>\d+) ->\s*(?P<after>\d+)"
    r"\s+(?P<seconds>[\d.]+)"
    r"\s+(?P<target>PASS|FAIL \((?:held|setup|healthz|memory)(?:, (?:held|setup|healthz|memory))*\))$"
)


def test_the_quick_attacks_print_parseable_rows_and_hold() -> None:
    done = subprocess.run([sys.executable, "-m", "controller", "lab", "attack", "--quick"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    rows = {m["attack"]: m for m in (ROW.match(line) for line in done.stdout.splitlines()) if m}
    assert set(rows) == {a.name for a in ATTACKS if a.quick}, done.stdout + done.stderr
    for name, row in rows.items():
        assert row["result"] == "held", f"{name} broke:\n{done.stdout}"
        assert int(row["calls"]) >= 10 and row["failed"] is None, f"{name}: the concurrent calls\n{done.stdout}"
        assert float(row["before"]) > 0 and float(row["after"]) > 0
        assert row["target"] == "PASS" or "held" not in row["target"]
    assert re.search(r"^\d+/\d+ rows pass", done.stdout, re.M)
