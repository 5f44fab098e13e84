"""Outbox fixtures: a real SQLite file behind one store thread (as in the daemon), a config
with short retry settings, a fake reply transport, helpers to queue entries."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from bridge.config import Config, parse_config
from bridge.outbox.replies import Quote, ReplyFailed
from bridge.outbox.service import OutboxService
from engine.actions import OutboxRequest
from engine.model import Lead, Message
from store.db import open_db
from store.outbox import OutboxPolicy, enqueue, get_entry
from tests.outbox.receiver import Receiver

ADMIN = "6281100000001"
OTHER = "6281100000002"
CUSTOMER = "6281234567890"
FAST = {"retry_base": "50ms", "retry_max": "200ms", "timeout": "2s"}


@dataclass
class Store:
    """The database and the one thread every call goes through."""

    db: Database
    executor: ThreadPoolExecutor

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, partial(fn, self.db, *args, **kwargs))

    async def entry(self, entry_id: int) -> dict[str, Any]:
        row = await self.call(get_entry, entry_id)
        assert row is not None
        return row  # type: ignore[no-any-return]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
    db = await asyncio.get_running_loop().run_in_executor(executor, open_db, tmp_path / "wabridge.db")
    yield Store(db, executor)
    await asyncio.get_running_loop().run_in_executor(executor, db.conn.close)
    executor.shutdown()


def make_config(tmp_path: Path, **sections: Any) -> Config:
    raw: dict[str, Any] = {"store": {"data_dir": str(tmp_path / "data")}}
    raw.update(sections)
    return parse_config(raw, base_dir=tmp_path)


def lead(**changes: Any) -> Lead:
    now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    values: dict[str, Any] = {"phone": CUSTOMER, "jid": f"{CUSTOMER}@s.whatsapp.net", "status": "new",
                              "name": "Sari", "created_at": now, "updated_at": now}
    values.update(changes)
    return Lead(**values)


def message(**changes: Any) -> Message:
    values: dict[str, Any] = {"id": "MSG1", "session": ADMIN, "chat": f"{CUSTOMER}@s.whatsapp.net",
                              "sender": f"{CUSTOMER}@s.whatsapp.net", "sender_name": "Sari",
                              "timestamp": datetime(2026, 11, 23, 10, 0, tzinfo=UTC), "text": "halo"}
    values.update(changes)
    return Message(**values)


def queue(db: Database, kind: str, payload: dict[str, Any], *, the_lead: Lead | None = None,
          inbox_id: int | None = None, now: datetime | None = None, rule_id: int = 7,
          status_changes: tuple[tuple[str, str], ...] = (), policy: OutboxPolicy | None = None) -> list[int]:
    """Queue one request the way the processor does (inside a transaction)."""
    with db.atomic():
        return enqueue(db, [OutboxRequest(kind, rule_id, "Test rule", payload)], lead=the_lead or lead(),
                       message=message(), inbox_id=inbox_id, workspace="Toko Test",
                       now=now or datetime.now(UTC), status_changes=status_changes, policy=policy)


def webhook(url: str | None = None, *, endpoint: str | None = None, secret: str | None = None,
            event: str = "rule.fired") -> dict[str, Any]:
    payload: dict[str, Any] = {"url": url, "endpoint": endpoint, "event": event}
    if secret:
        payload["secret"] = secret
    return payload


@dataclass
class FakeTransport:
    """ReplyTransport in memory: states set by the test, sends recorded."""

    states: dict[str, str] = field(default_factory=lambda: {ADMIN: "CONNECTED", OTHER: "DISCONNECTED"})
    sent: list[tuple[str, str, str, float]] = field(default_factory=list)
    failures: list[ReplyFailed] = field(default_factory=list)

    def numbers(self) -> tuple[str, ...]:
        return tuple(self.states)

    def state(self, number: str) -> str | None:
        return self.states.get(number)

    async def send_text(self, number: str, to: str, text: str, quote: Quote | None = None) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((number, to, text, time.monotonic()))
        return f"3EB0{len(self.sent):04d}"


Services = Callable[..., Awaitable[OutboxService]]


@pytest.fixture
async def services(store: Store) -> AsyncIterator[Services]:
    """Start OutboxServices on the store (stopped after the test)."""
    started: list[OutboxService] = []

    async def start(config: Config, transport: Any = None, **kwargs: Any) -> OutboxService:
        kwargs.setdefault("rng", random.Random(4))
        service = OutboxService(config, store.call, transport or FakeTransport(), **kwargs)
        await service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        await service.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll an async predicate until it holds (or fail after `timeout` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def settled(store: Store, entry_id: int, states: tuple[str, ...] = ("delivered", "dead"),
                  timeout: float = 10.0) -> dict[str, Any]:
    """Wait until an entry reaches one of `states`; return it."""
    async def check() -> bool:
        return (await store.entry(entry_id))["state"] in states

    await eventually(check, timeout, f"entry {entry_id} in {states}")
    return await store.entry(entry_id)
