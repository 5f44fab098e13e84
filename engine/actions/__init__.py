"""Actions: one frozen dataclass per action type, registered by its `type` string.

`parse` validates a rule's action once (path-qualified errors); `apply` is pure: it
changes the lead draft it is given and returns outbox requests and a note for the
trace. Delivery of outbox requests is the shell's job. `base` holds the registry,
`lead` the actions that change the lead, `outbound` those that queue deliveries.
"""

from engine.actions import lead, outbound
from engine.actions.base import ACTIONS, Action, ActionRun, Applied, OutboxRequest, parse_action, register
from engine.actions.lead import (
    NUMERIC_TARGETS,
    PRESET_LABELS,
    REGEX_PRESETS,
    SETTABLE_FIELDS,
    AddTag,
    AdjustScore,
    RemoveTag,
    SetField,
    SetStatus,
    UpdateValue,
)
from engine.actions.outbound import WEBHOOK_EVENTS, CheckIn, ConversionEvent, SendReply, SendWebhook

__all__ = [
    "ACTIONS", "NUMERIC_TARGETS", "PRESET_LABELS", "REGEX_PRESETS", "SETTABLE_FIELDS", "WEBHOOK_EVENTS",
    "Action", "ActionRun", "AddTag", "AdjustScore", "Applied", "CheckIn", "ConversionEvent", "OutboxRequest",
    "RemoveTag", "SendReply", "SendWebhook", "SetField", "SetStatus", "UpdateValue", "lead", "outbound",
    "parse_action", "register",
]
