"""Callflow modules, one file each, named after the JSON `module` value (Kazoo's `cf_<name>`).

The registry below is explicit: a module runs only if it is listed here, never looked up by a
name taken from user data. Each module's data schema is `<name>.schema.json` beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from controller.flow import Module

REGISTRY: Mapping[str, Module] = MappingProxyType({})
