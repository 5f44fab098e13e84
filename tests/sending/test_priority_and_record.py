"""A person's message on a number's reply lane: ahead of queued automatic replies, never
past the hourly cap, recorded once as a Team message with WhatsApp's id; a quoted reply as
neonize sends it (real protobufs)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from bridge.protocol import SendText
from bridge.worker.neonize_worker import outgoing_body
from store.sending import Outgoing, queue_message, sent_by_bridge
from tests.outbox.conftest import ADMIN, CUSTOMER, FakeTransport, Services, Store, make_config, queue, settled

JID = f"{CUSTOMER}@s.whatsapp.net"


def person(text: str) -> Outgoing:
    return Outgoing(number=ADMIN, to=JID, lead_phone=CUSTOMER, text=text, origin="api")


def reply(text: str) -> dict[str, str]:
    return {"session": ADMIN, "to": JID, "text": text}


async def test_a_persons_message_goes_before_queued_automatic_replies(tmp_path: Path, store: Store,
                                                                     services: Services) -> None:
    transport = FakeTransport(states={ADMIN: "DISCONNECTED"})
    for n in range(3):
        await store.call(queue, "reply", reply(f"auto {n}"), rule_id=n + 1)
    status, _ = await store.call(queue_message, person("from a person"), datetime.now(UTC))
    service = await services(make_config(tmp_path, replies={"jitter": 0, "min_gap": 0}), transport, tick_seconds=0.1)
    transport.states[ADMIN] = "CONNECTED"
    service.wake()
    entry = await settled(store, status["id"])
    assert entry["state"] == "delivered"
    for _ in range(100):
        if len(transport.sent) == 4:
            break
        await asyncio.sleep(0.05)
    assert [s[2] for s in transport.sent] == ["from a person", "auto 0", "auto 1", "auto 2"]


async def test_never_past_the_hourly_cap(tmp_path: Path, store: Store, services: Services) -> None:
    transport = FakeTransport()
    (auto,) = await store.call(queue, "reply", reply("auto"))
    await services(make_config(tmp_path, replies={"jitter": 0, "min_gap": 0, "hourly_cap": 1}), transport,
                   tick_seconds=0.1)
    await settled(store, auto)
    status, _ = await store.call(queue_message, person("from a person"), datetime.now(UTC))
    await asyncio.sleep(0.6)
    assert (await store.entry(status["id"]))["state"] == "pending"
    assert [s[2] for s in transport.sent] == ["auto"]


async def test_a_sent_message_is_recorded_once_as_a_team_message(tmp_path: Path, store: Store,
                                                                services: Services) -> None:
    woken: list[int] = []
    transport = FakeTransport()
    status, _ = await store.call(queue_message, person("Payment received Rp 1.500.000"), datetime.now(UTC))
    await services(make_config(tmp_path, replies={"jitter": 0}), transport, on_sent=lambda: woken.append(1))
    entry = await settled(store, status["id"])
    rows = await store.call(lambda db: db.conn.execute(
        "SELECT session, chat, message_id, lead_phone, payload, state FROM inbox").fetchall())
    assert len(rows) == 1 and woken
    session, chat, message_id, lead_phone, payload, state = rows[0]
    assert (session, chat, message_id, lead_phone, state) == (ADMIN, JID, entry["external_id"], CUSTOMER, "pending")
    message = json.loads(payload)
    assert message["from_me"] is True and message["text"] == "Payment received Rp 1.500.000"
    assert await store.call(sent_by_bridge, ADMIN, entry["external_id"])
    assert not await store.call(sent_by_bridge, ADMIN, "3EB0SOMEONEELSE")


def test_a_quoted_reply_carries_the_quoted_message() -> None:
    plain = outgoing_body(SendText(request_id="r1", to=JID, text="halo @6281234567"))
    assert plain.conversation == "halo @6281234567" and not plain.HasField("extendedTextMessage")
    quoted = outgoing_body(SendText(request_id="r2", to=JID, text="ukuran 39 ada kak", reply_to="3EB0AA11",
                                    quoted_sender=JID, quoted_text="ada ukuran 39?"))
    context = quoted.extendedTextMessage.contextInfo
    assert quoted.extendedTextMessage.text == "ukuran 39 ada kak"
    assert (context.stanzaID, context.participant, context.quotedMessage.conversation) == (
        "3EB0AA11", JID, "ada ukuran 39?")
