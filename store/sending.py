"""Messages a person sends through the bridge (POST /api/messages, `wabridge send`, a lead's
page): queued in the outbox as kind `message` on the number's reply lane, so the reply
pacing, the CONNECTED check, `max_wait` and the at-most-once hand-over apply to them as to
automatic replies; `priority` 1 puts them before the lane's queued automatic replies.

Idempotency keys (24 h) are stored with the entry they answered, in the same transaction,
so a retried request after a crash or restart still gets the same entry and nothing is
sent twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from store.outbox import ts

IDEMPOTENCY_WINDOW = timedelta(hours=24)
MESSAGE_KIND = "message"
# outbox state → what the sender is told
STATES = {"pending": "queued", "failed": "queued", "delivered": "sent", "dead": "failed"}


class IdempotencyConflict(ValueError):
    """The Idempotency-Key was used within 24 h for a different request."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to queue (validated by the shell)."""

    number: str  # the admin number that sends it
    to: str  # the recipient's JID
    lead_phone: str
    text: str
    origin: str  # api | cli | dashboard
    reply_to: str | None = None
    quoted_sender: str | None = None
    quoted_text: str | None = None


def queue_message(db: Database, outgoing: Outgoing, now: datetime, *, key: str | None = None,
                  fingerprint: str = "") -> tuple[dict[str, Any], bool]:
    """Queue one message; returns (its status, replayed). The same key within 24 h returns the
    first request's entry (replayed=True) and queues nothing; with another request it raises
    IdempotencyConflict."""
    stamp = ts(now)
    with db.atomic():
        if key is not None:
            row = db.conn.execute("SELECT fingerprint, outbox_id, created_at FROM idempotency_keys WHERE key = ?",
                                  (key,)).fetchone()
            if row is not None and row[2] >= ts(now - IDEMPOTENCY_WINDOW):
                if row[0] != fingerprint:
                    raise IdempotencyConflict("this Idempotency-Key was used in the last 24 h for another request")
                existing = message_status(db, int(row[1]))
                if existing is not None:
                    return existing, True
            db.conn.execute("DELETE FROM idempotency_keys WHERE key = ?", (key,))
        payload = {"session": outgoing.number, "to": outgoing.to, "text": outgoing.text, "origin": outgoing.origin,
                   "reply_to": outgoing.reply_to, "quoted_sender": outgoing.quoted_sender,
                   "quoted_text": outgoing.quoted_text}
        cursor = db.conn.execute(
            "INSERT INTO outbox (kind, idempotency_key, lead_phone, payload, target, priority, next_attempt_at, "
            "retry_since, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
            (MESSAGE_KIND, f"message:{uuid.uuid4().hex}", outgoing.lead_phone,
             json.dumps(payload, ensure_ascii=False), f"reply:{outgoing.number}", stamp, stamp, stamp, stamp))
        entry_id = int(cursor.lastrowid or 0)
        if key is not None:
            db.conn.execute("INSERT INTO idempotency_keys (key, fingerprint, outbox_id, created_at) "
                            "VALUES (?, ?, ?, ?)", (key, fingerprint, entry_id, stamp))
    status = message_status(db, entry_id)
    assert status is not None
    return status, False


_STATUS_COLUMNS = "id, state, lead_phone, payload, attempts, external_id, last_error, created_at, delivered_at"


def _status(row: tuple[Any, ...]) -> dict[str, Any]:
    entry_id, state, lead_phone, payload, attempts, external_id, error, created_at, delivered_at = row
    data: Mapping[str, Any] = json.loads(payload)
    told = STATES.get(str(state), "queued")
    return {
        "id": int(entry_id),
        "state": told,
        "to": lead_phone,
        "number": data.get("session"),
        "text": data.get("text"),
        "reply_to": data.get("reply_to"),
        "origin": data.get("origin"),
        "whatsapp_id": external_id if told == "sent" else None,
        "reason": error if told == "failed" else None,
        "waiting": error if told == "queued" and error else None,
        "attempts": int(attempts),
        "created_at": created_at,
        "sent_at": delivered_at,
    }


def message_status(db: Database, entry_id: int) -> dict[str, Any] | None:
    """queued / sent (with WhatsApp's id) / failed (with the reason); None if no such message."""
    row = db.conn.execute(f"SELECT {_STATUS_COLUMNS} FROM outbox WHERE id = ? AND kind = ?",
                          (entry_id, MESSAGE_KIND)).fetchone()
    return _status(row) if row is not None else None


def messages_to_lead(db: Database, phone: str, limit: int = 50) -> list[dict[str, Any]]:
    """The messages people sent to this lead through the bridge, newest first, with their state."""
    rows = db.conn.execute(
        f"SELECT {_STATUS_COLUMNS} FROM outbox WHERE lead_phone = ? AND kind = ? ORDER BY id DESC LIMIT ?",
        (phone, MESSAGE_KIND, limit)).fetchall()
    return [_status(row) for row in rows]


def last_session(db: Database, lead_phone: str) -> str | None:
    """The session (admin number or partner channel) of the lead's latest message, if any."""
    row = db.conn.execute("SELECT session FROM inbox WHERE lead_phone = ? AND chat != '' ORDER BY id DESC LIMIT 1",
                          (lead_phone,)).fetchone()
    return str(row[0]) if row is not None else None


def quoted_message(db: Database, lead_phone: str, message_id: str) -> dict[str, Any] | None:
    """The lead's message with this WhatsApp id (to quote it in a reply), or None."""
    row = db.conn.execute("SELECT payload FROM inbox WHERE lead_phone = ? AND message_id = ? ORDER BY id DESC "
                          "LIMIT 1", (lead_phone, message_id)).fetchone()
    return json.loads(row[0]) if row is not None else None


def sent_by_bridge(db: Database, number: str, message_id: str) -> bool:
    """Whether this WhatsApp id is of a message the bridge sent from `number` (an echo of it)."""
    row = db.conn.execute("SELECT 1 FROM outbox WHERE external_id = ? AND target = ? LIMIT 1",
                          (message_id, f"reply:{number}")).fetchone()
    return row is not None


def forget_old_keys(db: Database, now: datetime) -> int:
    """Delete idempotency keys past their 24 h."""
    with db.atomic():
        return db.conn.execute("DELETE FROM idempotency_keys WHERE created_at < ?",
                               (ts(now - IDEMPOTENCY_WINDOW),)).rowcount
