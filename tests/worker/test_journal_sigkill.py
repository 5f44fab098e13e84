"""The linked-device capture guarantee: every message whose handler returned reaches the
inbox exactly once, though the worker is killed with SIGKILL at 20 random moments.

A real neonize worker process (tests/worker/journal_feeder.py: NeonizeWorker, its journal
and forwarder, real MessageEv protobufs through neonize's decode path) under the real
supervisor Session, committing into a real SQLite inbox.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bridge.config import NumberConfig
from bridge.daemon.supervisor import Session, WorkerSpec
from engine.model import parse_message
from store.db import open_db
from store.inbox import ingest

ADMIN = "6281100000001"
TOTAL = 2_000
KILLS = 20
FEEDER = str(Path(__file__).with_name("journal_feeder.py"))


@pytest.mark.timeout(300)  # 21 worker starts: ~25 s on an idle 2-core machine, ~95 s under heavy load
async def test_sigkill_at_random_moments_loses_no_message_whose_handler_returned(tmp_path: Path) -> None:
    db = open_db(tmp_path / "wabridge.db")

    async def sink(number: str, raw: Any) -> None:
        ingest(db, parse_message(raw), datetime.now(UTC))  # the daemon's inbox commit, then the ack

    sessions = tmp_path / "sessions"
    spec = WorkerSpec(kind="neonize", sessions_dir=sessions, launcher=(sys.executable, FEEDER),
                      env={"FEED_TOTAL": str(TOTAL), "WABRIDGE_WORKER_PROXY": "socks5://127.0.0.1:1"})
    session = Session(NumberConfig(phone=ADMIN, label="CS"), spec, sink, lambda s: None)
    record = sessions / "returned.log"

    def returned() -> list[str]:
        return record.read_text().split() if record.exists() else []

    rng = random.Random(14)
    started = time.monotonic()
    await session.start()
    try:
        for _ in range(KILLS):
            await session.wait_for(lambda v: v.state.value == "CONNECTED", 30)
            await asyncio.sleep(rng.uniform(0.0, 0.3))  # a random moment of the stream
            proc = session.proc
            assert proc is not None
            os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()
            await session.restart()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            count = db.conn.execute("SELECT COUNT(*) FROM inbox").fetchone()[0]
            if len(returned()) == TOTAL and count >= TOTAL:
                break
            await asyncio.sleep(0.1)
    finally:
        await session.stop()
    ids = [row[0] for row in db.conn.execute("SELECT message_id FROM inbox")]
    done = returned()
    assert len(done) == TOTAL, "the feeder did not get through its messages"
    assert len(ids) == len(set(ids)) == TOTAL  # exactly once
    assert set(done) == set(ids)
    print(f"{TOTAL} messages, {KILLS} SIGKILLs: {time.monotonic() - started:.1f} s")
