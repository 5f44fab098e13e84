"""Events and their codes: create, look up, generate or import codes, list and search them.

Codes are random (the `secrets` module) and checked (engine.attendance). Check-ins, their
counts and the message hook live in store.checkins.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from engine.attendance import ALPHABET, RANDOM_LENGTH, Event, compact_of, display, make_code, prefix_for_id
from engine.event_spec import EventSpec, EventSpecError, slugify
from store.errors import NotFoundError, row_id

EVENT_COLUMNS = ("id", "slug", "name", "number", "mode", "starts_at", "ends_at", "prefix", "keyword",
                 "max_uses", "tag", "status", "capacity", "texts")
EVENT_SELECT = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events"
CODE_COLUMNS = ("id", "event_id", "code", "name", "phone", "email", "max_uses", "created_at")
MAX_GENERATE = 20_000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def utc_stamp(moment: datetime) -> str:
    """The timestamp format of the event tables (UTC ISO 8601): text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def event_from_row(row: Sequence[Any]) -> Event:
    """Build an Event from a row in EVENT_COLUMNS order."""
    v = dict(zip(EVENT_COLUMNS, row, strict=True))
    return Event(id=v["id"], slug=v["slug"], name=v["name"], number=v["number"], mode=v["mode"],
                 starts_at=datetime.fromisoformat(v["starts_at"]), ends_at=datetime.fromisoformat(v["ends_at"]),
                 prefix=v["prefix"], keyword=v["keyword"], max_uses=v["max_uses"], tag=v["tag"],
                 status=v["status"], capacity=v["capacity"], texts=json.loads(v["texts"] or "{}"))


def event_dict(event: Event) -> dict[str, Any]:
    """The JSON form of an event (API, `events list --json`)."""
    return {"id": event.id, "slug": event.slug, "name": event.name, "number": event.number,
            "mode": event.mode, "start": event.starts_at.isoformat(), "end": event.ends_at.isoformat(),
            "uses": event.max_uses, "prefix": event.prefix, "keyword": event.keyword, "tag": event.tag,
            "status": event.status, "capacity": event.capacity, "texts": dict(event.texts)}


@dataclass(frozen=True, slots=True)
class CodeRow:
    """One issued code (a ticket, a voucher, or an open event's shared code)."""

    id: int
    event_id: int
    code: str
    name: str | None
    phone: str | None
    email: str | None
    max_uses: int | None
    created_at: str

    @property
    def display(self) -> str:
        """`EVT7-K3Q9TZ`."""
        return display(self.code)


def _code_from_row(row: Sequence[Any]) -> CodeRow:
    return CodeRow(*row)


def _unique_slug(db: Database, wanted: str) -> str:
    taken = {s for (s,) in db.conn.execute("SELECT slug FROM events WHERE slug = ? OR slug LIKE ?",
                                           (wanted, f"{wanted}-%"))}
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted}-{n}" in taken:
        n += 1
    return f"{wanted}-{n}"


def create_event(db: Database, spec: EventSpec, now: datetime) -> Event:
    """Store a new event; an open event gets its one shared code.

    Raises EventSpecError("slug"/"prefix") when the chosen slug or prefix is taken.
    """
    conn = db.conn
    with db.atomic():
        if spec.slug is not None:
            if conn.execute("SELECT 1 FROM events WHERE slug = ?", (spec.slug,)).fetchone():
                raise EventSpecError("slug", f"{spec.slug!r} is already used by another event")
            slug = spec.slug
        else:
            slug = _unique_slug(db, slugify(spec.name))
        if spec.prefix is not None and conn.execute("SELECT 1 FROM events WHERE prefix = ?",
                                                    (spec.prefix,)).fetchone():
            raise EventSpecError("prefix", f"{spec.prefix!r} is already used by another event")
        cursor = conn.execute(
            "INSERT INTO events (slug, name, number, mode, starts_at, ends_at, max_uses, prefix, keyword, tag, "
            "status, capacity, texts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (slug, spec.name, spec.number, spec.mode, spec.starts_at.isoformat(), spec.ends_at.isoformat(),
             spec.max_uses, spec.prefix or f"#{secrets.token_hex(8)}", spec.keyword, spec.tag, spec.status,
             spec.capacity, json.dumps(dict(spec.texts), ensure_ascii=False), utc_stamp(now)))
        event_id = int(cursor.lastrowid or 0)
        if spec.prefix is None:
            stem = "VCH" if spec.mode == "voucher" else "EVT"
            number = event_id
            while conn.execute("SELECT 1 FROM events WHERE prefix = ?", (prefix_for_id(stem, number),)).fetchone():
                number += 32 ** 2  # someone chose this prefix by hand: take another of the stem
            conn.execute("UPDATE events SET prefix = ? WHERE id = ?", (prefix_for_id(stem, number), event_id))
        event = get_event(db, event_id)
        if event.mode == "open":
            _insert_codes(db, event, [{"name": None, "phone": None, "email": None}], now, max_uses=None)
    return event


