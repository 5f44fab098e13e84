"""The live intake's group commit (bridge/daemon/intake.py) against a real SQLite file on a
real store thread: messages arriving together from several numbers share one transaction,
a failing commit fails every caller of it, echoes, duplicates and malformed messages are
handled as the daemon always did."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from bridge.daemon.intake import Intake
from bridge.metrics import Metrics
from engine.model import Message
from store.db import open_db

NUMBERS = ("6281100000001", "6281100000002", "6281100000003")


class Harness:
    """An Intake on a one-thread executor over a real database, counting its COMMITs."""

    def __init__(self, path: Path) -> None:
        self.thread = ThreadPoolExecutor(max_workers=1)
        self.db: Database = self.thread.submit(open_db, path).result()
        self.statements: list[str] = []
        self.thread.submit(self.db.conn.set_trace_callback, self.statements.append).result()
        self.fresh: dict[int, Message] = {}
        self.sent: dict[str, list[str]] = {}
        self.wakes = 0
        self.metrics = Metrics()
        self.intake = Intake(self.db_call, lambda: datetime.now(UTC), self.metrics,
                             sent_ids=lambda n: self.sent.get(n, []), fresh=lambda: self.fresh,
                             committed=self.woken)

    def woken(self) -> None:
        self.wakes += 1

    async def db_call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.thread, partial(fn, self.db, *args))

    def commits(self) -> int:
        return sum(1 for s in self.statements if s.strip().upper().startswith("COMMIT"))

    def rows(self, path: Path) -> list[tuple[str, str, str]]:
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT session, message_id, state FROM inbox ORDER BY id").fetchall()

    def close(self) -> None:
        self.thread.submit(self.db.conn.close).result()
        self.thread.shutdown()


def message(number: str, n: int, **extra: Any) -> dict[str, Any]:
    customer = f"62812{n % 7:08d}@s.whatsapp.net"
    return {"id": f"M{number[-2:]}{n:04d}", "session": number, "chat": customer, "sender": customer,
            "timestamp": "2026-12-06T10:00:00+00:00", "type": "text", "text": f"halo {n}", **extra}


@pytest.fixture
def harness(tmp_path: Path) -> Any:
    made = Harness(tmp_path / "wabridge.db")
    yield made
    made.close()


async def test_messages_arriving_together_from_several_numbers_share_one_commit(
        harness: Harness, tmp_path: Path) -> None:
    drain = asyncio.create_task(harness.intake.run())
    try:
        futures = [harness.intake.submit(number, message(number, n)) for n in range(40) for number in NUMBERS]
        harness.statements.clear()
        await asyncio.gather(*futures)  # every caller resolved only after the shared commit
    finally:
        drain.cancel()
    rows = harness.rows(tmp_path / "wabridge.db")
    assert len(rows) == 120 and {r[2] for r in rows} == {"pending"}
    # Frame order is inbox order, number by number as they arrived.
    assert [r[1] for r in rows] == [message(number, n)["id"] for n in range(40) for number in NUMBERS]
    assert harness.intake.commits == 1 and harness.commits() == 1  # 120 callers, one transaction
    assert harness.metrics.inbox_commits._value.get() == 1
    assert len(harness.fresh) == 120 and harness.wakes == 1


async def test_a_failing_commit_fails_every_caller_and_stores_none_of_them(
        harness: Harness, tmp_path: Path) -> None:
    # A storage failure in the middle of the batch (like a full disk): the whole transaction goes.
    harness.thread.submit(harness.db.conn.execute,
                          "CREATE TRIGGER fail BEFORE INSERT ON inbox WHEN NEW.message_id = 'M010005' "
                          "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END").result()
    drain = asyncio.create_task(harness.intake.run())
    try:
        futures = [harness.intake.submit(NUMBERS[0], message(NUMBERS[0], n)) for n in range(10)]
        results = await asyncio.gather(*futures, return_exceptions=True)
        assert all(isinstance(r, sqlite3.IntegrityError) and "disk is full" in str(r) for r in results)
        assert harness.rows(tmp_path / "wabridge.db") == []
        assert harness.intake.commits == 0 and harness.fresh == {}
        # The workers send them again once the storage recovers: all land, each once.
        harness.thread.submit(harness.db.conn.execute, "DROP TRIGGER fail").result()
        again = [harness.intake.submit(NUMBERS[0], message(NUMBERS[0], n)) for n in range(10)]
        await asyncio.gather(*again)
    finally:
        drain.cancel()
    assert [r[1] for r in harness.rows(tmp_path / "wabridge.db")] == [f"M01{n:04d}" for n in range(10)]


async def test_duplicates_echoes_and_malformed_messages_keep_their_handling(
        harness: Harness, tmp_path: Path) -> None:
    number = NUMBERS[0]
    harness.sent[number] = ["SENT-IN-MEMORY"]
    drain = asyncio.create_task(harness.intake.run())
    try:
        await harness.intake.submit(number, message(number, 1))
        futures = [
            harness.intake.submit(number, message(number, 1)),  # re-sent after a lost ack
            harness.intake.submit(number, message(number, 2)),
            harness.intake.submit(number, message(number, 2)),  # twice in one batch
            harness.intake.submit(number, {**message(number, 3), "id": "SENT-IN-MEMORY", "from_me": True,
                                           "sender": f"{number}@s.whatsapp.net"}),  # echo of our own send
            harness.intake.submit(number, {"id": "BROKEN1", "session": number, "type": "text"}),  # no chat
            harness.intake.submit(NUMBERS[1], {**message(NUMBERS[1], 4), "session": "6289999999999"}),
        ]
        await asyncio.gather(*futures)
    finally:
        drain.cancel()
    rows = harness.rows(tmp_path / "wabridge.db")
    ids = [r[1] for r in rows]
    assert ids.count(message(number, 1)["id"]) == 1 and ids.count(message(number, 2)["id"]) == 1
    assert "SENT-IN-MEMORY" not in ids
    assert ("6281100000001", "BROKEN1", "error") in rows  # kept, marked error, not lost
    assert (NUMBERS[1], message(NUMBERS[1], 4)["id"], "pending") in rows  # the receiving number's session
