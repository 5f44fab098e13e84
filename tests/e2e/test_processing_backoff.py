"""Processing that the machine keeps failing (a full disk) is retried with a growing pause and
said once, not every second: the messages wait in the inbox and go through once it works."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import structlog

import bridge.daemon.app as app
from bridge.config import parse_config
from bridge.daemon.app import Daemon
from store.inbox import count_by_state
from tests.e2e.daemon import free_port, pair_in_process
from tests.outbox.conftest import eventually

NUMBER = "6281100000001"
FAILURES = 5


async def test_a_full_disk_is_retried_with_backoff_and_logged_once(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "PROCESSING_RETRY_FIRST", 0.05)
    monkeypatch.setattr(app, "PROCESSING_RETRY_CAP", 0.2)
    config = parse_config({"store": {"data_dir": str(tmp_path / "data")},
                           "numbers": [{"phone": NUMBER, "label": "A"}]}, base_dir=tmp_path)
    daemon = Daemon(config, simulate=True, listen=("127.0.0.1", free_port()),
                    worker_env={"WABRIDGE_SIM_QR_SECONDS": "30,30"})
    await daemon.start()
    try:
        await pair_in_process(daemon, NUMBER)
        attempts: list[float] = []
        processing = daemon._process

        def disk_full_at_first():  # type: ignore[no-untyped-def]
            attempts.append(time.monotonic())
            if len(attempts) <= FAILURES:  # what SQLite raises when the disk is full
                raise sqlite3.OperationalError("database or disk is full")
            return processing()

        daemon._process = disk_full_at_first  # type: ignore[method-assign]
        with structlog.testing.capture_logs() as logs:
            await daemon.sim_inject(NUMBER, {"sender": "6281234567890", "text": "halo kak", "sender_name": "Sari"})

            async def processed() -> bool:
                return (await daemon.db_call(count_by_state)).get("done") == 1

            await eventually(processed, timeout=20, what="the message processed once the disk has room")
    finally:
        await daemon.stop()
    events = [entry["event"] for entry in logs if entry["event"].startswith("processing_")]
    assert events == ["processing_failed"] + ["processing_still_failing"] * (FAILURES - 1) + ["processing_recovered"]
    still = [entry for entry in logs if entry["event"] == "processing_still_failing"]
    assert [entry["retry_in_s"] for entry in still] == [0.1, 0.2, 0.2, 0.2]  # doubling, then capped
    assert "disk is full" in still[0]["error"]
    pauses = [later - earlier for earlier, later in zip(attempts, attempts[1:], strict=False)]
    assert all(pause >= wanted * 0.9 for pause, wanted in zip(pauses, [0.05, 0.1, 0.2, 0.2, 0.2], strict=False))
