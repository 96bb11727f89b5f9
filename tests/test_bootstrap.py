"""`conf/bootstrap.sh` on a busy or half-equipped machine: each missing package is installed on its
own (python3-venv whenever Python cannot make the virtualenv, not only with redis-server), apt
waits for another apt instead of failing, and nothing is installed when nothing is missing.

The script runs in a scratch folder with a PATH of stand-ins: `apt-get` records its arguments
(failing `update` as often as asked, as a held lock does), `python3` says whether it can make a
virtualenv, `id` says root; redis-server and sipp are there or not as the test wants."""

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(60)


def stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def bootstrap(
    tmp_path: Path, *, present: tuple[str, ...] = (), venv_module: bool = True, has_venv: bool = False,
    update_failures: int = 0, lock_timeout: str = "",
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    top, bin_dir, log = tmp_path / "checkout", tmp_path / "bin", tmp_path / "apt.log"
    (top / "conf").mkdir(parents=True)
    bin_dir.mkdir()
    shutil.copy(ROOT / "conf" / "bootstrap.sh", top / "conf" / "bootstrap.sh")
    shutil.copy(ROOT / "setup.cfg", top / "setup.cfg")
    if has_venv:  # a virtualenv already made and installed
        (top / ".venv" / "bin").mkdir(parents=True)
        stub(top / ".venv" / "bin", "python", "exit 0")
        (top / ".venv" / ".installed").touch()
    for tool in ("dirname", "touch", "cat", "env"):
        (bin_dir / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    for name in present:
        stub(bin_dir, name, "exit 0")
    stub(bin_dir, "id", "echo 0")
    stub(bin_dir, "sleep", "exit 0")
    stub(bin_dir, "python3", "exit 0" if venv_module else 'case "$*" in *ensurepip*) exit 1;; esac; exit 0')
    counter = tmp_path / "updates"
    stub(bin_dir, "apt-get", f"""echo "$*" >> {log}
case "$*" in *update*)
  n=$(cat {counter} 2>/dev/null || echo 0); echo $((n + 1)) > {counter}
  [ "$n" -ge {update_failures} ] || {{ echo "E: Could not get lock /var/lib/apt/lists/lock" >&2; exit 100; }};;
esac
case "$*" in *install*) exit 1;; esac""")  # stop there: the test is about what apt was asked
    env = {"PATH": str(bin_dir), **({"APT_LOCK_TIMEOUT": lock_timeout} if lock_timeout else {})}
    done = subprocess.run(["/bin/sh", str(top / "conf" / "bootstrap.sh")], env=env,
                          capture_output=True, text=True, timeout=30, check=False)
    calls = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
    return done, calls


def installed(calls: list[list[str]]) -> list[str]:
    [install] = [call for call in calls if "install" in call]
    return install[install.index("install") + 1:]


def test_python3_venv_is_installed_when_python_cannot_make_the_virtualenv_even_with_redis_there(
    tmp_path: Path,
) -> None:
    _, calls = bootstrap(tmp_path, present=("redis-server", "sipp"), venv_module=False)
    assert [p for p in installed(calls) if not p.startswith("-")] == ["python3-venv"]


def test_each_missing_package_is_installed_and_only_those(tmp_path: Path) -> None:
    _, calls = bootstrap(tmp_path, present=("sipp",), has_venv=True)
    assert [p for p in installed(calls) if not p.startswith("-")] == ["redis-server"]


def test_nothing_missing_installs_nothing(tmp_path: Path) -> None:
    done, calls = bootstrap(tmp_path, present=("redis-server", "sipp"), has_venv=True)
    assert done.returncode == 0, done.stderr
    assert calls == []


def test_apt_waits_for_a_held_lock_instead_of_failing(tmp_path: Path) -> None:
    done, calls = bootstrap(tmp_path, present=("sipp",), has_venv=True, update_failures=2)
    assert [call[-2:] for call in calls if "update" in call] == [["update", "-qq"]] * 3
    assert "trying again in 5 s" in done.stderr
    assert all("DPkg::Lock::Timeout=600" in call for call in calls)
    assert installed(calls)  # it went on to install once the lock was free


def test_a_lock_held_too_long_fails_with_a_reason(tmp_path: Path) -> None:
    done, calls = bootstrap(tmp_path, present=("sipp",), has_venv=True, update_failures=1000, lock_timeout="20")
    assert done.returncode == 1
    assert "kept failing for 20 s" in done.stderr
    assert len([call for call in calls if "update" in call]) == 5  # 0, 5, 10, 15, 20 s
    assert not any("install" in call for call in calls)
