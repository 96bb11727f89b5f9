"""`controller lab faults` at a small scale: real processes started and killed by the command
itself; its figures must parse, and with no fault nothing may be lost or duplicated. Row 4
(a Redis restart) is run to prove the fault rows work end to end, whatever they find."""

import re
import subprocess
import sys

ROW = re.compile(
    r"^(?P<row>\d)\s+(?P<label>.+?)\s+(?P<due>\d+)\s+(?P<enqueued>\d+|n/a)\s+(?P<mailed>\d+)\s+(?P<duplicated>\d+)"
    r"\s+(?P<lost>\d+)\s+(?P<recovered>[\d.]+ s|never)\s+(?P<target>PASS|FAIL)$"
)


def test_quick_run_prints_parseable_rows_and_loses_nothing_without_faults() -> None:
    done = subprocess.run([sys.executable, "-m", "controller", "lab", "faults", "--rows", "1,4", "--scale", "0.1"],
                          capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode in (0, 1), done.stderr
    rows = {m["row"]: m for m in (ROW.match(line) for line in done.stdout.splitlines()) if m}
    assert set(rows) == {"1", "4"}, done.stdout + done.stderr
    quiet = rows["1"]
    assert int(quiet["due"]) == 20
    assert quiet["enqueued"] == quiet["mailed"] == quiet["due"]
    assert (quiet["duplicated"], quiet["lost"], quiet["target"]) == ("0", "0", "PASS")
    restarted = rows["4"]
    assert int(restarted["due"]) == 30
    assert int(restarted["mailed"]) + int(restarted["lost"]) == 30
    assert restarted["target"] == ("PASS" if restarted["lost"] == "0" and restarted["duplicated"] == "0" else "FAIL")
