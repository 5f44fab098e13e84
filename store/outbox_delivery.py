"""The outbox's delivery bookkeeping, run on the daemon's store thread.

The shell claims due entries here (a lease, so an entry is never in flight twice),
delivers them on the event loop, and records the results here in one transaction per
batch. All state lives in SQLite, so retries survive restarts: at start, leases of the
previous process are released (webhooks go again, at least once) except for replies that
had been handed to a WhatsApp worker, which are dead-lettered instead (a customer must
never receive the same reply twice).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from engine.model import Message
from store.errors import NotFoundError
from store.inbox import insert_sent
from store.outbox import get_entry, ts

DUE = "state IN ('pending', 'failed')"
INTERRUPTED = "interrupted while handing the reply to WhatsApp (daemon stopped); not sent again to avoid a duplicate"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One claimed entry, ready to deliver."""

    id: int
    kind: str
    target: str
    payload: dict[str, Any]
    attempts: int  # including the one just claimed
    created_at: datetime
    retry_since: datetime


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one attempt came to: delivered, failed (retry at `next_attempt_at`) or dead."""

    entry_id: int
    state: str
    at: datetime
    status: int | None = None
    error: str | None = None
    snippet: str | None = None
    next_attempt_at: datetime | None = None
    external_id: str | None = None
    sent: Message | None = None  # a person's message WhatsApp accepted: recorded as a Team message


@dataclass(frozen=True, slots=True)
class Claim:
    """A claim pass: the entries now leased, and when the next not-yet-due entry falls due."""

    entries: tuple[OutboxEntry, ...]
    next_due: datetime | None


def claim_due(db: Database, now: datetime, *, limit: int, exclude: Collection[str],
              lane_limits: Mapping[str, int], default_lane_limit: int, lease: timedelta) -> Claim:
    """Lease up to `limit` due entries, at most `lane_limits[target]` (or the default) per lane."""
    stamp = ts(now)
    chosen: list[int] = []
    if limit > 0:
        sql = (f"SELECT id, target FROM outbox WHERE {DUE} AND next_attempt_at <= ? "
               "AND (lease_until IS NULL OR lease_until < ?)")
        params: list[Any] = [stamp, stamp]
        if exclude:
            sql += f" AND target NOT IN ({', '.join('?' for _ in exclude)})"
            params.extend(exclude)
        # A person's message (priority 1) goes before queued automatic replies of its lane.
        sql += " ORDER BY priority DESC, next_attempt_at, id LIMIT ?"
        params.append(limit * 4 + 16)  # room to skip entries of lanes that are full
        taken: dict[str, int] = {}
        for entry_id, target in db.conn.execute(sql, params):
            room = lane_limits.get(target, default_lane_limit)
            if taken.get(target, 0) >= room:
                continue
            taken[target] = taken.get(target, 0) + 1
            chosen.append(int(entry_id))
            if len(chosen) >= limit:
                break
    entries: list[OutboxEntry] = []
    if chosen:
        marks = ", ".join("?" for _ in chosen)
        with db.atomic():
            db.conn.execute(f"UPDATE outbox SET lease_until = ?, attempts = attempts + 1, updated_at = ? "
                            f"WHERE id IN ({marks})", [ts(now + lease), stamp, *chosen])
        rows = db.conn.execute(
            "SELECT id, kind, target, payload, attempts, created_at, COALESCE(retry_since, created_at) "
            f"FROM outbox WHERE id IN ({marks}) ORDER BY next_attempt_at, id", chosen).fetchall()
        entries = [OutboxEntry(int(r[0]), str(r[1]), str(r[2]), json.loads(r[3]), int(r[4]),
                               datetime.fromisoformat(r[5]), datetime.fromisoformat(r[6])) for r in rows]
    upcoming = [row[0] for state in ("pending", "failed") for row in db.conn.execute(
        "SELECT MIN(next_attempt_at) FROM outbox WHERE state = ? AND next_attempt_at > ?", (state, stamp))
        if row[0] is not None]
    return Claim(tuple(entries), datetime.fromisoformat(min(upcoming)) if upcoming else None)


def mark_sending(db: Database, entry_id: int, now: datetime) -> None:
    """A reply is about to be handed to the worker: from here on it is never sent again by itself."""
    with db.atomic():
        db.conn.execute("UPDATE outbox SET sending_since = ? WHERE id = ?", (ts(now), entry_id))


def record_results(db: Database, results: Sequence[DeliveryResult]) -> int:
    """Record a batch of attempt results in one transaction (one fsync for the batch).

    A sent person's message also lands in the inbox as a Team message, in the same
    transaction, keyed by its WhatsApp id (an echo of it is the same inbox row). Returns
    how many such messages were added (the processor has work then).
    """
    rows = [(r.state, r.status, r.error, r.snippet, r.external_id, ts(r.next_attempt_at or r.at),
             ts(r.at) if r.state == "delivered" else None, ts(r.at), r.entry_id) for r in results]
    added = 0
    with db.atomic():
        db.conn.executemany(
            "UPDATE outbox SET state = ?, last_status = ?, last_error = ?, response_snippet = ?, "
            "external_id = COALESCE(?, external_id), next_attempt_at = ?, delivered_at = ?, updated_at = ?, "
            "lease_until = NULL, sending_since = NULL WHERE id = ?", rows)
        for result in results:
            if result.sent is not None and insert_sent(db, result.sent, result.at):
                added += 1
    return added


def release_on_start(db: Database, now: datetime) -> tuple[int, int]:
    """Release the previous process's leases; returns (released, replies dead-lettered)."""
    stamp = ts(now)
    with db.atomic():
        interrupted = db.conn.execute(
            "UPDATE outbox SET state = 'dead', last_error = ?, lease_until = NULL, updated_at = ? "
            f"WHERE sending_since IS NOT NULL AND {DUE}", (INTERRUPTED, stamp)).rowcount
        released = db.conn.execute(
            "UPDATE outbox SET lease_until = NULL, sending_since = NULL WHERE lease_until IS NOT NULL "
            "OR sending_since IS NOT NULL").rowcount
    return released, interrupted


