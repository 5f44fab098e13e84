"""End to end: `wabridge run --simulate` as a real subprocess; attendees send the QR's text."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.daemon import NUMBERS, RunningDaemon

pytestmark = pytest.mark.slow
A, B = NUMBERS


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[RunningDaemon]:
    running = RunningDaemon(tmp_path)
    assert running.cli("templates", "install", "event-check-in").returncode == 0
    now = datetime.now(UTC)
    start, end = (now - timedelta(hours=1)).isoformat(), (now + timedelta(hours=5)).isoformat()
    made = running.cli("events", "create", "--name", "Launch Party", "--number", A, "--slug", "launch",
                       "--start", start, "--end", end)
    assert made.returncode == 0, made.stderr
    running.start()
    running.pair(A)
    running.pair(B)
    yield running
    if running.proc and running.proc.poll() is None:
        running.stop(signal.SIGKILL)


def _codes(daemon: RunningDaemon, count: int) -> list[str]:
    result = daemon.cli("events", "codes", "launch", "--generate", str(count), "--json")
    assert result.returncode == 0, result.stderr
    return [row["code"] for row in json.loads(result.stdout)]


def _query(daemon: RunningDaemon, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{daemon.data / 'wabridge.db'}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _replies(daemon: RunningDaemon) -> list[dict[str, Any]]:
    return [json.loads(p) for (p,) in _query(daemon, "SELECT payload FROM outbox WHERE kind = 'reply' ORDER BY id")]


def test_scan_send_checked_in_once_and_answered(daemon: RunningDaemon) -> None:
    code, other = _codes(daemon, 2)
    status, body = daemon.send(A, sender="6281234567890", sender_name="Sari", text=f"CHECKIN {code}")
    assert status == 201, body
    daemon.wait(lambda: len(_replies(daemon)) == 1, what="welcome reply")
    assert _replies(daemon)[0]["text"].startswith("Halo Sari, check-in Launch Party berhasil")
    # Bad input through the real path: wrong number, group, team's own phone, re-delivery.
    daemon.send(B, sender="6281234567891", text=f"CHECKIN {other}")
    daemon.send(A, sender="6281234567892", chat="120363000000000001@g.us", is_group=True, text=f"CHECKIN {other}")
    daemon.send(A, chat="6281234567893", from_me=True, text=f"CHECKIN {other}")
    status, body = daemon.send(A, id="REDELIVERED1", sender="6281234567894", text=f"CHECKIN {code}")
    daemon.send(A, id="REDELIVERED1", sender="6281234567894", text=f"CHECKIN {code}")
    daemon.wait(lambda: len(_replies(daemon)) == 3, what="invalid + already replies")
    snap = daemon.request("GET", "/api/events/launch")[1]
    assert (snap["counts"]["checked_in"], snap["counts"]["duplicates"], snap["counts"]["invalid"]) == (1, 1, 1)
    texts = [r["text"] for r in _replies(daemon)]
    assert "not valid" in texts[1] and "already checked in" in texts[2]
    assert [r["session"] for r in _replies(daemon)] == [A, B, A]
    lead = daemon.leads(phone="6281234567890")[0]
    assert "attended" in lead["tags"]


def test_two_racing_messages_with_the_same_code(daemon: RunningDaemon) -> None:
    (code,) = _codes(daemon, 1)
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def send(i: int) -> None:
        barrier.wait()
        statuses.append(daemon.send(A, sender=f"62812345000{i:02d}", text=f"CHECKIN {code}")[0])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [201] * 4
    daemon.wait(lambda: len(_replies(daemon)) == 4, what="four replies")
    assert _query(daemon, "SELECT COUNT(*) FROM checkins WHERE undone_at IS NULL") == [(1,)]
    texts = sorted(r["text"].split(",")[0].split(" ")[0] for r in _replies(daemon))
    assert texts == ["Halo", "Kode", "Kode", "Kode"]  # one welcome, three "already checked in"
    # The door staff undo it from the API; the code works again.
    (checkin_id,) = _query(daemon, "SELECT id FROM checkins")[0]
    status, _ = daemon.request("POST", f"/api/events/launch/checkins/{checkin_id}/undo", {})
    assert status == 200
    status, body = daemon.request("POST", "/api/events/launch/checkins", {"code": code})
    assert status == 201 and body["checkin"]["source"] == "manual"
