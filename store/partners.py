"""Partner channels (official-API webhooks): their messages go into the same inbox, and each
channel remembers when a correctly signed request last arrived ("verify connection").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from engine.model import Message
from store.inbox import Ingested, ingest_many

_TOUCH = (
    "INSERT INTO partner_channels (source, channel, last_signed_at, requests, messages) VALUES (?, ?, ?, 1, ?) "
    "ON CONFLICT (source, channel) DO UPDATE SET last_signed_at = excluded.last_signed_at, "
    "requests = requests + 1, messages = messages + excluded.messages"
)


def session_of(source: str, channel: str) -> str:
    """The inbox session of a partner channel: `<source>:<channel>`, e.g. `qontak:acc-1`.

    It is never a phone number, so partner messages can't collide with an admin number's
    inbox keys, while the lead (the customer's phone) is shared across channels.
    """
    return f"{source}:{channel}"


def ingest_partner(db: Database, source: str, channel: str, messages: Sequence[Message],
                   now: datetime) -> list[Ingested]:
    """Commit a signed request: its messages to the inbox and the channel's last-signed time, together."""
    with db.atomic():
        results = ingest_many(db, messages, now) if messages else []
        accepted = sum(1 for r in results if not r.duplicate)
        db.conn.execute(_TOUCH, (source, channel, now.isoformat(), accepted))
    return results


def record_verified(db: Database, source: str, channel: str, now: datetime) -> None:
    """A verification handshake (Cloud API GET) with the right verify token arrived."""
    with db.atomic():
        db.conn.execute(
            "INSERT INTO partner_channels (source, channel, verified_at) VALUES (?, ?, ?) "
            "ON CONFLICT (source, channel) DO UPDATE SET verified_at = excluded.verified_at",
            (source, channel, now.isoformat()))


def partner_channels(db: Database) -> list[dict[str, Any]]:
    """Every channel that has been heard from, with its verification times and counts."""
    keys = ("source", "channel", "verified_at", "last_signed_at", "requests", "messages")
    rows = db.conn.execute(f"SELECT {', '.join(keys)} FROM partner_channels ORDER BY source, channel")
    return [dict(zip(keys, row, strict=True)) for row in rows]
