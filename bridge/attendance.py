"""The door desk: what the event pages and the event API ask of the store, on the store thread.

The daemon builds one `EventDesk` around `Daemon.db_call` and pokes `changed()` after each
processing run, so live pages learn about new check-ins without polling the database per
browser; a snapshot is computed at most once per change (and refreshed every few seconds
to also show check-ins made by `wabridge events checkin` from another process).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any, TypeVar

from sqlite_utils import Database

from bridge.csv_cells import csv_cell
from engine.attendance import Event, compact_of, wa_link
from engine.event_spec import EventSpecError, local_when, parse_event_spec
from store.checkins import (
    ManualResult,
    event_counts,
    export_rows,
    latest_checkins,
    undo_check_in,
)
from store.events import (
    create_event,
    event_dict,
    find_code,
    generate_codes,
    get_event,
    import_attendees,
    list_codes,
    list_events,
    update_event_window,
)
from store.subscriptions import Subscription, manual_check_in_told

T = TypeVar("T")
Runner = Callable[..., Awaitable[Any]]  # run(fn, *args) → fn(db, *args) on the store thread
EDITABLE = frozenset({"name", "start", "end"})  # what PATCH /api/events/{event} may change
SNAPSHOT_MAX_AGE = 3.0  # seconds: also picks up changes made by another process
LATEST = 25


class EventDesk:
    """Event operations for the HTTP layer, plus change notification for live pages."""

    def __init__(self, run: Runner, *, tz: tzinfo, statuses: Sequence[str], numbers: Mapping[str, str],
                 clock: Callable[[], datetime]) -> None:
        self._run = run
        self.tz = tz
        self.statuses = tuple(statuses)
        self.numbers = dict(numbers)  # admin number → label
        self.clock = clock
        self.version = 0
        self._changed = asyncio.Event()
        self._snapshots: dict[int, tuple[int, float, dict[str, Any]]] = {}
        # Event webhook subscriptions (the daemon sets these): manual check-ins are events too.
        self.subscribed: Callable[[], Sequence[Subscription]] = tuple
        self.queued: Callable[[], None] = lambda: None
        self.workspace_name = ""

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(db, …)` on the store thread."""
        result: T = await self._run(fn, *args, **kwargs)
        return result

    # ------------------------------------------------------------------ change notification

    def changed(self) -> None:
        """Something may have changed (a processing run, a manual check-in): wake live pages."""
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_changed(self, after: int, timeout: float) -> int:
        """Return the version once it passes `after`, or at timeout."""
        if self.version <= after:
            waiter = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), timeout)
        return self.version

    # ------------------------------------------------------------------ reading

    def describe(self, event: Event) -> dict[str, Any]:
        """The event's JSON form plus what a page shows about it."""
        now = self.clock()
        data = event_dict(event)
        data.update(state=event.state(now), label=self.numbers.get(event.number, ""),
                    start_local=local_when(event.starts_at, self.tz), end_local=local_when(event.ends_at, self.tz),
                    # ISO 8601 in the workspace's offset: the pages show them with its zone abbreviation
                    start=event.starts_at.astimezone(self.tz).isoformat(),
                    end=event.ends_at.astimezone(self.tz).isoformat(),
                    end_past=event.ends_at <= now)  # created or moved into the past: pages warn
        return data

    async def event(self, ref: str) -> Event:
        """An event by slug or id (NotFoundError otherwise)."""
        return await self.call(get_event, ref)

    async def events(self) -> list[dict[str, Any]]:
        """Every event with its counts."""
        def read(db: Database) -> list[dict[str, Any]]:
            return [{**self.describe(e), "counts": event_counts(db, e)} for e in list_events(db)]
        return await self.call(read)

    async def snapshot(self, ref: str) -> dict[str, Any]:
        """The live page's data: the event, its counts and the latest check-ins (cached per change)."""
        event = await self.event(ref)
        cached = self._snapshots.get(event.id)
        if cached and cached[0] == self.version and time.monotonic() - cached[1] < SNAPSHOT_MAX_AGE:
            return cached[2]
        version = self.version

        def read(db: Database) -> dict[str, Any]:
            return {"event": self.describe(event), "counts": event_counts(db, event),
                    "latest": [self._local(c) for c in latest_checkins(db, event, limit=LATEST)]}
        data = await self.call(read)
        self._snapshots[event.id] = (version, time.monotonic(), data)
        return data

    def _local(self, checkin: dict[str, Any]) -> dict[str, Any]:
        moment = datetime.fromisoformat(checkin["at"]).astimezone(self.tz)
        # "10:37 WIB": the door page shows the workspace zone; `at` carries its offset too
        return {**checkin, "at": moment.isoformat(), "time": f"{moment:%H:%M} {moment.tzname()}"}

    async def codes(self, ref: str, q: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
        """Codes with their use; `q` searches name, phone, email and code."""
        event = await self.event(ref)
        rows = await self.call(list_codes, event, q=q, limit=limit, offset=offset)
        for row in rows:
            row["link"] = wa_link(event.number, event.keyword, compact_of(row["code"]))
            last = row["last_checkin_at"]
            local = datetime.fromisoformat(last).astimezone(self.tz) if last else None
            row["last_time"] = f"{local:%H:%M} {local.tzname()}" if local else ""
        return rows

    async def checkins(self, ref: str, q: str | None, limit: int) -> list[dict[str, Any]]:
        """Check-ins, newest first; `q` searches name, phone and code."""
        event = await self.event(ref)
        return [self._local(c) for c in await self.call(latest_checkins, event, limit=limit, q=q)]

    async def qr_link(self, ref: str, code: str) -> str:
        """The wa.me link a code's QR opens (NotFoundError for a code of another event)."""
        event = await self.event(ref)
        row = await self.call(find_code, event, code)
        return wa_link(event.number, event.keyword, row.code)

    async def export_csv(self, ref: str) -> tuple[Event, str]:
        """The event as CSV text (codes with their use, or an open event's check-ins)."""
        event = await self.event(ref)
        rows = await self.call(export_rows, event, self.tz)
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
        return event, buffer.getvalue()

    # ------------------------------------------------------------------ writing

    async def create(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Create an event from the API's JSON (EventSpecError names a bad field)."""
        spec = parse_event_spec(raw, tz=self.tz, statuses=self.statuses,
                                numbers=frozenset(self.numbers) or None)
        event = await self.call(create_event, spec, self.clock())
        self.changed()
        return self.describe(event)

    async def update(self, ref: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Rename an event or move its window (name, start, end; the rest stays); EventSpecError names a field."""
        unknown = sorted(set(raw) - EDITABLE)
        if unknown:
            raise EventSpecError(unknown[0], f"cannot be changed here (only {', '.join(sorted(EDITABLE))})")
        event = await self.event(ref)
        spec = parse_event_spec({"name": event.name, "number": event.number, "mode": event.mode, "uses": event.max_uses,
                                 "start": event.starts_at, "end": event.ends_at, **raw},
                                tz=self.tz, statuses=self.statuses)
        updated = await self.call(update_event_window, event.id, name=spec.name, starts_at=spec.starts_at,
                                  ends_at=spec.ends_at)
        self.changed()
        return self.describe(updated)

    async def add_codes(self, ref: str, *, count: int | None = None,
                        attendees: Sequence[Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Issue `count` codes, or one per attendee."""
        event = await self.event(ref)
        if attendees is not None:
            rows = await self.call(import_attendees, event, attendees, self.clock())
        else:
            rows = await self.call(generate_codes, event, count or 0, self.clock())
        self.changed()
        return [{"id": r.id, "code": r.display, "name": r.name, "phone": r.phone, "email": r.email,
                 "link": wa_link(event.number, event.keyword, r.code)} for r in rows]

    async def check_in(self, ref: str, *, code: str | None, phone: str | None, name: str | None) -> ManualResult:
        """A manual check-in from the door page."""
        event = await self.event(ref)
        subscriptions = self.subscribed()
        result = await self.call(manual_check_in_told, event, code=code, phone=phone, name=name, now=self.clock(),
                                 subscriptions=subscriptions, workspace=self.workspace_name)
        self.changed()
        if result.checkin is not None and subscriptions:
            self.queued()  # a checkin.recorded event may wait in the outbox
        if result.checkin is not None:
            return ManualResult(result.result, self._local(result.checkin), None, result.code)
        return result

    async def undo(self, ref: str, checkin_id: int) -> dict[str, Any]:
        """Undo a check-in."""
        event = await self.event(ref)
        checkin = await self.call(undo_check_in, event, checkin_id, self.clock())
        self.changed()
        return self._local(checkin)

    def previous_time(self, moment: datetime | None) -> str:
        """HH:MM of an earlier check-in, in the workspace timezone."""
        return moment.astimezone(self.tz).strftime("%H:%M") if moment else ""

