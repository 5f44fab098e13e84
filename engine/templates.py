"""Rule templates shipped with the product (installed by slug: `wabridge templates install`).

The three recipes are the seed page's, word for word in their conditions and actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Template:
    """A named, installable rule (in the rule-file form)."""

    slug: str
    title: str
    summary: str
    rule: dict[str, Any]


TEMPLATES: dict[str, Template] = {}


def _template(template: Template) -> None:
    if template.slug in TEMPLATES:
        raise RuntimeError(f"template {template.slug!r} registered twice")
    TEMPLATES[template.slug] = template


_template(Template(
    "mark-active-lead",
    "Mark Active Lead (CTWA)",
    "Ad leads who keep chatting (more than 2 messages) move from New to Responded.",
    {
        "name": "Mark Active Lead (CTWA)",
        "trigger": "message.received",
        "sender": "customer",
        "priority": 10,
        "conditions": [
            {"field": "chat.count", "op": "gt", "value": 2},
            {"field": "lead.status", "op": "equal", "value": "new"},
        ],
        "actions": [{"type": "set_status", "status": "responded"}],
    },
))
_template(Template(
    "identify-hot-lead",
    "Identify Hot Lead (Keyword)",
    "Buying signals (order, buy, booking) move a Responded lead to Hot.",
    {
        "name": "Identify Hot Lead (Keyword)",
        "trigger": "message.received",
        "sender": "customer",
        "priority": 20,
        "conditions": [
            {"field": "message.text", "op": "contains", "value": "order, buy, booking"},
            {"field": "lead.status", "op": "equal", "value": "responded"},
        ],
        "actions": [{"type": "set_status", "status": "hot"}],
    },
))
_template(Template(
    "auto-closing",
    "Auto-Closing & Capture Value (Regex)",
    'A "Payment received" message (from the customer or CS) captures the amount and '
    "moves the lead to Purchase.",
    {
        "name": "Auto-Closing & Capture Value (Regex)",
        "trigger": "message.received",
        "sender": "all",
        "priority": 30,
        "conditions": [
            {"field": "message.text", "op": "contains", "value": "payment received"},
        ],
        "actions": [
            {"type": "update_value", "target": "lead.value_actual", "pattern": r"Rp\s*([0-9.,]+)"},
            {"type": "set_status", "status": "purchase"},
        ],
    },
))
# Event attendance and vouchers (engine.attendance): the QR pre-fills "CHECKIN <code>" or
# "REDEEM <code>"; `event = "*"` accepts the codes of every event of the receiving number.
_template(Template(
    "event-check-in",
    "Event Check-in",
    'A "CHECKIN <code>" message checks the attendee in once and answers (welcome, already '
    "checked in at HH:MM, code not valid, not open yet, over).",
    {
        "name": "Event Check-in",
        "trigger": "message.received",
        "sender": "customer",
        "priority": 5,
        "conditions": [
            {"field": "message.text", "op": "matches", "value": r"(?i)\bcheck[ -]?in\b"},
        ],
        "actions": [{"type": "check_in", "event": "*"}],
    },
))
_template(Template(
    "voucher-redemption",
    "Voucher Redemption",
    'A "REDEEM <code>" message redeems a voucher (single- or N-use) and answers with the uses left.',
    {
        "name": "Voucher Redemption",
        "trigger": "message.received",
        "sender": "customer",
        "priority": 6,
        "conditions": [
            {"field": "message.text", "op": "matches", "value": r"(?i)\b(redeem|voucher|tukar)\b"},
        ],
        "actions": [{"type": "check_in", "event": "*"}],
    },
))
