"""Two messages with the same code racing: exactly one check-in, whoever wins.

Inside the daemon one store thread serialises processing; the UNIQUE keys of `checkins`
are the guard for everything else (a manual check-in from another process, a future
second writer). These tests race on one file through separate connections.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from engine.actions import OutboxRequest
from engine.attendance import scan
from engine.model import parse_message
from store import checkins as checkins_module
from store.checkins import resolve_check_ins
from store.db import open_db
from tests.attendance.conftest import TZ, Door
from tests.conftest import ROOT


def _request(text: str) -> OutboxRequest:
    found = scan(text)
    return OutboxRequest("check_in", 1, "Event Check-in", {
        "event": "*", "codes": list(found.codes), "near": list(found.near), "overflow": False, "reply": True})


def test_same_code_twice_in_one_batch(door: Door) -> None:
    event = door.event()
    (code,) = door.codes(event)
    door.deliver(door.message(f"CHECKIN {code.display}", phone="6281200000001"),
                 door.message(f"CHECKIN {code.display}", phone="6281200000002"))
    assert [r[3] for r in door.checkins()] == ["6281200000001"]
    assert [r[1] for r in door.attempts()] == ["already_used"]


def test_stale_facts_lose_to_the_unique_key(door: Door, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone else checked the code in after our facts were read: the insert is refused
    by the UNIQUE key and the attempt is decided again (already used)."""
    event = door.event()
    (code,) = door.codes(event)
    real = checkins_module._facts
    calls: list[int] = []

    def stale_then_real(*args: Any) -> Any:
        facts = real(*args)
        if not calls:
            calls.append(1)
            # Another process wins right now, after we looked.
            door.db.conn.execute(
                "INSERT INTO checkins (event_id, code_id, slot, phone, at, recorded_at, source) "
                "VALUES (?, ?, 1, '6289999999999', ?, ?, 'manual')",
                (event.id, code.id, door.now.isoformat(), door.now.isoformat()))
        return facts

    monkeypatch.setattr(checkins_module, "_facts", stale_then_real)
    door.send(f"CHECKIN {code.display}")
    assert [(r[3], r[4]) for r in door.checkins()] == [("6289999999999", "manual")]
    assert [r[1] for r in door.attempts()] == ["already_used"]
    assert "already checked in" in door.replies()[0]


def test_many_connections_racing_for_one_code(door: Door) -> None:
    event = door.event()
    (code,) = door.codes(event)
    racers = 8
    barrier = threading.Barrier(racers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def racer(i: int) -> None:
        db = open_db(door.path)
        message = parse_message(door.message(f"CHECKIN {code.display}", phone=f"628120000000{i}"))
        barrier.wait()
        # What the processor does on a busy database: roll back, try again. Bounded by time, not by
        # a count, so a loaded machine (where a racer can lose many rounds in a row) does not flake.
        deadline = time.monotonic() + 30
        while True:
            try:
                with db.atomic():
                    resolved = resolve_check_ins(db, [_request(message.text)], message=message, inbox_id=None,
                                                 now=door.now, tz=TZ)
                break
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise AssertionError("never got the database") from None
                time.sleep(0.002)
        assert resolved.decision is not None
        with lock:
            outcomes.append(resolved.decision.result.value)
        db.conn.close()

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["already_used"] * (racers - 1) + ["checked_in"]
    assert len(door.checkins()) == 1


def test_manual_checkin_from_another_process_against_messages(door: Door) -> None:
    event = door.event()
    (code,) = door.codes(event)
    cli = subprocess.Popen([sys.executable, "-m", "bridge.cli", "--db", str(door.path), "events", "checkin",
                            code.display], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    door.send(f"CHECKIN {code.display}")
    cli.communicate(timeout=60)
    assert len(door.checkins()) == 1  # the CLI or the message, never both
    winner = door.checkins()[0][4]
    assert cli.returncode == (0 if winner == "manual" else 1)
