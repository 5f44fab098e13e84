"""A real EventDesk over an in-memory store, with one ticket event for the HTTP tests.

The event `launch` (number ADMIN, open from a day ago for 300 days) has two codes: USED_CODE is
checked in (check-in id 1), FREE_CODE is not.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from bridge.attendance import EventDesk
from engine.attendance import display, make_code
from engine.event_spec import parse_event_spec
from engine.model import DEFAULT_STATUSES
from store.checkins import manual_check_in
from store.db import open_db
from store.events import create_event, find_code, utc_stamp

ADMIN = "6281100000001"
EVENT = "launch"
PREFIX = "EVT7"
USED_CODE = display(make_code(PREFIX, "K3Q9T"))
FREE_CODE = display(make_code(PREFIX, "ABCDE"))
TZ = ZoneInfo("Asia/Jakarta")


def seed(db: Database, now: datetime) -> None:
    """The `launch` event with its two codes, USED_CODE checked in."""
    spec = parse_event_spec({"name": "Launch Party", "number": ADMIN, "start": now - timedelta(days=1),
                             "end": now + timedelta(days=299), "slug": EVENT, "prefix": PREFIX},
                            tz=TZ, statuses=DEFAULT_STATUSES)
    event = create_event(db, spec, now)
    with db.atomic():
        for name, phone, code in (("Sari", "6281234567890", USED_CODE), ("Budi", "6281298765432", FREE_CODE)):
            db.conn.execute("INSERT INTO event_codes (event_id, code, name, phone, max_uses, created_at) "
                            "VALUES (?, ?, ?, ?, 1, ?)", (event.id, code.replace("-", ""), name, phone,
                                                          utc_stamp(now)))
    manual_check_in(db, event, code=find_code(db, event, USED_CODE).code, now=now)


def make_desk(clock: Callable[[], datetime] | None = None, numbers: dict[str, str] | None = None) -> EventDesk:
    """An EventDesk whose store calls run inline on an in-memory database."""
    db = open_db(":memory:")
    now = clock or (lambda: datetime.now(UTC))
    seed(db, now())

    async def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return fn(db, *args, **kwargs)

    desk = EventDesk(run, tz=TZ, statuses=DEFAULT_STATUSES, numbers=numbers or {ADMIN: "CS Budi"}, clock=now)
    desk.db = db  # type: ignore[attr-defined]  # tests peek at the store
    return desk
