"""The inbox: every received message, committed before anything else happens (guarantee 1)
and keyed by (session, chat, message id) so a re-delivered message is recognised (guarantee 2).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlite_utils import Database

from engine.model import Message

_INSERT = (
    "INSERT INTO inbox (session, chat, message_id, lead_phone, timestamp, received_at, payload) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session, chat, message_id) DO NOTHING"
)


@dataclass(frozen=True, slots=True)
class Ingested:
    """The inbox row a message landed in, or `duplicate` when it was already there."""

    inbox_id: int | None
    duplicate: bool


def _row(message: Message, received_at: str) -> tuple[str, ...]:
    payload = message.to_dict()
    return (
        message.session,
        message.chat,
        message.id,
        message.lead_phone,
        payload["timestamp"],
        received_at,
        orjson.dumps(payload).decode(),
    )


def ingest(db: Database, message: Message, received_at: datetime) -> Ingested:
    """Commit one message to the inbox (its own transaction, durable when this returns)."""
    with db.atomic():
        cursor = db.conn.execute(_INSERT, _row(message, received_at.isoformat()))
    if cursor.rowcount == 0:
        return Ingested(None, True)
    return Ingested(cursor.lastrowid, False)


def insert_sent(db: Database, message: Message, received_at: datetime) -> bool:
    """Add a message the bridge sent (inside the caller's transaction); False if already there."""
    cursor = db.conn.execute(_INSERT, _row(message, received_at.isoformat()))
    return cursor.rowcount > 0


def ingest_many(db: Database, messages: Sequence[Message], received_at: datetime) -> list[Ingested]:
    """Commit a batch of messages in one transaction (group commit); duplicates are skipped."""
    return ingest_rows(db, messages, rows_to_ingest(messages, received_at))


def rows_to_ingest(messages: Sequence[Message], received_at: datetime) -> list[tuple[str, ...]]:
    """The inbox rows of these messages, built without the database (`ingest_rows` inserts them)."""
    stamp = received_at.isoformat()
    return [_row(m, stamp) for m in messages]


def ingest_rows(db: Database, messages: Sequence[Message], rows: list[tuple[str, ...]]) -> list[Ingested]:
    """`ingest_many` with the messages' rows (`rows_to_ingest`) already built."""
    with db.atomic():
        before = db.conn.execute("SELECT COALESCE(MAX(id), 0) FROM inbox").fetchone()[0]
        inserted = db.conn.executemany(_INSERT, rows).rowcount
        if inserted == len(rows) and db.conn.execute("SELECT MAX(id) FROM inbox").fetchone()[0] == before + inserted:
            # None was a duplicate and the rowids ran on from `before` (each a new row's is the
            # largest + 1): the i-th row has id before + i, no need to read them back.
            return [Ingested(inbox_id, False) for inbox_id in range(before + 1, before + inserted + 1)]
        # Rows of this transaction are the ones above `before` (rowids grow): map them back.
        new = {(session, chat, mid): inbox_id for inbox_id, session, chat, mid in db.conn.execute(
            "SELECT id, session, chat, message_id FROM inbox WHERE id > ?", (before,))}
    results: list[Ingested] = []
    for message in messages:
        inbox_id = new.pop((message.session, message.chat, message.id), None)
        results.append(Ingested(inbox_id, inbox_id is None))
    return results


def parsed_by_id(messages: Sequence[Message], results: Sequence[Ingested]) -> dict[int, Message]:
    """Inbox id → message for the rows a batch ingest created (for `Processor.run(parsed=…)`)."""
    return {r.inbox_id: m for m, r in zip(messages, results, strict=True) if r.inbox_id is not None}


def record_unreadable(db: Database, session: str, reference: str, raw: str, error: str,
                      received_at: datetime) -> None:
    """Keep a message that could not be parsed, marked as an error, so nothing vanishes."""
    with db.atomic():
        db.conn.execute(
            "INSERT INTO inbox (session, chat, message_id, lead_phone, timestamp, received_at, payload, "
            "state, error, processed_at) VALUES (?, '', ?, '', ?, ?, ?, 'error', ?, ?) "
            "ON CONFLICT (session, chat, message_id) DO NOTHING",
            (session, reference, received_at.isoformat(), received_at.isoformat(), raw[:65536],
             error, received_at.isoformat()),
        )


INBOX_STATES = ("pending", "done", "error")
EXCERPT_CHARS = 200


def source_of(session: str) -> str:
    """Where an inbox row came from: the partner source, or whatsapp_web for an admin number."""
    return session.split(":", 1)[0] if ":" in session else "whatsapp_web"


def inbox_rows(db: Database, state: str, limit: int = 50) -> list[dict[str, object]]:
    """Newest inbox rows in one state, with a short excerpt of their text (or raw payload).

    With state "error" this is the Unreadable list: every message that was received but
    could not be read, with the reason.
    """
    rows = db.conn.execute(
        "SELECT id, session, message_id, lead_phone, received_at, state, error, payload FROM inbox "
        "WHERE state = ? AND kind = 'message' ORDER BY id DESC LIMIT ?", (state, limit))
    out: list[dict[str, object]] = []
    for inbox_id, session, message_id, lead_phone, received_at, row_state, error, payload in rows:
        try:
            parsed = json.loads(payload)
            text = parsed.get("text") if isinstance(parsed, dict) else None
        except ValueError:
            text = None
        excerpt = str(text) if isinstance(text, str) and text else str(payload)
        out.append({"inbox_id": inbox_id, "received_at": received_at, "source": source_of(session),
                    "session": session, "message_id": message_id, "lead_phone": lead_phone or None,
                    "state": row_state, "reason": error, "excerpt": excerpt[:EXCERPT_CHARS]})
    return out


def pending_count(db: Database) -> int:
    """Messages committed but not yet processed (the backlog)."""
    row = db.conn.execute("SELECT COUNT(*) FROM inbox WHERE state = 'pending'").fetchone()
    return int(row[0])


def count_by_state(db: Database) -> dict[str, int]:
    """Inbox rows per state (pending, done, error)."""
    return {s: n for s, n in db.conn.execute("SELECT state, COUNT(*) FROM inbox GROUP BY state")}


def messages_of_lead(db: Database, phone: str, limit: int = 200) -> list[dict[str, object]]:
    """The lead's messages, newest first by when they were written (a chat export or history
    imported after live messages falls into place; messages of the same second by arrival),
    with their processing state.

    A deletion is not listed itself: the message it deleted gets `deleted_at` (when it was
    deleted) instead, so the page can show it struck through.
    """
    rows = db.conn.execute(
        "SELECT id, payload, state, error, fired FROM inbox WHERE lead_phone = ? AND kind = 'message' "
        "ORDER BY julianday(timestamp) DESC, id DESC LIMIT ?",
        (phone, limit),
    )
    out: list[dict[str, object]] = []
    deleted: dict[object, object] = {}
    for inbox_id, payload, state, error, fired in rows:
        item: dict[str, object] = json.loads(payload)
        if item.get("is_deletion"):
            deleted.setdefault(item.get("original_id"), item.get("timestamp"))
            continue
        item.update(inbox_id=inbox_id, state=state, error=error, fired=fired)
        out.append(item)
    for item in out:
        if item.get("id") in deleted:
            item["deleted_at"] = deleted[item["id"]]
    return out


def last_message_at(db: Database, phone: str) -> str | None:
    """When the lead's latest message was written (ISO 8601 as stored), history included."""
    row = db.conn.execute("SELECT timestamp FROM inbox WHERE lead_phone = ? AND kind = 'message' "
                          "AND state != 'error' ORDER BY julianday(timestamp) DESC LIMIT 1", (phone,)).fetchone()
    return str(row[0]) if row else None


def iter_ids(rows: Iterable[tuple[int, ...]]) -> list[int]:
    """First column of each row."""
    return [int(r[0]) for r in rows]
