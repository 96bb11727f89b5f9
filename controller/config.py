"""Settings: embedded defaults, then `conf/controller.toml` (or CONTROLLER_CONFIG), then the
CONTROLLER_* environment variables. Each TOML key is the environment name without its prefix, in
lower case (`redis_url` <-> CONTROLLER_REDIS_URL). Settings are loaded once in the entry point and
passed down; a bad value stops start-up with a ConfigError naming the variable.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from redis.connection import parse_url

from controller.callflows.patterns import PatternError, compile_pattern
from controller.errors import ConfigError
from controller.notify import addresses

PREFIX = "CONTROLLER_"
DEFAULT_CONFIG = "conf/controller.toml"


@dataclasses.dataclass(frozen=True)
class Listen:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclasses.dataclass(frozen=True)
class EslEndpoint:
    """An inbound ESL connection to one FreeSWITCH (`esl://:password@host:port`)."""

    host: str
    port: int
    password: str

    def __str__(self) -> str:
        return f"esl://{self.host}:{self.port}"


@dataclasses.dataclass(frozen=True)
class Carrier:
    """A way out to the telephone network: a FreeSWITCH sofia gateway (`offnet` dials
    `sofia/gateway/<gateway>/<prefix><number>`), tried in the order carriers are listed."""

    gateway: str
    name: str = ""
    prefix: str = ""  # digits put before the number, e.g. a tech prefix
    strip_plus: bool = False  # send 15551234567 rather than +15551234567
    patterns: tuple[str, ...] = ()  # RE2 patterns of the E.164 numbers this carrier takes (none: all)
    flags: tuple[str, ...] = ()  # what the carrier offers (e.g. fax, emergency): offnet's outbound_flags pick carriers
    # The patterns compiled once, at load (an invalid one refuses the settings).
    regexes: tuple[Any, ...] = dataclasses.field(default=(), repr=False, compare=False)

    def takes(self, number: str) -> bool:
        """Whether this carrier takes an E.164 number (a carrier without patterns takes all)."""
        return not self.regexes or any(regex.search(number) for regex in self.regexes)


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting of the controller; field names are the TOML keys."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    redis_sentinel_master: str = "mymaster"
    esl_listen: Listen = Listen("127.0.0.1", 8084)
    esl_allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    max_calls: int = 20000
    linger_seconds: int = 10
    command_timeout: float = 10.0
    drain_seconds: float = 30.0
    liveness_seconds: float = 10.0
    route_profile: str = "external"
    api_listen: Listen = Listen("127.0.0.1", 8000)
    api_max_body: int = 1048576
    smtp_url: str = ""
    outbox_dir: str = "var/outbox"
    mail_from: str = ""  # "": no-reply@<the account's realm> (controller/notify/sender.py)
    sms_url: str = ""
    sms_token: str = ""
    sms_from: str = ""
    job_lease_seconds: float = 30.0
    alert_max_delay: float = 300.0
    max_attachment_bytes: int = 10 * 1024 * 1024
    media_url: str = ""
    # Networks a tenant's URLs (webhook, pivot, media) may reach although they are loopback,
    # link-local or this machine's own (controller/tenant_http.py)
    tenant_http_allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    default_account: str = ""
    voicemail_dir: str = "/var/lib/freeswitch/storage/voicemail"
    fax_dir: str = "/var/lib/freeswitch/storage/fax"  # received faxes: <fax_dir>/<account>/<fax id>.tiff
    recordings_dir: str = "/var/lib/freeswitch/recordings"  # record_call: <recordings_dir>/<account>/<name>
    voicemail_prompts: str = "files"  # or "tts": spoken by flite (controller/modules/voicemail_prompts.py)
    data_dir: str = "var"
    media_dir: str = ""  # "": <data_dir>/media (controller/store/media.py)
    media_max_bytes: int = 11534336  # Kazoo's media schema's content_length maximum (11 MiB)
    country_code: str = "1"
    cdr_days: int = 30  # how long call records are kept (controller/store/cdrs.py)
    carriers: tuple[Carrier, ...] = ()
    freeswitch: tuple[EslEndpoint, ...] = ()
    log_level: str = "INFO"
    log_format: str = "text"


def _listen(value: str) -> Listen:
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise ValueError("expected HOST:PORT")
    host = host.strip("[]")
    number = int(port)
    if not 0 <= number <= 65535:
        raise ValueError("port out of range")
    return Listen(host, number)


def _redis_url(value: str) -> str:
    """A URL redis-py can use (its own parser checks the port, the database and the options;
    whether the server has that database only the server can say, in one line at first use)."""
    if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
        raise ValueError("expected a redis://, rediss:// or unix:// URL")
    try:
        parse_url(value)
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    return value


def _sentinels(value: str | list[str]) -> tuple[tuple[str, int], ...]:
    items = value if isinstance(value, list) else [v for v in value.split(",") if v.strip()]
    return tuple((lst.host, lst.port) for lst in (_listen(str(v).strip()) for v in items))


def _networks(value: str | list[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    items = value if isinstance(value, list) else value.split(",")
    nets = tuple(ipaddress.ip_network(str(v).strip(), strict=False) for v in items if str(v).strip())
    if not nets:
        raise ValueError("at least one network is required")
    return nets


def _some_networks(value: str | list[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Networks, or none at all (an empty value)."""
    items = value if isinstance(value, list) else value.split(",")
    return tuple(ipaddress.ip_network(str(v).strip(), strict=False) for v in items if str(v).strip())


