"""A real OutgoingMessages and Subscriptions over in-memory databases, for the HTTP tests' FakeControl."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bridge.outbox.messages import OutgoingMessages
from bridge.outbox.settings import SendingSettings
from bridge.outbox.subscriptions import Subscriptions
from store.db import open_db
from store.subscriptions import Subscription, save_subscription

ADMIN = "6281100000001"


def make_messages(numbers: tuple[str, ...] = (ADMIN,)) -> OutgoingMessages:
    """Checks and queues for real; nothing delivers (there is no outbox loop here)."""
    db = open_db(":memory:")

    async def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return fn(db, *args, **kwargs)

    messages = OutgoingMessages(SendingSettings(), numbers, run, lambda: None, lambda: datetime.now(UTC))
    messages.db = db  # type: ignore[attr-defined]  # tests peek at the store
    payload = json.dumps({"session": ADMIN, "to": "6281200000002@s.whatsapp.net", "text": "halo"})
    stamp = "2026-12-01T00:00:00.000000+00:00"
    with db.atomic():  # message 1 exists, for GET /api/messages/1
        db.conn.execute("INSERT INTO outbox (id, kind, idempotency_key, lead_phone, payload, target, next_attempt_at, "
                        "created_at, updated_at) VALUES (1, 'message', 'message:seed', '6281200000002', ?, ?, ?, ?, ?)",
                        (payload, f"reply:{ADMIN}", stamp, stamp, stamp))
    return messages


def make_subscriptions() -> Subscriptions:
    """Real checks and storage; a dashboard subscription "crm" exists (it can be tested and removed)."""
    db = open_db(":memory:")
    now = datetime.now(UTC)
    save_subscription(db, Subscription("crm", "http://127.0.0.1:9/hook", frozenset({"message.received"}),
                                       source="dashboard"), now)

    async def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return fn(db, *args, **kwargs)

    subscriptions = Subscriptions((), (ADMIN,), run, workspace="Toko Test", clock=lambda: datetime.now(UTC),
                                  wake=lambda: None, changed=lambda _: None)
    subscriptions.stored = (Subscription("crm", "http://127.0.0.1:9/hook", frozenset({"message.received"}),
                                         source="dashboard"),)
    return subscriptions