def expire_waiting(db: Database, target: str, cutoff: datetime, reason: str, now: datetime) -> int:
    """Dead-letter the due entries of one lane that have waited since before `cutoff`."""
    with db.atomic():
        return db.conn.execute(
            f"UPDATE outbox SET state = 'dead', last_error = ?, updated_at = ? WHERE target = ? AND {DUE} "
            "AND lease_until IS NULL AND COALESCE(retry_since, created_at) < ?",
            (reason, ts(now), target, ts(cutoff))).rowcount


def recent_sends(db: Database, kinds: Collection[str], since: datetime) -> list[tuple[str, datetime]]:
    """(target, delivered_at) of entries of these kinds delivered since `since`, oldest first."""
    marks = ", ".join("?" for _ in kinds)
    rows = db.conn.execute(
        f"SELECT target, delivered_at FROM outbox WHERE kind IN ({marks}) AND state = 'delivered' "
        "AND delivered_at >= ? ORDER BY delivered_at", (*kinds, ts(since))).fetchall()
    return [(str(t), datetime.fromisoformat(d)) for t, d in rows]


def retry_entry(db: Database, entry_id: int, now: datetime) -> dict[str, Any]:
    """Send an entry again now, with a fresh attempt count and give-up window.

    Raises NotFoundError for an unknown id and ValueError for one delivered or in flight.
    """
    entry = get_entry(db, entry_id)
    if entry is None:
        raise NotFoundError(f"no outbox entry {entry_id}")
    if entry["state"] == "delivered":
        raise ValueError(f"outbox entry {entry_id} was already delivered")
    if entry["lease_until"] is not None and entry["lease_until"] > ts(now):
        raise ValueError(f"outbox entry {entry_id} is being delivered right now")
    stamp = ts(now)
    with db.atomic():
        db.conn.execute(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, retry_since = ?, "
            "lease_until = NULL, sending_since = NULL, updated_at = ? WHERE id = ?",
            (stamp, stamp, stamp, entry_id))
    updated = get_entry(db, entry_id)
    assert updated is not None
    return updated


def retry_dead(db: Database, now: datetime) -> int:
    """Send every dead-lettered entry again; returns how many."""
    stamp = ts(now)
    with db.atomic():
        return db.conn.execute(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, retry_since = ?, "
            "lease_until = NULL, sending_since = NULL, updated_at = ? WHERE state = 'dead'",
            (stamp, stamp, stamp)).rowcount


def purge(db: Database, before: datetime, states: Collection[str] = ("delivered", "dead")) -> int:
    """Delete finished entries (delivered/dead only) last changed before `before`; returns how many."""
    wanted = [s for s in states if s in ("delivered", "dead")]
    if not wanted:
        return 0
    with db.atomic():
        return db.conn.execute(
            f"DELETE FROM outbox WHERE state IN ({', '.join('?' for _ in wanted)}) AND updated_at < ?",
            [*wanted, ts(before)]).rowcount


def backlog_by_kind(db: Database) -> dict[str, int]:
    """Entries waiting for delivery (pending or failed-to-retry), per kind."""
    return {str(k): int(n) for k, n in db.conn.execute(
        f"SELECT kind, COUNT(*) FROM outbox WHERE {DUE} GROUP BY kind")}


def dead_by_kind(db: Database) -> dict[str, int]:
    """Dead-lettered entries per kind."""
    return {str(k): int(n) for k, n in db.conn.execute(
        "SELECT kind, COUNT(*) FROM outbox WHERE state = 'dead' GROUP BY kind")}