def update_event_window(db: Database, event_id: int, *, name: str, starts_at: datetime, ends_at: datetime) -> Event:
    """Rename an event or move its window; its mode, keyword, prefix and codes stay as they are."""
    with db.atomic():
        db.conn.execute("UPDATE events SET name = ?, starts_at = ?, ends_at = ? WHERE id = ?",
                        (name, starts_at.isoformat(), ends_at.isoformat(), event_id))
    return get_event(db, event_id)


def get_event(db: Database, ref: str | int) -> Event:
    """An event by id or slug. Raises NotFoundError naming what was asked for."""
    text = str(ref).strip()
    if text.isascii() and text.isdigit():
        number = row_id(text)
        row = None if number is None else db.conn.execute(f"{EVENT_SELECT} WHERE id = ?", (number,)).fetchone()
    else:
        row = db.conn.execute(f"{EVENT_SELECT} WHERE slug = ?", (text.lower(),)).fetchone()
    if row is None:
        raise NotFoundError(f"no event {text!r} (see `wabridge events list`)")
    return event_from_row(row)


def list_events(db: Database) -> list[Event]:
    """Every event, the latest start first."""
    return [event_from_row(r) for r in db.conn.execute(f"{EVENT_SELECT} ORDER BY starts_at DESC, id DESC")]


def _random_part() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))


def _insert_codes(db: Database, event: Event, people: Sequence[Mapping[str, str | None]], now: datetime,
                  *, max_uses: int | None) -> list[CodeRow]:
    stamp = utc_stamp(now)
    ids: list[int] = []
    for person in people:
        while True:  # a clash among 33.5 million codes is rare; the UNIQUE index settles it
            cursor = db.conn.execute(
                "INSERT INTO event_codes (event_id, code, name, phone, email, max_uses, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO NOTHING",
                (event.id, make_code(event.prefix, _random_part()), person.get("name"), person.get("phone"),
                 person.get("email"), max_uses, stamp))
            if cursor.rowcount:
                ids.append(int(cursor.lastrowid or 0))
                break
    if not ids:
        return []
    sql = f"SELECT {', '.join(CODE_COLUMNS)} FROM event_codes WHERE event_id = ? AND id BETWEEN ? AND ? ORDER BY id"
    return [_code_from_row(r) for r in db.conn.execute(sql, (event.id, ids[0], ids[-1]))]


def _needs_codes(event: Event) -> None:
    if event.mode == "open":
        raise EventSpecError("mode", f"{event.slug} is an open event: it has one shared code for everyone "
                                     "(create a ticket event for one code per attendee)")


def generate_codes(db: Database, event: Event, count: int, now: datetime) -> list[CodeRow]:
    """Issue `count` anonymous codes (tickets or vouchers)."""
    _needs_codes(event)
    if not 1 <= count <= MAX_GENERATE:
        raise EventSpecError("count", f"must be from 1 to {MAX_GENERATE}, not {count}")
    with db.atomic():
        return _insert_codes(db, event, [{}] * count, now, max_uses=event.max_uses)


def phone_digits(text: str) -> str:
    """A phone as WhatsApp numbers it: digits, the Indonesian local 0812… as 62812…."""
    digits = "".join(ch for ch in text if ch.isdigit())
    return "62" + digits[1:] if digits.startswith("0") else digits


def phone_like(q: str) -> str:
    """A LIKE pattern for a phone as staff type it (`0812 3456`, `+62 812-3456`)."""
    text = q.strip()
    if text and all(ch.isdigit() or ch in " +-()." for ch in text):
        return f"%{phone_digits(text)}%"
    return f"%{text}%"


