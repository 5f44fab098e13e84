"""Messages from before wabridge saw the chat (history sync, chat exports): what they do to a lead.

By default a history message fires no rule (an old "Payment received" must not move today's
pipeline or send a webhook): it only makes the customer a lead or fills one in — first-seen
time, name, chat count. With rules on, it goes through `process_message` like a replayed
message, and the lead still keeps the message's time as its first-seen time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engine.evaluate import Outcome, new_lead
from engine.model import Lead, Message


def absorb_history(lead: Lead | None, message: Message, *, now: datetime,
                   statuses: Sequence[str]) -> Outcome:
    """The lead after one history message, without rules (no runs, no outbox, no status change)."""
    created = lead is None
    base = new_lead(message, message.timestamp, statuses) if lead is None else lead
    changes: dict[str, object] = {}
    if not message.from_me and not message.is_edit:  # an edit is the same message again, as live
        changes["chat_count"] = base.chat_count + 1
        if not base.name and message.sender_name:
            changes["name"] = message.sender_name
    if base.created_at is None or message.timestamp < base.created_at:
        changes["created_at"] = message.timestamp
    if not changes and not created:
        return Outcome(base, False, (), (), ())
    changes["updated_at"] = now
    return Outcome(base.with_changes(**changes), created, (), (), ())


def keep_first_seen(before: Lead | None, outcome: Outcome, message: Message) -> Outcome:
    """After rules ran on a history message: the lead was first seen when the message was sent."""
    lead = outcome.lead
    first = before.created_at if before is not None else None
    seen = message.timestamp if first is None or message.timestamp < first else first
    if lead.created_at == seen:
        return outcome
    return Outcome(lead.with_changes(created_at=seen), outcome.created, outcome.requests,
                   outcome.runs, outcome.status_changes)
