"""The processor's careful path: a batch redone one message at a time, each in its own
savepoint, so a write that fails marks only the message at fault (guarantee 4) and the
others land. Used when a batch's writes fail (store.processor); slow by design.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

import orjson
from sqlite_utils import Database

from engine.evaluate import Outcome
from engine.model import Lead, Message, Workspace
from store.checkins import resolve_check_ins
from store.identities import resolve_identities
from store.lead_events import HISTORY_INSERT, rule_origin
from store.leads import get_lead, lead_diff, upsert_lead
from store.outbox import OutboxPolicy, enqueue
from store.process_stats import ProcessStats, describe_failure, from_the_machine, stored_message
from store.runs import RUNS, run_rows
from store.subscriptions import Event, Subscription, checkin_of, message_events, queue_events
from store.visitors import VisitorUpgrades


class Processing(Protocol):
    """What the careful path needs of the processor (store.processor.Processor has it)."""

    db: Database
    workspace: Workspace
    outbox_policy: OutboxPolicy
    subscriptions: tuple[Subscription, ...]
    upgrades: VisitorUpgrades

    def outcome(self, lead: Lead | None, message: Message, now: datetime, inbox_id: int, stamp: str) -> Outcome:
        """One message's effects (rules, or history bookkeeping)."""
        ...


def careful_batch(processor: Processing, rows: list[tuple[int, str]], now: datetime) -> ProcessStats:
    """The slow path: one savepoint per message, so a failing write is isolated."""
    stats = ProcessStats()
    stamp = now.isoformat()
    leads: dict[str, Lead | None] = {}
    conn = processor.db.conn
    with processor.db.atomic():
        for inbox_id, payload in rows:
            if conn.execute("SELECT state FROM inbox WHERE id = ?", (inbox_id,)).fetchone() != ("pending",):
                continue
            conn.execute("SAVEPOINT message")
            try:
                outcome = _one(processor, inbox_id, payload, now, stamp, leads)
            except Exception as exc:  # guarantee 4: recorded, the rest go on
                if from_the_machine(exc) or not conn.in_transaction:
                    # A full disk, an I/O error, no descriptor left (SQLite may have rolled the
                    # whole transaction back): nothing is marked, the batch waits for another run.
                    raise
                conn.execute("ROLLBACK TO SAVEPOINT message")
                conn.execute("RELEASE SAVEPOINT message")
                reason = describe_failure(exc)
                conn.execute(
                    "UPDATE inbox SET state = 'error', error = ?, processed_at = ? WHERE id = ?",
                    (reason, stamp, inbox_id),
                )
                stats.errors.append((inbox_id, reason))
                continue
            conn.execute("RELEASE SAVEPOINT message")
            stats.processed += 1
            if outcome is None:
                continue
            leads[outcome.lead.phone] = outcome.lead
            stats.fired += outcome.fired
            stats.status_changes += len(outcome.status_changes)
            stats.queued += len(outcome.requests)
    return stats

def _one(processor: Processing, inbox_id: int, payload: str, now: datetime, stamp: str,
         leads: dict[str, Lead | None]) -> Outcome | None:
    message = stored_message(payload)
    moved, merged = resolve_identities(processor.db, [(inbox_id, message)], now)
    for alias, phone in merged:  # merged leads changed in the database: read them again
        leads.pop(alias, None)
        leads.pop(phone, None)
    if inbox_id in moved:
        message = moved[inbox_id]
        processor.db.conn.execute("UPDATE inbox SET lead_phone = ? WHERE id = ?", (message.lead_phone, inbox_id))
        leads.pop(message.lead_phone, None)
    if message.is_deletion:
        processor.db.conn.execute("UPDATE inbox SET state = 'done', processed_at = ?, fired = 0 WHERE id = ?",
                             (stamp, inbox_id))
        return None
    phone = message.lead_phone
    lead = leads[phone] if phone in leads else get_lead(processor.db, phone)
    conn = processor.db.conn
    processor.upgrades.begin(conn, [message])
    outcome = processor.outcome(lead, message, now, inbox_id, stamp)
    processor.upgrades.write(conn)
    diff: dict[str, list[Any]] = {}
    events: list[Event] = []
    if outcome.lead is not lead:
        upsert_lead(processor.db, outcome.lead)
        diff = lead_diff(lead, outcome.lead)
        if diff:
            conn.execute(HISTORY_INSERT, (stamp, phone, inbox_id, orjson.dumps(diff, default=str).decode(),
                                          rule_origin(outcome.runs) if outcome.fired else "message"))
    if outcome.runs:
        RUNS.executemany(conn, run_rows(outcome.runs, at=stamp, inbox_id=inbox_id, lead_phone=phone))
    if outcome.requests or (outcome.status_changes and processor.outbox_policy.watches_status):
        resolved = resolve_check_ins(processor.db, outcome.requests, message=message, inbox_id=inbox_id,
                                     now=now, tz=processor.workspace.tz)
        if resolved.lead is not None:  # a check-in tagged the lead: later messages must see it
            outcome = replace(outcome, lead=resolved.lead)
        enqueue(processor.db, resolved.requests, lead=outcome.lead, message=message, inbox_id=inbox_id,
                workspace=processor.workspace.name, now=now, status_changes=outcome.status_changes,
                policy=processor.outbox_policy)
        if resolved.checkin_id is not None and processor.subscriptions:
            events.append(checkin_of(resolved, message, outcome.lead, now))
    if processor.subscriptions and not message.history:  # an imported chat is old news, not an event
        events[:0] = message_events(message, lead, outcome.lead, inbox_id=inbox_id,
                                    status_changes=outcome.status_changes, changes=diff)
        queue_events(processor.db, events, processor.subscriptions, workspace=processor.workspace.name, now=now)
    conn.execute(
        "UPDATE inbox SET state = 'done', processed_at = ?, fired = ? WHERE id = ?",
        (stamp, outcome.fired, inbox_id),
    )
    return outcome
