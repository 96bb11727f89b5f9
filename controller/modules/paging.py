"""The auto-answer variables `page_group` and `intercom` give the legs they dial, as Kazoo's
ecallmgr sets them for its `Auto-Answer` and `Auto-Answer-Suppress-Notify` channel variables:

- `sip_auto_answer=true`: mod_sofia adds `Call-Info: <sip:<profile ip>>;answer-after=0` to the
  INVITE and `intercom=true` to its Request-URI (mod_sofia.c, sofia_outgoing_channel), what
  common phones honour by answering at once, on speaker;
- `alert_info=intercom`: `Alert-Info: intercom`, which other phones look for;
- `sip_auto_answer_suppress_notify`: true unless `barge_calls`; false lets mod_sofia send the
  phone a `NOTIFY` with `Event: talk` once it rings (sofia.c), which phones take as "answer even
  while on another call".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def auto_answer(data: Mapping[str, Any]) -> dict[str, str]:
    barge = data.get("barge_calls") is True
    return {"sip_auto_answer": "true", "alert_info": "intercom",
            "sip_auto_answer_suppress_notify": "false" if barge else "true"}
