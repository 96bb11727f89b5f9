"""Callflow modules, one file each, named after the JSON `module` value (Kazoo's `cf_<name>`).

The registry below is explicit: a module runs only if it is listed here, never looked up by a
name taken from user data. Each module's data schema is `<name>.schema.json` beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from controller.call import handler_name
from controller.flow import Module, TerminationHandler
from controller.modules import (
    acdc_agent,
    acdc_member,
    answer,
    call_forward,
    callflow,
    check_cid,
    collect_dtmf,
    conference,
    conference_feature,
    device,
    directory,
    do_not_disturb,
    dynamic_cid,
    eavesdrop,
    eavesdrop_feature,
    fax_notify,
    group_pickup,
    group_pickup_feature,
    hangup,
    hotdesk,
    intercept,
    intercept_feature,
    intercom,
    language,
    menu,
    missed_call_alert,
    notification,
    offnet,
    page_group,
    park,
    pivot,
    play,
    prepend_cid,
    privacy,
    receive_fax,
    record_call,
    resources,
    response,
    ring_group,
    say,
    set_cid,
    set_variables,
    sleep,
    temporal_route,
    tts,
    user,
    voicemail,
    webhook,
)

REGISTRY: Mapping[str, Module] = MappingProxyType(
    {
        "acdc_agent": acdc_agent,
        "acdc_member": acdc_member,
        "answer": answer,
        "call_forward": call_forward,
        "callflow": callflow,
        "check_cid": check_cid,
        "collect_dtmf": collect_dtmf,
        "conference": conference,
        "conference_feature": conference_feature,
        "device": device,
        "directory": directory,
        "do_not_disturb": do_not_disturb,
        "dynamic_cid": dynamic_cid,
        "eavesdrop": eavesdrop,
        "eavesdrop_feature": eavesdrop_feature,
        "group_pickup": group_pickup,
        "group_pickup_feature": group_pickup_feature,
        "hangup": hangup,
        "hotdesk": hotdesk,
        "intercept": intercept,
        "intercept_feature": intercept_feature,
        "intercom": intercom,
        "language": language,
        "menu": menu,
        "missed_call_alert": missed_call_alert,
        "notification": notification,
        "offnet": offnet,
        "page_group": page_group,
        "park": park,
        "pivot": pivot,
        "play": play,
        "prepend_cid": prepend_cid,
        "privacy": privacy,
        "receive_fax": receive_fax,
        "record_call": record_call,
        "resources": resources,
        "response": response,
        "ring_group": ring_group,
        "say": say,
        "set_cid": set_cid,
        "set_variables": set_variables,
        "sleep": sleep,
        "temporal_route": temporal_route,
        "tts": tts,
        "user": user,
        "voicemail": voicemail,
        "webhook": webhook,
    }
)

# Termination handlers by name, so that a call rebuilt from Redis (controller/callstate.py) gets
# the same functions back; never a name looked up in arbitrary code.
TERMINATION_HANDLERS: Mapping[str, TerminationHandler] = MappingProxyType(
    {handler_name(fn): fn for fn in (missed_call_alert.alert_if_missed, notification.send, pivot.post_cdr,
                                     fax_notify.send)}
)
