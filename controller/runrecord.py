"""Where a `controller run` on a relative data directory (the default, `var`) lives, so that a
command started in another directory still finds it and its private Redis.

Such a run writes `run.json` into the user's state directory (`$XDG_STATE_HOME/controller`,
`~/.local/state/controller` by default): its pid, the directory it was started in and the absolute
paths of its configuration file, data directory and outbox; it removes the file when it stops.
A command that has nothing of its own to go by — no CONTROLLER_CONFIG and no
`conf/controller.toml` in its directory, no CONTROLLER_DATA_DIR, no Redis in the environment —
and finds no private Redis under its own `var`, takes the recorded run's configuration file, data
directory and outbox (`recorded_environment`). A run on an absolute data directory records
nothing: any command given that directory finds it wherever it starts.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from controller import config
from controller.runlock import is_controller

log = logging.getLogger(__name__)

OWN = ("CONTROLLER_CONFIG", "CONTROLLER_DATA_DIR", "CONTROLLER_REDIS_URL", "CONTROLLER_REDIS_SENTINELS")


@dataclasses.dataclass(frozen=True)
class Record:
    pid: int
    cwd: str
    config: str  # "" when the run read no configuration file
    data_dir: str
    outbox_dir: str


def path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / "controller" / "run.json"


def write(settings: config.Settings, environ: Mapping[str, str] | None = None) -> Path | None:
    """Record this run (when its data directory is relative); where, or None when not recorded."""
    if Path(settings.data_dir).is_absolute():
        return None
    env = os.environ if environ is None else environ
    conf = Path(env.get("CONTROLLER_CONFIG", config.DEFAULT_CONFIG))
    record = Record(os.getpid(), os.getcwd(), str(conf.resolve()) if conf.exists() else "",
                    str(Path(settings.data_dir).resolve()), str(Path(settings.outbox_dir).resolve()))
    where = path(env)
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        temporary = where.with_suffix(".tmp")
        temporary.write_text(json.dumps(dataclasses.asdict(record)) + "\n")
        temporary.replace(where)
    except OSError as exc:
        log.warning("cannot record this run in %s (%s): commands started in another directory will not find it",
                    where, exc)
        return None
    return where


def remove(environ: Mapping[str, str] | None = None) -> None:
    """Remove the record if it is this process's."""
    found = read(environ)
    if found is not None and found.pid == os.getpid():
        path(environ).unlink(missing_ok=True)


def read(environ: Mapping[str, str] | None = None) -> Record | None:
    try:
        doc = json.loads(path(environ).read_text())
        return Record(**{field.name: doc[field.name] for field in dataclasses.fields(Record)})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def has_own(environ: Mapping[str, str]) -> bool:
    """Whether a command has something of its own to find its Redis with (then no record is used)."""
    return any(name in environ for name in OWN) or Path(config.DEFAULT_CONFIG).exists()


def recorded_environment(environ: Mapping[str, str]) -> tuple[dict[str, str], Record] | None:
    """The environment a command with nothing of its own should load its settings from: the
    recorded run's configuration file, data directory and outbox (the outbox unless the
    environment names one). None when there is no live recorded run."""
    if has_own(environ):
        return None
    record = read(environ)
    if record is None or not is_controller(record.pid):
        return None
    env = dict(environ)
    env["CONTROLLER_CONFIG"] = record.config or os.devnull
    env["CONTROLLER_DATA_DIR"] = record.data_dir
    env.setdefault("CONTROLLER_OUTBOX_DIR", record.outbox_dir)
    return env, record