class AttendeeError(ValueError):
    """A bad row of an attendee list: its row number (1 = first data row) and field."""

    def __init__(self, row: int, field_name: str, problem: str) -> None:
        super().__init__(f"row {row}: {field_name}: {problem}")
        self.row = row
        self.field = field_name
        self.problem = problem


def clean_attendee(raw: Mapping[str, Any], row: int) -> dict[str, str | None]:
    """Validate one attendee (name, phone, email; other keys are ignored); a name or a phone."""
    values = {k: (str(raw.get(k) or "").strip() or None) for k in ("name", "phone", "email")}
    if values["name"] and len(values["name"]) > 200:
        raise AttendeeError(row, "name", "is longer than 200 characters")
    if values["phone"]:
        digits = phone_digits(values["phone"])
        if not 8 <= len(digits) <= 15:
            raise AttendeeError(row, "phone", f"{values['phone']!r} is not a phone number (e.g. 6281234567890)")
        values["phone"] = digits
    if values["email"] and not _EMAIL.match(values["email"]):
        raise AttendeeError(row, "email", f"{values['email']!r} is not an email address")
    if not values["name"] and not values["phone"]:
        raise AttendeeError(row, "name", "give a name or a phone")
    return values


def import_attendees(db: Database, event: Event, rows: Iterable[Mapping[str, Any]], now: datetime) -> list[CodeRow]:
    """One code per attendee; all or nothing (raises AttendeeError naming the first bad row)."""
    _needs_codes(event)
    people = [clean_attendee(raw, index) for index, raw in enumerate(rows, start=1)]
    if not people:
        raise AttendeeError(1, "(file)", "has no attendees")
    if len(people) > MAX_GENERATE:
        raise AttendeeError(MAX_GENERATE + 1, "(file)", f"more than {MAX_GENERATE} attendees in one import")
    with db.atomic():
        return _insert_codes(db, event, people, now, max_uses=event.max_uses)


def find_code(db: Database, event: Event, text: str) -> CodeRow:
    """An event's code as typed (any case, with or without hyphen). Raises NotFoundError."""
    row = db.conn.execute(f"SELECT {', '.join(CODE_COLUMNS)} FROM event_codes WHERE code = ? AND event_id = ?",
                          (compact_of(text), event.id)).fetchone()
    if row is None:
        raise NotFoundError(f"{text!r} is not a code of {event.slug}")
    return _code_from_row(row)


def event_of_code(db: Database, text: str) -> Event:
    """The event a code belongs to (codes are unique across events). Raises NotFoundError."""
    row = db.conn.execute("SELECT event_id FROM event_codes WHERE code = ?", (compact_of(text),)).fetchone()
    if row is None:
        raise NotFoundError(f"{text!r} is not a code of any event")
    return get_event(db, int(row[0]))


def list_codes(db: Database, event: Event, *, q: str | None = None, limit: int | None = None,
               offset: int = 0) -> list[dict[str, Any]]:
    """An event's codes with their use, in issue order; `q` searches name, phone and code."""
    sql = (f"SELECT {', '.join('ec.' + c for c in CODE_COLUMNS)}, "
           "(SELECT COUNT(*) FROM checkins c WHERE c.code_id = ec.id AND c.undone_at IS NULL), "
           "(SELECT MAX(c.id) FROM checkins c WHERE c.code_id = ec.id AND c.undone_at IS NULL), "
           "(SELECT MAX(c.at) FROM checkins c WHERE c.code_id = ec.id AND c.undone_at IS NULL) "
           "FROM event_codes ec WHERE ec.event_id = ?")
    params: list[Any] = [event.id]
    if q and q.strip():
        like = f"%{q.strip()}%"
        sql += " AND (ec.name LIKE ? OR ec.phone LIKE ? OR ec.email LIKE ? OR ec.code LIKE ?)"
        params.extend([like, phone_like(q), like, f"%{compact_of(q)}%"])
    sql += " ORDER BY ec.id"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params.extend([limit, offset])
    out = []
    for row in db.conn.execute(sql, params):
        code = _code_from_row(row[:len(CODE_COLUMNS)])
        used, last_id, last_at = row[len(CODE_COLUMNS):]
        out.append({"id": code.id, "code": code.display, "name": code.name, "phone": code.phone,
                    "email": code.email, "max_uses": code.max_uses, "used": used,
                    "last_checkin_id": last_id, "last_checkin_at": last_at})
    return out
