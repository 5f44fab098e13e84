"""Replies: only through the worker of the number that received the message, paced per
number, waiting (bounded) while that number is not CONNECTED, never sent twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bridge.config import parse_config
from bridge.daemon.app import Daemon
from bridge.outbox.replies import ReplyFailed
from engine.model import DEFAULT_STATUSES
from engine.rules import default_env, parse_rules
from store.db import open_db
from store.outbox import list_outbox
from store.rules import save_rules
from tests.e2e.daemon import free_port, pair_in_process
from tests.outbox.conftest import (
    ADMIN,
    OTHER,
    FakeTransport,
    Services,
    Store,
    eventually,
    make_config,
    queue,
    settled,
)

REPLY_RULE = {"name": "Greet", "trigger": "message.received", "sender": "customer",
              "actions": [{"type": "send_reply", "text": "Halo {customer}, pesanan kami cek ya"}]}


def reply_to(number: str = ADMIN, text: str = "Halo") -> dict[str, Any]:
    return {"session": number, "to": "6281234567890@s.whatsapp.net", "text": text, "in_reply_to": "M1"}


async def test_replies_go_through_the_sim_worker_of_the_receiving_number_with_pacing(tmp_path: Path) -> None:
    config = parse_config({
        "store": {"data_dir": str(tmp_path / "data")},
        "numbers": [{"phone": ADMIN, "label": "A"}, {"phone": OTHER, "label": "B"}],
        "replies": {"min_gap": "400ms", "jitter": 0, "hourly_cap": 3, "max_wait": "3s"},
    }, base_dir=tmp_path)
    db = open_db(config.store.db_path)
    save_rules(db, parse_rules({"rules": [REPLY_RULE]}, default_env(DEFAULT_STATUSES)), datetime.now(UTC))
    db.conn.close()
    daemon = Daemon(config, simulate=True, listen=("127.0.0.1", free_port()),
                    worker_env={"WABRIDGE_SIM_QR_SECONDS": "30,30"})
    daemon.outbox.tick_seconds = 0.2
    await daemon.start()
    try:
        await pair_in_process(daemon, ADMIN)
        # OTHER never pairs: its reply must wait, then die, and never leave through ADMIN.
        (stranded,) = await daemon.db_call(queue, "reply", reply_to(OTHER), now=datetime.now(UTC))
        for n in range(5):
            await daemon.sim_inject(ADMIN, {"sender": f"628120000000{n}", "text": "halo kak", "sender_name": f"C{n}"})

        async def finished() -> bool:
            rows = await daemon.db_call(list_outbox, kind="reply")
            return len(rows) == 6 and all(r["state"] in ("delivered", "dead") for r in rows)

        await eventually(finished, timeout=20, what="every reply delivered or dead")
        rows = {r["id"]: r for r in await daemon.db_call(list_outbox, kind="reply")}
    finally:
        await daemon.stop()
    delivered = sorted((r for r in rows.values() if r["state"] == "delivered"), key=lambda r: r["delivered_at"])
    assert len(delivered) == 3  # hourly_cap
    assert all(r["target"] == f"reply:{ADMIN}" and r["external_id"].startswith("3EB0") for r in delivered)
    assert delivered[0]["payload"]["text"] == "Halo C0, pesanan kami cek ya"
    stamps = [datetime.fromisoformat(r["delivered_at"]) for r in delivered]
    assert all((b - a).total_seconds() >= 0.35 for a, b in zip(stamps, stamps[1:], strict=False))  # min_gap
    capped = [r for r in rows.values() if r["state"] == "dead" and r["id"] != stranded]
    assert len(capped) == 2 and all("hourly cap of 3 replies reached" in r["last_error"] for r in capped)
    assert rows[stranded]["state"] == "dead" and rows[stranded]["external_id"] is None
    assert f"{OTHER} was" in rows[stranded]["last_error"] and "not CONNECTED" in rows[stranded]["last_error"]


async def test_a_reply_waits_for_its_number_to_connect(tmp_path: Path, store: Store, services: Services) -> None:
    transport = FakeTransport()  # OTHER is DISCONNECTED
    (entry_id,) = await store.call(queue, "reply", reply_to(OTHER))
    service = await services(make_config(tmp_path, replies={"jitter": 0}), transport, tick_seconds=0.1)
    await asyncio.sleep(0.4)
    assert (await store.entry(entry_id))["state"] == "pending" and transport.sent == []
    transport.states[OTHER] = "CONNECTED"
    service.wake()
    entry = await settled(store, entry_id)
    assert entry["state"] == "delivered" and [s[0] for s in transport.sent] == [OTHER]


async def test_send_failures(tmp_path: Path, store: Store, services: Services) -> None:
    transport = FakeTransport(failures=[ReplyFailed("not connected", retryable=True)])
    config = make_config(tmp_path, replies={"jitter": 0, "min_gap": 0},
                         webhooks={"retry_base": "50ms", "retry_max": "100ms"})
    first = (await store.call(queue, "reply", reply_to(text="one"), inbox_id=1))[0]
    service = await services(config, transport)
    delivered = await settled(store, first)
    assert delivered["state"] == "delivered" and delivered["attempts"] == 2  # a retryable failure, then sent
    outcomes = []
    for index, failure in enumerate([
        ReplyFailed("to: 'x' is neither a JID nor phone digits", retryable=False),
        ReplyFailed("no answer from the worker within 30 s", retryable=False, maybe_sent=True),
    ]):
        transport.failures.append(failure)
        (entry_id,) = await store.call(queue, "reply", reply_to(text=f"fails {index}"), inbox_id=10 + index)
        service.wake()  # as the processor does after queueing
        outcomes.append(await settled(store, entry_id))
    (unknown,) = await store.call(queue, "reply", reply_to("6289999999999"), inbox_id=20)
    service.wake()
    outcomes.append(await settled(store, unknown))
    assert [o["state"] for o in outcomes] == ["dead", "dead", "dead"]
    assert [o["attempts"] for o in outcomes] == [1, 1, 1]
    assert "neither a JID" in outcomes[0]["last_error"]
    assert "not sent again to avoid a duplicate" in outcomes[1]["last_error"]
    assert "not a configured admin number" in outcomes[2]["last_error"]
    assert [s[2] for s in transport.sent] == ["one"]
