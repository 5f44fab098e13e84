"""The outbox: deliveries (webhooks, replies) queued in the same transaction as the
effects that caused them, delivered later by the shell. Webhook bodies are built here,
once, so every retry sends the same bytes with the same event id.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from engine.actions import OutboxRequest
from engine.model import Lead, Message

OUTBOX_STATES = ("pending", "delivered", "failed", "dead")


def webhook_envelope(event: str, *, event_id: str, occurred_at: datetime, workspace: str,
                     lead: Lead, message: Message | None, rule_id: int, rule_name: str) -> dict[str, Any]:
    """The documented JSON body of every webhook (README: "Webhook payload")."""
    return {
        "id": event_id,
        "type": event,
        "occurred_at": occurred_at.isoformat(),
        "workspace": workspace,
        "lead": lead.to_dict(),
        "message": message.to_dict() if message is not None else None,
        "rule": {"id": rule_id, "name": rule_name},
    }


def enqueue(db: Database, requests: Sequence[OutboxRequest], *, lead: Lead, message: Message | None,
            inbox_id: int | None, workspace: str, now: datetime) -> list[int]:
    """Queue requests (inside the event's transaction); return the outbox ids."""
    stamp = now.isoformat()
    ids: list[int] = []
    for index, request in enumerate(requests):
        payload = dict(request.payload)
        if request.kind == "webhook":
            event_id = f"evt_{uuid.uuid4().hex}"
            payload["event_id"] = event_id
            payload["body"] = webhook_envelope(
                str(payload.get("event") or "rule.fired"), event_id=event_id, occurred_at=now,
                workspace=workspace, lead=lead, message=message, rule_id=request.rule_id,
                rule_name=request.rule_name,
            )
        key = f"{request.kind}:{inbox_id if inbox_id is not None else uuid.uuid4().hex}:" \
              f"{request.rule_id}:{index}"
        cursor = db.conn.execute(
            "INSERT INTO outbox (kind, idempotency_key, rule_id, lead_phone, inbox_id, payload, "
            "next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (request.kind, key, request.rule_id, lead.phone, inbox_id,
             json.dumps(payload, ensure_ascii=False), stamp, stamp, stamp),
        )
        ids.append(int(cursor.lastrowid or 0))
    return ids


def list_outbox(db: Database, *, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Outbox entries, newest first; secrets are never returned."""
    sql = ("SELECT id, kind, state, idempotency_key, rule_id, lead_phone, inbox_id, payload, attempts, "
           "next_attempt_at, last_status, last_error, created_at, updated_at FROM outbox")
    params: list[Any] = []
    if state:
        sql += " WHERE state = ?"
        params.append(state)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    keys = ("id", "kind", "state", "idempotency_key", "rule_id", "lead_phone", "inbox_id", "payload",
            "attempts", "next_attempt_at", "last_status", "last_error", "created_at", "updated_at")
    out = []
    for row in db.conn.execute(sql, params):
        item = dict(zip(keys, row, strict=True))
        payload = json.loads(str(item["payload"]))
        payload.pop("secret", None)
        item["payload"] = payload
        out.append(item)
    return out


def outbox_counts(db: Database) -> dict[str, int]:
    """Outbox entries per state."""
    return {s: n for s, n in db.conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state")}
