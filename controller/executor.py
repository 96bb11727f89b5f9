"""Walks a callflow's flow tree with Kazoo's `cf_exe` rules.

- Each node runs its module (`handle(data, call)`); the module's answer picks the child.
- A missing child key falls back to `"_"`; no `"_"` ends the flow — unless the flow was entered
  through a Branch (`callflow` module), in which case the parent resumes at its `"_"` child.
- `skip_module: true` and unknown modules continue to `"_"`.
- A branch budget (50, as Kazoo) and a step budget stop loops.
- Nothing runs once the channel is gone.
- A module that raises is logged and the flow continues at its node's `"_"` child, as Kazoo's
  cf_exe does when a module's process dies ("action died unexpectedly", then `continue`): a
  caller whose menu or lookup failed still reaches the voicemail behind it. The call counts as
  failed (`call.state.failed`, the metrics' `failed` outcome); termination handlers still run.
- The account's preflow runs first: Kazoo's cf_route_req puts the call's flow under a `callflow`
  node naming `preflow.always` (kzd_callflows:prepend_preflow), so that callflow runs as a branch
  and the call's own flow follows at its `_`; a preflow callflow that is gone is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from controller.call import Call
from controller.errors import ChannelGoneError
from controller.flow import DEFAULT_CHILD, Branch, Module, Next
from controller.store.connection import UNAVAILABLE

log = logging.getLogger(__name__)

BRANCH_BUDGET = 50
STEP_BUDGET = 500


def child_of(node: Mapping[str, Any], answer: Next) -> dict[str, Any] | None:
    """The child a module's answer selects, falling back to `"_"`; None when there is none."""
    children = node.get("children") or {}
    if answer is None or isinstance(answer, Branch):
        return None
    keys = (answer,) if isinstance(answer, str) else answer
    for key in (*keys, DEFAULT_CHILD):
        if isinstance(children.get(key), dict):
            return dict(children[key])
    return None


class Executor:
    """Runs flows against calls with a fixed module registry."""

    def __init__(self, modules: Mapping[str, Module]) -> None:
        self.modules = modules

    def run(self, call: Call, flow: Mapping[str, Any]) -> str:
        """Run a flow to its end; returns why it stopped (for logs and tests)."""
        parents: list[Mapping[str, Any]] = []
        node: Mapping[str, Any] | None = flow
        branches = steps = 0
        while node is not None:
            if call.channel.is_gone:
                return "channel gone"
            steps += 1
            if steps > STEP_BUDGET:
                log.warning("call %s: step budget of %d exhausted", call.uuid, STEP_BUDGET)
                return "step budget"
            answer = self._step(call, node)
            if isinstance(answer, Branch):
                branches += 1
                if branches > BRANCH_BUDGET:
                    log.warning("call %s: branch budget of %d exhausted", call.uuid, BRANCH_BUDGET)
                    return "branch budget"
                parents.append(node)
                node = answer.flow
                continue
            node = child_of(node, answer)
            while node is None and parents:
                node = child_of(parents.pop(), DEFAULT_CHILD)
        return "flow ended"

    def _step(self, call: Call, node: Mapping[str, Any]) -> Next:
        name = node.get("module")
        data = node.get("data") or {}
        if data.get("skip_module") is True:
            return DEFAULT_CHILD
        module = self.modules.get(name) if isinstance(name, str) else None
        if module is None:
            log.warning("call %s: unknown module %r, continuing to '_'", call.uuid, name)
            return DEFAULT_CHILD
        log.debug("call %s: running %s", call.uuid, name)
        call.children = frozenset(k for k, v in (node.get("children") or {}).items() if isinstance(v, dict))
        try:
            return module.handle(dict(data), call)
        except ChannelGoneError:
            raise
        except Exception:
            log.exception("call %s: module %s failed; continuing to '_'", call.uuid, name)
            call.state.failed = True
            return DEFAULT_CHILD


def with_preflow(flow: Mapping[str, Any], account: Mapping[str, Any]) -> Mapping[str, Any]:
    """The flow a call runs: its callflow's, under the account's preflow when it has one."""
    preflow = account.get("preflow")
    always = preflow.get("always") if isinstance(preflow, Mapping) else None
    if not isinstance(always, str) or not always:
        return flow
    return {"module": "callflow", "data": {"id": always}, "children": {DEFAULT_CHILD: dict(flow)}}


def account_of(call: Call) -> Mapping[str, Any]:
    """The call's account document; {} when it cannot be read (Kazoo then routes without the
    preflow: "could not open account doc")."""
    if call.services is None:
        return {}
    try:
        found: Mapping[str, Any] = call.services.account(call.account_id)
    except UNAVAILABLE as exc:
        log.warning("call %s: account unreadable (%s): no preflow", call.uuid, exc)
        return {}
    return found


def run_call_flow(executor: Executor, call: Call, flow: Mapping[str, Any]) -> str:
    """Run a call's flow (after the account's preflow) with the executor's exception policy;
    returns why it stopped."""
    try:
        return executor.run(call, with_preflow(flow, account_of(call)))
    except ChannelGoneError:
        return "channel gone"
    except Exception:
        log.exception("call %s: module failed; hanging up", call.uuid)
        try:
            call.channel.hangup("NORMAL_TEMPORARY_FAILURE")
        except Exception:
            log.debug("call %s: hangup after failure did not go through", call.uuid)
        return "module failed"
