"""A real SQLite file with the check-in templates installed and events to check in to."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlite_utils import Database

from engine.attendance import Event
from engine.event_spec import parse_event_spec
from engine.model import DEFAULT_STATUSES, Workspace, parse_message
from engine.rules import default_env, parse_rules
from engine.ruleset import RuleSet
from engine.templates import TEMPLATES
from store.db import open_db
from store.events import CodeRow, create_event, import_attendees
from store.inbox import ingest
from store.processor import Processor, ProcessStats
from store.rules import load_rules, save_rules

TZ = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 10:00 in Jakarta
ADMIN, OTHER_ADMIN = "6281100000001", "6281100000002"
GUEST = "6281234567890"
_ids = itertools.count(1)


class Door:
    """One database, the templates installed, a processor, helpers to send and to look."""

    def __init__(self, path: Path, rules: list[dict[str, Any]] | None = None) -> None:
        self.path = path
        self.db: Database = open_db(path)
        self.now = NOW
        env = default_env(DEFAULT_STATUSES)
        raw = rules if rules is not None else [TEMPLATES["event-check-in"].rule, TEMPLATES["voucher-redemption"].rule]
        save_rules(self.db, parse_rules(raw, env), self.now)
        self.ruleset = RuleSet(load_rules(self.db, env).rules)
        self.processor = Processor(self.db, self.ruleset, Workspace("Toko", TZ, DEFAULT_STATUSES), lambda: self.now)

    def event(self, **settings: Any) -> Event:
        raw = {"name": "Grand Opening", "number": ADMIN, "start": self.now - timedelta(hours=2),
               "end": self.now + timedelta(hours=6), **settings}
        return create_event(self.db, parse_event_spec(raw, tz=TZ, statuses=DEFAULT_STATUSES), self.now)

    def codes(self, event: Event, *names: str) -> list[CodeRow]:
        people = [{"name": name, "phone": f"62812000{i:05d}"} for i, name in enumerate(names or ("Sari",))]
        return import_attendees(self.db, event, people, self.now)

    def message(self, text: str, **overrides: Any) -> dict[str, Any]:
        sender = overrides.pop("phone", GUEST)
        base: dict[str, Any] = {"id": f"M{next(_ids)}", "session": ADMIN, "chat": f"{sender}@s.whatsapp.net",
                                "sender": f"{sender}@s.whatsapp.net", "sender_name": "Sari",
                                "timestamp": self.now.isoformat(), "text": text}
        base.update(overrides)
        return base

    def deliver(self, *messages: dict[str, Any]) -> ProcessStats:
        for raw in messages:
            ingest(self.db, parse_message(raw), self.now)
        return self.processor.run()

    def send(self, text: str, **overrides: Any) -> ProcessStats:
        return self.deliver(self.message(text, **overrides))

    def checkins(self, event: Event | None = None) -> list[tuple[Any, ...]]:
        sql = "SELECT event_id, code_id, slot, phone, source, undone_at FROM checkins"
        if event is not None:
            return self.db.conn.execute(sql + " WHERE event_id = ? ORDER BY id", (event.id,)).fetchall()
        return self.db.conn.execute(sql + " ORDER BY id").fetchall()

    def replies(self) -> list[str]:
        rows = self.db.conn.execute("SELECT payload FROM outbox WHERE kind = 'reply' ORDER BY id").fetchall()
        return [json.loads(p)["text"] for (p,) in rows]

    def reply_payloads(self) -> list[dict[str, Any]]:
        rows = self.db.conn.execute("SELECT payload FROM outbox WHERE kind = 'reply' ORDER BY id").fetchall()
        return [json.loads(p) for (p,) in rows]

    def attempts(self) -> list[tuple[Any, ...]]:
        return self.db.conn.execute("SELECT event_id, result, replied FROM checkin_attempts ORDER BY id").fetchall()

    def inbox_states(self) -> dict[str, int]:
        return dict(self.db.conn.execute("SELECT state, COUNT(*) FROM inbox GROUP BY state").fetchall())


@pytest.fixture
def door(tmp_path: Path) -> Iterator[Door]:
    running = Door(tmp_path / "wabridge.db")
    yield running
    running.db.conn.close()
