"""Event webhook subscriptions: events pushed to a URL without writing a rule.

A subscription names the events it wants (and optionally the admin numbers). Events are
queued in the outbox as kind `webhook` on the lane `subscription:<name>`, in the same
transaction as what caused them (a processed message, a check-in, a session change), with
an envelope and an event id built once: every retry, across restarts, sends the same bytes
with the same `X-Wabridge-Event-Id`. docs/events.md documents each event's JSON.

Subscriptions made on the dashboard are rows of `subscriptions`; config.toml's are passed
in by the shell (read-only). The shell resolves a subscription's URL and secret when it
delivers, so a changed secret applies to waiting deliveries too.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from engine.attendance import Event as CheckinEvent
from engine.attendance import display
from engine.model import Lead, Message
from store.checkins import ManualResult, Resolved, manual_check_in
from store.leads import get_lead
from store.outbox import event_id, ts

EVENT_TYPES = ("message.received", "message.sent", "lead.created", "lead.updated", "lead.status_changed",
               "checkin.recorded", "session.state_changed")
TEST_EVENT = "webhook.test"


@dataclass(frozen=True, slots=True)
class Subscription:
    """Who wants which events: a name (its lane), event types, optionally some admin numbers."""

    name: str
    url: str
    events: frozenset[str]
    numbers: frozenset[str] | None = None  # None: every number (and partner channels)
    secret: str | None = field(default=None, repr=False)
    source: str = "config"  # config (read-only) | dashboard (stored here)

    def wants(self, event_type: str, number: str | None) -> bool:
        """Whether this event goes to this subscription."""
        if event_type not in self.events:
            return False
        return self.numbers is None or (number is not None and number in self.numbers)

    def to_dict(self) -> dict[str, Any]:
        """As the API shows it: the secret never, only whether there is one."""
        return {"name": self.name, "url": self.url, "events": sorted(self.events),
                "numbers": sorted(self.numbers) if self.numbers is not None else None,
                "signed": bool(self.secret), "source": self.source}


@dataclass(frozen=True, slots=True)
class Event:
    """One event to push: its type, the admin number it concerns, and its body fields."""

    type: str
    number: str | None
    fields: Mapping[str, Any]
    key: str  # stable per event (with the subscription name: the outbox idempotency key)


def envelope(event: Event, *, event_id: str, occurred_at: datetime, workspace: str) -> dict[str, Any]:
    """The documented JSON body of every subscription event (docs/events.md)."""
    return {"id": event_id, "type": event.type, "occurred_at": occurred_at.isoformat(), "workspace": workspace,
            "number": event.number, **event.fields}


def queue_events(db: Database, events: Iterable[Event], subscriptions: Sequence[Subscription], *,
                 workspace: str, now: datetime) -> int:
    """Queue each event for every subscription that wants it (inside the caller's transaction)."""
    if not subscriptions:
        return 0
    stamp = ts(now)
    queued = 0
    for event in events:
        wanting = [s for s in subscriptions if s.wants(event.type, event.number) or
                   (event.type == TEST_EVENT and event.fields.get("subscription") == s.name)]
        if not wanting:
            continue
        shared_id = event_id("evt_")  # one id per event, the same for every subscription
        body = envelope(event, event_id=shared_id, occurred_at=now, workspace=workspace)
        lead = event.fields.get("lead")
        lead_phone = lead.get("phone") if isinstance(lead, Mapping) else None
        for subscription in wanting:
            payload = {"subscription": subscription.name, "event": event.type, "event_id": shared_id, "body": body}
            cursor = db.conn.execute(
                "INSERT INTO outbox (kind, idempotency_key, lead_phone, payload, target, next_attempt_at, "
                "retry_since, created_at, updated_at) VALUES ('webhook', ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (idempotency_key) DO NOTHING",
                (f"event:{event.key}:{subscription.name}", lead_phone, json.dumps(payload, ensure_ascii=False),
                 f"subscription:{subscription.name}", stamp, stamp, stamp, stamp))
            queued += cursor.rowcount
    return queued


def message_events(message: Message, before: Lead | None, after: Lead, *, inbox_id: int,
                   status_changes: Sequence[tuple[str, str]], changes: Mapping[str, Any]) -> list[Event]:
    """The events of one processed message: the message itself and what it did to its lead."""
    number = message.session
    lead = after.to_dict()
    shown = message.to_dict()
    base = f"inbox:{inbox_id}"
    kind = "message.sent" if message.from_me else "message.received"
    events = [Event(kind, number, {"message": shown, "lead": lead}, f"{base}:{kind}")]
    if before is None:
        events.append(Event("lead.created", number, {"lead": lead, "message": shown}, f"{base}:lead.created"))
    elif changes:
        events.append(Event("lead.updated", number, {"lead": lead, "changes": dict(changes), "message": shown},
                            f"{base}:lead.updated"))
    for index, (old, new) in enumerate(status_changes):
        events.append(Event("lead.status_changed", number, {"lead": lead, "from": old, "to": new, "message": shown},
                            f"{base}:lead.status_changed:{index}"))
    return events


def change_events(before: Lead | None, after: Lead, *, key: str, by: str,
                  status_changes: Sequence[tuple[str, str]], changes: Mapping[str, Any]) -> list[Event]:
    """The events of a change a person or a system made (dashboard, api, import, cli).

    No message caused it (`message` is null) and no admin number concerns it (`number` is null:
    only subscriptions without `numbers` get it); `changed_by` says who. The status changes are
    the person's own one first, then the ones rules made because of it.
    """
    base: dict[str, Any] = {"lead": after.to_dict(), "message": None, "changed_by": by}
    events: list[Event] = []
    if before is None:
        events.append(Event("lead.created", None, base, f"{key}:lead.created"))
    elif changes:
        events.append(Event("lead.updated", None, {**base, "changes": dict(changes)}, f"{key}:lead.updated"))
    for index, (old, new) in enumerate(status_changes):
        events.append(Event("lead.status_changed", None, {**base, "from": old, "to": new},
                            f"{key}:lead.status_changed:{index}"))
    return events


def checkin_event(*, number: str | None, event_slug: str, event_name: str, code: str | None, phone: str | None,
                  name: str | None, at: datetime, source: str, checkin_id: int,
                  lead: Lead | None) -> Event:
    """A recorded check-in (WhatsApp or by hand at the door)."""
    return Event("checkin.recorded", number, {
        "checkin": {"id": checkin_id, "event": {"slug": event_slug, "name": event_name}, "code": code,
                    "phone": phone, "name": name, "at": at.isoformat(), "source": source},
        "lead": lead.to_dict() if lead is not None else None,
    }, f"checkin:{checkin_id}")


def checkin_of(resolved: Resolved, message: Message, lead: Lead | None, now: datetime) -> Event:
    """The check-in a processed message recorded (resolve_check_ins said which)."""
    decision = resolved.decision
    assert decision is not None and decision.event is not None and resolved.checkin_id is not None
    code = decision.code
    return checkin_event(number=decision.event.number, event_slug=decision.event.slug, event_name=decision.event.name,
                         code=display(code.code) if code else None, phone=message.lead_phone,
                         name=(code.name if code else None) or message.sender_name,
                         at=min(message.timestamp, now), source="whatsapp", checkin_id=resolved.checkin_id,
                         lead=lead)


def manual_check_in_told(db: Database, event: CheckinEvent, *, code: str | None, phone: str | None,
                         name: str | None, now: datetime, subscriptions: Sequence[Subscription],
                         workspace: str) -> ManualResult:
    """A check-in by hand (the door page) and its `checkin.recorded` event, in one transaction."""
    with db.atomic():
        result = manual_check_in(db, event, code=code, phone=phone, name=name, now=now)
        checkin = result.checkin
        if checkin is not None and subscriptions:
            lead = get_lead(db, str(checkin["phone"])) if checkin.get("phone") else None
            told = checkin_event(number=event.number, event_slug=event.slug, event_name=event.name,
                                 code=checkin.get("code"), phone=checkin.get("phone"), name=checkin.get("name"),
                                 at=now, source="manual", checkin_id=int(checkin["id"]), lead=lead)
            queue_events(db, [told], subscriptions, workspace=workspace, now=now)
    return result


def session_event(number: str, state: str, reason: str | None, detail: str | None, previous: str | None) -> Event:
    """An admin number's session changed state."""
    return Event("session.state_changed", number, {
        "session": {"number": number, "state": state, "previous": previous, "reason": reason, "detail": detail},
    }, f"session:{uuid.uuid4().hex}")


def probe_event(subscription: str) -> Event:
    """The "Send test event" event: goes to the named subscription only."""
    return Event(TEST_EVENT, None, {"subscription": subscription,
                                    "message": "This is a test event from wabridge."}, f"test:{uuid.uuid4().hex}")


def queue_now(db: Database, events: Sequence[Event], subscriptions: Sequence[Subscription], *, workspace: str,
              now: datetime) -> int:
    """queue_events in its own transaction (session changes, test events)."""
    with db.atomic():
        return queue_events(db, events, subscriptions, workspace=workspace, now=now)


def stored_subscriptions(db: Database) -> list[Subscription]:
    """The subscriptions made on the dashboard, by name."""
    rows = db.conn.execute("SELECT name, url, secret, events, numbers FROM subscriptions ORDER BY name").fetchall()
    return [Subscription(str(name), str(url), frozenset(json.loads(events)),
                         frozenset(json.loads(numbers)) if numbers is not None else None, secret, "dashboard")
            for name, url, secret, events, numbers in rows]


def save_subscription(db: Database, subscription: Subscription, now: datetime) -> None:
    """Add a dashboard subscription (ValueError if the name is taken)."""
    with db.atomic():
        cursor = db.conn.execute(
            "INSERT INTO subscriptions (name, url, secret, events, numbers, created_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (name) DO NOTHING",
            (subscription.name, subscription.url, subscription.secret, json.dumps(sorted(subscription.events)),
             json.dumps(sorted(subscription.numbers)) if subscription.numbers is not None else None, ts(now)))
        if not cursor.rowcount:
            raise ValueError(f"a subscription named {subscription.name!r} exists already")


def delete_subscription(db: Database, name: str) -> bool:
    """Remove a dashboard subscription; False if there is none of that name."""
    with db.atomic():
        return bool(db.conn.execute("DELETE FROM subscriptions WHERE name = ?", (name,)).rowcount)


def recent_deliveries(db: Database, name: str, limit: int = 20) -> list[dict[str, Any]]:
    """The subscription's latest outbox entries (newest first): event, state, attempts, last error."""
    rows = db.conn.execute(
        "SELECT id, json_extract(payload, '$.event'), json_extract(payload, '$.event_id'), state, attempts, "
        "last_status, last_error, created_at, delivered_at FROM outbox WHERE target = ? ORDER BY id DESC LIMIT ?",
        (f"subscription:{name}", limit)).fetchall()
    keys = ("id", "event", "event_id", "state", "attempts", "last_status", "last_error", "created_at", "delivered_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]
