"""The README's commands work when pasted: every `sh` block of it runs, in order, on a scratch copy
of the repository, as an operator would paste it — `./conf/run` (its set-up included) in a
terminal of its own, everything else in a second one — from loading the example office to the
missed-call emails in the outbox, a backup of Redis and its restore.

Only the ports differ: the run listens on free ports (the README's 127.0.0.1:8000 and :8084 are
replaced in the commands). A block the tests cannot run says why in an HTML comment just above it
(`<!-- not run by tests/test_readme.py: ... -->`). A block that starts with `# with controller
run stopped` is run after stopping the run with SIGINT, as Ctrl-C would.

The scratch copy gets a `.venv` of its own that runs the copy's code with this virtualenv's
packages (a `.pth` file), stamped as installed: `conf/bootstrap.sh` then has nothing to install,
as on a machine where the set-up already ran, and this checkout's `.venv` is never touched."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shlex
import shutil
import signal
import subprocess
import sysconfig
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.controller_run import wait_until

ROOT = Path(__file__).resolve().parent.parent
SKIP = re.compile(r"<!-- not run by tests/test_readme\.py: (.+?) -->\s*$")
STOPPED = "# with controller run stopped"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def sh_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, body) of each ```sh block not marked as not run."""
    lines, found, n = text.splitlines(), [], 0
    while n < len(lines):
        if lines[n].strip() == "```sh":
            start = n
            body = []
            n += 1
            while lines[n].strip() != "```":
                body.append(lines[n])
                n += 1
            previous = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), "")
            if not SKIP.search(previous):
                found.append((start + 1, "\n".join(body)))
        n += 1
    return found


def test_the_readme_has_blocks_to_run_and_says_why_of_the_others() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = sh_blocks(text)
    assert any(body.strip() == "./conf/run" for _, body in blocks)
    assert sum(1 for line in text.splitlines() if line.strip() == "```sh") > len(blocks)  # some are not run
    assert all(SKIP.search(line) for line in text.splitlines() if "not run by tests/test_readme.py" in line)


def scratch_copy(folder: Path) -> Path:
    """The repository's files (as git lists them, working tree content) and a .venv of its own."""
    top = folder / "checkout"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and not name.startswith(".venv/"):
            (top / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, top / name)
    env_dir = top / ".venv"
    venv.create(env_dir, with_pip=False, symlinks=True)
    purelib = Path(sysconfig.get_paths(vars={"base": str(env_dir), "platbase": str(env_dir)})["purelib"])
    ours = Path(sysconfig.get_paths()["purelib"])
    (purelib / "readme-scratch.pth").write_text(f"{top}\n{ours}\n")  # the copy's code first, then our packages
    script = env_dir / "bin" / "controller"
    script.write_text(f"#!{env_dir / 'bin' / 'python'}\nimport sys\nfrom controller.cli import main\n"
                      "sys.exit(main())\n")
    script.chmod(0o755)
    (env_dir / ".installed").touch()  # newer than setup.cfg: bootstrap.sh has nothing to install
    return top


class Terminal:
    """The first terminal: `./conf/run` in the foreground, its output in a file."""

    def __init__(self, top: Path, env: dict[str, str], log: Path) -> None:
        self.top, self.env, self.log = top, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, command: str) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(shlex.split(command, comments=True), cwd=self.top, env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)

        def announced() -> bool:
            assert self.process is not None and self.process.poll() is None, self.text()
            return "controller: mail:" in self.text()[offset:]

        wait_until(announced, 60, "the banner of ./conf/run")

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def ctrl_c(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # the terminal's foreground group, as Ctrl-C
            assert self.process.wait(60) == 0, self.text()


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], Terminal]]:
    top = scratch_copy(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLLER_")}
    env.update({"CONTROLLER_ESL_LISTEN": f"127.0.0.1:{free_port()}",
                "CONTROLLER_API_LISTEN": f"127.0.0.1:{free_port()}",
                "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path)})
    terminal = Terminal(top, env, tmp_path / "terminal-1.log")
    yield top, env, terminal
    terminal.ctrl_c()


def pasted(body: str, env: dict[str, str]) -> str:
    """A block as pasted here: the same commands, on this run's ports."""
    return (body.replace("127.0.0.1:8000", env["CONTROLLER_API_LISTEN"])
            .replace("127.0.0.1:8084", env["CONTROLLER_ESL_LISTEN"]))


def run_block(line: int, body: str, top: Path, env: dict[str, str], terminal: Terminal) -> None:
    """Each `./conf/run` line goes to the first terminal; what lies between runs in the second."""
    if body.lstrip().startswith(STOPPED):
        terminal.ctrl_c()
    script: list[str] = []
    for command in [*body.splitlines(), "./conf/run#end"]:
        if command.split("#")[0].strip() not in ("./conf/run",):
            script.append(command)
            continue
        if any(s.split("#")[0].strip() for s in script):
            done = subprocess.run(["sh", "-ec", pasted("\n".join(script), env)], cwd=top, env=env,
                                  capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode == 0, f"README line {line}: {done.args[2]}\n{done.stdout}\n{done.stderr}"
        script = []
        if command != "./conf/run#end":
            terminal.start(command)


def test_every_command_of_the_readme_works_when_pasted(scratch: tuple[Path, dict[str, str], Terminal]) -> None:
    top, env, terminal = scratch
    blocks = sh_blocks((top / "README.md").read_text())
    for line, body in blocks:
        run_block(line, body, top, env, terminal)
    emails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
              for p in sorted((top / "var" / "outbox").glob("*.eml"))]
    assert len(emails) == 3
    assert {str(m["From"]) for m in emails} == {"no-reply@office.example.com"}
    assert all(str(m["Subject"]).startswith("Missed call from") for m in emails)
    bodies = [m.get_body(("plain",)) for m in emails]
    assert all(b is not None and str(b.get_content()).splitlines()[0] == "Hello," for b in bodies)
    assert (top / "backup.rdb").stat().st_size > 0
    # the restore brought the office back, and the run started again on it
    matched = subprocess.run([str(top / ".venv" / "bin" / "controller"), "flows", "match", "+15554441111"],
                             cwd=top, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert matched.returncode == 0 and "Main number" in matched.stdout, matched.stderr
    assert terminal.process is not None and terminal.process.poll() is None


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as '-'."""
    found = set()
    for line in text.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def test_the_links_of_the_readme_and_the_docs_lead_somewhere() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://")):
                continue
            path, _, anchor = target.partition("#")
            where = (page.parent / path).resolve() if path else page
            if not where.exists() or (anchor and where.is_file() and anchor not in anchors(where.read_text())):
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []
