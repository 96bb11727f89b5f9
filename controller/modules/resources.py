"""resources — Kazoo's other name for `offnet` (cf_resources): the same carriers, the same data.

The controller has one set of carriers (the settings' `carriers`), so both modules place the
call the same way; see `offnet.py`.
"""

from __future__ import annotations

from controller.modules.offnet import handle

__all__ = ["handle"]