def _url(*schemes: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value and urlsplit(value).scheme not in schemes:
            raise ValueError(f"expected a URL with scheme {' or '.join(schemes)}")
        return value

    return parse


def _esl_endpoints(value: str | list[str]) -> tuple[EslEndpoint, ...]:
    items = value if isinstance(value, list) else [v for v in value.split(",") if v.strip()]
    endpoints = []
    for item in items:
        url = urlsplit(str(item).strip())
        if url.scheme != "esl" or not url.hostname:
            raise ValueError(f"expected esl://:password@host:port, got {item!r}")
        endpoints.append(EslEndpoint(url.hostname, url.port or 8021, url.password or "ClueCon"))
    return tuple(endpoints)


_GATEWAY_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_CARRIER_KEYS = frozenset(f.name for f in dataclasses.fields(Carrier)) - {"regexes"}


def _carriers(value: str | list[Any]) -> tuple[Carrier, ...]:
    """TOML: `[[carriers]]` tables (gateway, name, prefix, strip_plus, patterns, flags); environment:
    a comma-separated list of gateway names."""
    items = value if isinstance(value, list) else [{"gateway": v.strip()} for v in value.split(",") if v.strip()]
    carriers = []
    for item in items:
        if not isinstance(item, dict) or not set(item) <= _CARRIER_KEYS:
            raise ValueError(f"a carrier is a table with keys among {sorted(_CARRIER_KEYS)}, got {item!r}")
        gateway, prefix = str(item.get("gateway", "")), str(item.get("prefix", ""))
        if not _GATEWAY_NAME.fullmatch(gateway) or not (prefix.isdigit() or not prefix):
            raise ValueError(f"carrier {item!r}: gateway must be a sofia gateway name, prefix digits")
        patterns = tuple(str(p) for p in item.get("patterns", ()))
        try:
            regexes = tuple(compile_pattern(p) for p in patterns)
        except PatternError as exc:
            raise ValueError(f"carrier {gateway!r}: a pattern is {exc}") from exc
        flags = tuple(str(f) for f in item.get("flags", ()))
        name, strip = str(item.get("name", gateway)), item.get("strip_plus") is True
        carriers.append(Carrier(gateway, name, prefix, strip, patterns, flags, regexes))
    return tuple(carriers)


def _country_code(value: str | int) -> str:
    code = str(value).lstrip("+")
    if not code.isdigit() or not 1 <= len(code) <= 3:
        raise ValueError("expected a country calling code of 1 to 3 digits, e.g. 1 or 44")
    return code


def _positive_int(value: str | int) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be a positive integer")
    return number


def _positive_float(value: str | float) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("must be a positive number")
    return number


def _mail_from(value: str) -> str:
    """One mailbox a mail server accepts as sender: `alerts@example.com` or `PBX <alerts@example.com>`
    (empty: the default, see controller/notify/sender.py)."""
    if not value.strip():
        return ""
    found = addresses.mailbox(value)
    if found is None or not addresses.is_valid(found[1]):
        raise ValueError("expected one email address with a domain, e.g. alerts@example.com or "
                         "'Example PBX <alerts@example.com>'")
    return addresses.header(*found)


def _voicemail_prompts(value: str) -> str:
    if value not in ("files", "tts"):
        raise ValueError("expected files or tts")
    return value


def _log_format(value: str) -> str:
    if value not in ("text", "json"):
        raise ValueError("expected text or json")
    return value


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return level


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "redis_url": _redis_url,
    "redis_sentinels": _sentinels,
    "redis_sentinel_master": str,
    "esl_listen": _listen,
    "esl_allow": _networks,
    "max_calls": _positive_int,
    "linger_seconds": _positive_int,
    "command_timeout": _positive_float,
    "drain_seconds": _positive_float,
    "liveness_seconds": _positive_float,
    "route_profile": str,
    "api_listen": _listen,
    "api_max_body": _positive_int,
    "smtp_url": _url("smtp", "smtps"),
    "outbox_dir": str,
    "mail_from": _mail_from,
    "sms_url": _url("http", "https"),
    "sms_token": str,
    "sms_from": str,
    "job_lease_seconds": _positive_float,
    "alert_max_delay": _positive_float,
    "max_attachment_bytes": _positive_int,
    "media_url": _url("http", "https"),
    "tenant_http_allow": _some_networks,
    "default_account": str,
    "voicemail_dir": str,
    "fax_dir": str,
    "recordings_dir": str,
    "voicemail_prompts": _voicemail_prompts,
    "data_dir": str,
    "media_dir": str,
    "media_max_bytes": _positive_int,
    "country_code": _country_code,
    "cdr_days": _positive_int,
    "carriers": _carriers,
    "freeswitch": _esl_endpoints,
    "log_level": _log_level,
    "log_format": _log_format,
}


