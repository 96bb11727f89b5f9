"""The JSON Schemas of the project, loaded once into one registry: the callflow document
(`callflows/callflow.json`, Kazoo's callflows schema), each callflow module's `data`
(`modules/<module>.schema.json`, beside the module) and the stored documents and bundle
(`store/schemas/*.json`). Validators are built once and reused.

Formats checked beyond jsonschema's own: `timezone` (an IANA zone known to zoneinfo), `regex`
(compiles with RE2, like callflow patterns) and `email`.
"""

from __future__ import annotations

import functools
import json
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012 as _SPEC

from controller.callflows.patterns import PatternError, compile_pattern

PACKAGE = Path(__file__).resolve().parent.parent
MODULE_SUFFIX = ".schema.json"


def _format_checker() -> FormatChecker:
    checker = FormatChecker()

    @checker.checks("timezone")
    def is_timezone(value: object) -> bool:
        return not isinstance(value, str) or value in _timezones()

    @checker.checks("regex", raises=PatternError)
    def is_regex(value: object) -> bool:
        if isinstance(value, str):
            compile_pattern(value)
        return True

    @checker.checks("email")
    def is_email(value: object) -> bool:
        if not isinstance(value, str):
            return True
        local, at, domain = value.rpartition("@")
        return bool(at and local and "." in domain and not any(c in value for c in " \r\n<>,;"))

    return checker


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _schema_files() -> Iterator[tuple[str, Path]]:
    yield "callflow.json", PACKAGE / "callflows" / "callflow.json"
    for path in sorted((PACKAGE / "store" / "schemas").glob("*.json")):
        yield path.name, path
    for path in sorted((PACKAGE / "modules").glob("*" + MODULE_SUFFIX)):
        yield path.name, path


@functools.cache
def _loaded() -> tuple[Registry, dict[str, dict[str, Any]]]:
    schemas: dict[str, dict[str, Any]] = {}
    for name, path in _schema_files():
        schemas[name] = json.loads(path.read_text(encoding="utf-8"))
    registry: Registry = Registry().with_resources(
        (schema.get("$id", name), Resource.from_contents(schema, default_specification=_SPEC))
        for name, schema in schemas.items()
    )
    return registry, schemas


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """The validator of one schema file by name (`callflow.json`, `user.json`,
    `menu.schema.json`); raises KeyError for an unknown name."""
    registry, schemas = _loaded()
    return Draft202012Validator(schemas[name], registry=registry, format_checker=_format_checker())


def module_names() -> frozenset[str]:
    """Callflow modules that have a data schema."""
    _, schemas = _loaded()
    return frozenset(n[: -len(MODULE_SUFFIX)] for n in schemas if n.endswith(MODULE_SUFFIX))


def module_validator(module: str) -> Draft202012Validator | None:
    if module not in module_names():
        return None
    return validator(module + MODULE_SUFFIX)


def errors(name: str, document: Any) -> list[ValidationError]:
    """Every schema violation of a document, in a stable order (by JSON path)."""
    found = validator(name).iter_errors(document)
    return sorted(found, key=lambda e: (e.json_path, e.message))
