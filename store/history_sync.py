"""History sync progress per admin number: how many history messages and chats were stored;
and the contacts' push names the sync carries, given to leads that have no name yet.

Updated in the transaction that stores a chunk (`Processor.ingest_history(after=…)`), so
the count is exactly what the inbox holds: a chunk sent again after a worker restart finds
its messages there already and adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlite_utils import Database

from engine.model import Lead, Message
from store.inbox import Ingested
from store.leads import leads_by_phone


@dataclass(frozen=True, slots=True)
class HistoryProgress:
    """One admin number's history so far."""

    messages: int = 0
    chats: int = 0
    too_old: int = 0  # older than [history] max_age_days: not stored
    sync_type: str | None = None  # of the last chunk (initial_bootstrap, recent, full, on_demand …)
    progress: int | None = None  # the phone's own percentage for that sync, when it sends one
    updated_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (`/api/sessions` → `history`)."""
        return {"messages": self.messages, "chats": self.chats, "too_old": self.too_old,
                "sync_type": self.sync_type, "progress": self.progress, "updated_at": self.updated_at}


_SELECT = "SELECT session, messages, chats, too_old, sync_type, progress, updated_at FROM history_sync"


def _progress(row: Sequence[Any]) -> HistoryProgress:
    return HistoryProgress(int(row[1]), int(row[2]), int(row[3]), row[4], row[5], row[6])


def record_history(db: Database, session: str, messages: Sequence[Message], results: Sequence[Ingested], *,
                   too_old: int, sync_type: str | None, progress: int | None, now: datetime) -> HistoryProgress:
    """Count a stored chunk (call inside the chunk's transaction); returns the new totals."""
    conn = db.conn
    new = [m for m, r in zip(messages, results, strict=True) if not r.duplicate]
    before = conn.total_changes
    conn.executemany("INSERT INTO history_chats (session, chat) VALUES (?, ?) ON CONFLICT DO NOTHING",
                     sorted({(session, m.chat) for m in new}))
    new_chats = conn.total_changes - before
    conn.execute(
        "INSERT INTO history_sync (session, messages, chats, too_old, sync_type, progress, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session) DO UPDATE SET "
        "messages = messages + excluded.messages, chats = chats + excluded.chats, "
        "too_old = too_old + excluded.too_old, sync_type = COALESCE(excluded.sync_type, sync_type), "
        "progress = COALESCE(excluded.progress, progress), updated_at = excluded.updated_at",
        (session, len(new), new_chats, too_old, sync_type, progress, now.isoformat()))
    row = conn.execute(f"{_SELECT} WHERE session = ?", (session,)).fetchone()
    return _progress(row)


def history_progress(db: Database) -> dict[str, HistoryProgress]:
    """Every admin number's history totals."""
    return {row[0]: _progress(row) for row in db.conn.execute(_SELECT)}


def fill_lead_names(db: Database, names: Sequence[tuple[str, str]], now: datetime) -> list[tuple[Lead, Lead]]:
    """Give each phone's lead the push name the phone's history knows, when the lead has no
    name yet (a name someone typed, or a message brought, stays); each fill is a line in the
    lead's history, by `history`. Call inside a transaction; returns (before, after) per lead named."""
    stamp = now.isoformat()
    found = leads_by_phone(db, sorted({phone for phone, _ in names}))
    named: list[tuple[Lead, Lead]] = []
    for phone, name in names:
        lead = found.get(phone)
        if lead is None or lead.name:
            continue
        db.conn.execute("UPDATE leads SET name = ?, updated_at = ? WHERE phone = ?", (name, stamp, phone))
        db.conn.execute("INSERT INTO lead_changes (at, lead_phone, inbox_id, changes, changed_by) "
                        "VALUES (?, ?, NULL, ?, 'history')",
                        (stamp, phone, orjson.dumps({"name": [lead.name, name]}).decode()))
        found[phone] = after = lead.with_changes(name=name, updated_at=now)
        named.append((lead, after))
    return named