def env_name(field: str) -> str:
    return PREFIX + field.upper()


def _read_toml(path: Path, explicit: bool) -> dict[str, Any]:
    if not path.exists():
        if explicit:
            raise ConfigError("CONTROLLER_CONFIG", f"{path} does not exist")
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("CONTROLLER_CONFIG", f"{path}: {exc}") from exc
    unknown = sorted(set(data) - set(_PARSERS))
    if unknown:
        raise ConfigError(env_name(unknown[0]), f"unknown key {unknown[0]!r} in {path}")
    return data


def given(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The settings the TOML file or the environment set (the others keep their defaults)."""
    env = os.environ if environ is None else environ
    path = Path(env.get("CONTROLLER_CONFIG", DEFAULT_CONFIG))
    in_file = set(_read_toml(path, "CONTROLLER_CONFIG" in env))
    return frozenset(in_file | {field for field in _PARSERS if env_name(field) in env})


# CONTROLLER_* variables that are not settings: the configuration file's path, and the test run's.
NOT_SETTINGS = frozenset({"CONTROLLER_CONFIG", "CONTROLLER_TEST_FREESWITCH", "CONTROLLER_REQUIRE_FREESWITCH",
                          "CONTROLLER_SINK_FILE"})


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """One line for each CONTROLLER_* variable that no setting reads (a typo would otherwise
    leave its setting at the default without a word), with the closest known name."""
    env = os.environ if environ is None else environ
    known = sorted(env_name(field) for field in _PARSERS)
    lines = []
    for name in sorted(n for n in env if n.startswith(PREFIX) and n not in NOT_SETTINGS and n not in known):
        close = difflib.get_close_matches(name.removeprefix(PREFIX).lower(), list(_PARSERS), n=1, cutoff=0.75)
        lines.append(f"unknown setting {name} ignored" + (f" (did you mean {env_name(close[0])}?)" if close else ""))
    return lines


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the TOML file and the environment; refuse any bad value."""
    env = os.environ if environ is None else environ
    path = Path(env.get("CONTROLLER_CONFIG", DEFAULT_CONFIG))
    raw: dict[str, Any] = _read_toml(path, "CONTROLLER_CONFIG" in env)
    for field in _PARSERS:
        if env_name(field) in env:
            raw[field] = env[env_name(field)]
    values: dict[str, Any] = {}
    for field, value in raw.items():
        try:
            values[field] = _PARSERS[field](value)
        except (ValueError, TypeError) as exc:
            raise ConfigError(env_name(field), f"invalid value {value!r}: {exc}") from exc
    return Settings(**values)
