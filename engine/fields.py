"""The fields a condition can test: one registry entry per field (name, label, kind, getter).

Adding a field is one `_field(...)` line. Labels are the seed page's UI labels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from engine.changes import CHANGE_SOURCES
from engine.context import EvalContext
from engine.model import MESSAGE_TYPES, SENDER_TYPES, jid_to_phone


class FieldKind(StrEnum):
    """How a field's value is compared, which decides the operators it accepts."""

    TEXT = "text"
    NUMBER = "number"
    BOOL = "bool"
    TIME = "time"
    TAGS = "tags"  # a set of texts (room tags, lead tags)


FieldValue = str | float | int | bool | datetime | tuple[str, ...] | None
Getter = Callable[[EvalContext], FieldValue]

# Which triggers provide a field: message fields need a message, status fields a change.
MESSAGE_TRIGGERS = frozenset({"message.received", "lead.created"})
ALL_TRIGGERS = frozenset({"message.received", "lead.created", "lead.status_changed"})
STATUS_TRIGGERS = frozenset({"lead.status_changed"})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One testable field: its name in rules, its UI label, its kind and how to read it."""

    name: str
    label: str
    kind: FieldKind
    get: Getter
    triggers: frozenset[str] = ALL_TRIGGERS
    choices: tuple[str, ...] = ()  # closed vocabularies (message type, sender type)
    description: str = ""
    # Canonical form of the rule's values for this field (e.g. a JID or "+62 812…" → digits),
    # applied when the condition is built, so rules may be written either way.
    value_form: Callable[[str], str] | None = None


FIELDS: dict[str, FieldSpec] = {}


def _field(spec: FieldSpec) -> None:
    if spec.name in FIELDS:
        raise RuntimeError(f"field {spec.name!r} registered twice")
    FIELDS[spec.name] = spec


def _msg(attr: str) -> Getter:
    def get(ctx: EvalContext) -> FieldValue:
        message = ctx.message
        if message is None:
            return None
        value: FieldValue = getattr(message, attr)
        return value if value != "" else None

    return get


def _lead(attr: str) -> Getter:
    def get(ctx: EvalContext) -> FieldValue:
        value: FieldValue = getattr(ctx.lead, attr)
        return value if value != "" else None

    return get


def _message_text(ctx: EvalContext) -> FieldValue:
    # An empty text is a value ("" contains nothing), not a missing one.
    return ctx.message.text if ctx.message is not None else None


def phone_form(value: str) -> str:
    """`628…@s.whatsapp.net`, `+62 812-…` and `628…` all become `628…`; other text stays."""
    text = value.strip()
    if "@" in text:
        return jid_to_phone(text)
    compact = text.replace("+", "").replace(" ", "").replace("-", "")
    return compact if compact.isdigit() else text


def _sender(ctx: EvalContext) -> FieldValue:
    return phone_form(ctx.message.sender) if ctx.message is not None else None


def _room_tags(ctx: EvalContext) -> FieldValue:
    return ctx.message.room_tags if ctx.message is not None else None


def _lead_tags(ctx: EvalContext) -> FieldValue:
    return tuple(sorted(ctx.lead.tags))


def _sender_type(ctx: EvalContext) -> FieldValue:
    return ctx.message.sender_type if ctx.message is not None else None


def _first_contact(ctx: EvalContext) -> FieldValue:
    return ctx.first_contact if ctx.message is not None else None


def _chat_count(ctx: EvalContext) -> FieldValue:
    return ctx.lead.chat_count


def _local_time(ctx: EvalContext) -> FieldValue:
    return ctx.local_time()


_M = MESSAGE_TRIGGERS
for _spec in (
    FieldSpec("message.text", "Message", FieldKind.TEXT, _message_text, _M,
              description="Text of the message, or the caption of media"),
    FieldSpec("message.sender", "Sender ID (JID)", FieldKind.TEXT, _sender, _M,
              description="Sender phone digits (a JID in the rule works too), e.g. 628123456789",
              value_form=phone_form),
    FieldSpec("message.type", "Message Type", FieldKind.TEXT, _msg("type"), _M,
              choices=MESSAGE_TYPES),
    FieldSpec("message.is_group", "Is Group Chat", FieldKind.BOOL, _msg("is_group"), _M),
    FieldSpec("time.local", "Time Window", FieldKind.TIME, _local_time,
              description="Message time in the workspace timezone"),
    FieldSpec("chat.count", "Chat Count", FieldKind.NUMBER, _chat_count,
              description="Customer messages of this lead, this one included"),
    FieldSpec("message.room_tags", "Room Tags (Qontak)", FieldKind.TAGS, _room_tags, _M),
    FieldSpec("message.has_media", "Has Media", FieldKind.BOOL, _msg("has_media"), _M),
    FieldSpec("message.is_reply", "Reply to Message", FieldKind.BOOL, _msg("is_reply"), _M),
    FieldSpec("message.is_edit", "Is Edited", FieldKind.BOOL, _msg("is_edit"), _M,
              description="True when the message is a correction of an earlier one (its new text)"),
    FieldSpec("message.first_contact", "First Contact", FieldKind.BOOL, _first_contact, _M,
              description="True on the lead's first customer message"),
    FieldSpec("message.sender_name", "Customer Name", FieldKind.TEXT, _msg("sender_name"), _M),
    FieldSpec("message.sender_type", "Sender Type", FieldKind.TEXT, _sender_type, _M,
              choices=SENDER_TYPES),
    FieldSpec("message.partner_source", "Partner Source", FieldKind.TEXT,
              _msg("partner_source"), _M, description="whatsapp_web, wa_api, qontak, ..."),
    FieldSpec("message.channel_id", "Channel ID", FieldKind.TEXT, _msg("channel_id"), _M),
    FieldSpec("lead.status", "Lead Status", FieldKind.TEXT, _lead("status")),
    FieldSpec("lead.priority", "Lead Priority", FieldKind.TEXT, _lead("priority"),
              description="low, medium, high, urgent"),
    FieldSpec("lead.score", "Lead Score", FieldKind.NUMBER, _lead("score")),
    FieldSpec("lead.source", "Lead Source", FieldKind.TEXT, _lead("source")),
    FieldSpec("lead.notes", "Lead Notes", FieldKind.TEXT, _lead("notes")),
    FieldSpec("lead.city", "Lead City", FieldKind.TEXT, _lead("city")),
    FieldSpec("lead.region", "Lead Region", FieldKind.TEXT, _lead("region")),
    FieldSpec("lead.country", "Lead Country", FieldKind.TEXT, _lead("country")),
    FieldSpec("lead.utm_source", "UTM Source", FieldKind.TEXT, _lead("utm_source")),
    FieldSpec("lead.utm_medium", "UTM Medium", FieldKind.TEXT, _lead("utm_medium")),
    FieldSpec("lead.utm_campaign", "UTM Campaign", FieldKind.TEXT, _lead("utm_campaign")),
    FieldSpec("lead.utm_term", "UTM Term", FieldKind.TEXT, _lead("utm_term")),
    FieldSpec("lead.utm_content", "UTM Content", FieldKind.TEXT, _lead("utm_content")),
    FieldSpec("lead.value_actual", "Actual Value", FieldKind.NUMBER, _lead("value_actual")),
    FieldSpec("lead.value_potential", "Potential Value", FieldKind.NUMBER,
              _lead("value_potential")),
    FieldSpec("lead.name", "Lead Name", FieldKind.TEXT, _lead("name")),
    FieldSpec("lead.phone", "Lead Phone", FieldKind.TEXT, _lead("phone")),
    FieldSpec("lead.tags", "Lead Tags", FieldKind.TAGS, _lead_tags),
    FieldSpec("status.from", "Status Changed From", FieldKind.TEXT,
              lambda ctx: ctx.status_from, STATUS_TRIGGERS),
    FieldSpec("status.to", "Status Changed To", FieldKind.TEXT,
              lambda ctx: ctx.status_to, STATUS_TRIGGERS),
    FieldSpec("change.by", "Changed By", FieldKind.TEXT, lambda ctx: ctx.change_by,
              choices=CHANGE_SOURCES,
              description="Who made the change: message, rule (a rule's action), dashboard, api, "
                          "import or cli (a person or another system)"),
):
    _field(_spec)

# Fields whose values are statuses: their condition values are checked against the list.
STATUS_FIELDS = frozenset({"lead.status", "status.from", "status.to"})
