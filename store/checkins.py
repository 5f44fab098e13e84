"""Check-ins: resolving a message's `check_in` requests inside its transaction, manual
check-in and undo for the door staff, and the counts and lists the staff page shows.

Exactly once: the processor calls `resolve_check_ins` in the same transaction that marks
the message done, so a re-delivered message (already done) never gets here twice; the
facts are read inside that transaction, and the UNIQUE keys of `checkins` (a code's use
slot; an open event's phone) refuse a second row even if another process (a manual
check-in from the command line) won a race. A refused insert is decided again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlite_utils import Database

from engine.actions import OutboxRequest
from engine.attendance import (
    INVALID_REPLY_WINDOW,
    INVALID_RESULTS,
    Attempt,
    CodeFacts,
    Decision,
    Event,
    Result,
    Scan,
    compact_of,
    decide,
    display,
    prefix_of,
    usage,
)
from engine.event_spec import local_hhmm, reply_text
from engine.model import Lead, Message
from store.errors import NotFoundError, StoreError, row_id
from store.events import (
    EVENT_COLUMNS,
    event_from_row,
    find_code,
    list_codes,
    phone_digits,
    phone_like,
    utc_stamp,
)
from store.leads import get_lead, upsert_lead

RACE_RETRIES = 3


@dataclass(frozen=True, slots=True)
class Resolved:
    """A message's requests with its check-in requests replaced by at most one reply."""

    requests: tuple[OutboxRequest, ...]
    lead: Lead | None = None  # the lead as stored after a check-in tagged it, else None
    decision: Decision | None = None
    checkin_id: int | None = None  # the check-in recorded, if any


def _placeholders(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)


def _targets(db: Database, refs: Iterable[str], session: str) -> frozenset[int]:
    """Event ids a message's rules accept: explicit slugs/ids, or "*" (every event of the number)."""
    ids: set[int] = set()
    for ref in refs:
        if ref == "*":
            ids.update(i for (i,) in db.conn.execute("SELECT id FROM events WHERE number = ?", (session,)))
        elif ref.isascii() and ref.isdigit():
            ids.update(i for (i,) in db.conn.execute("SELECT id FROM events WHERE id = ?", (row_id(ref),)))
        else:
            ids.update(i for (i,) in db.conn.execute("SELECT id FROM events WHERE slug = ?", (ref,)))
    return frozenset(ids)


def _parse(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp) if stamp else None


def code_facts(db: Database, row: Sequence[Any], event: Event | None, phone: str | None) -> CodeFacts:
    """A code row (id, event_id, code, name, phone, max_uses) plus its uses as of now."""
    code_id, event_id, code, name, code_phone, max_uses = row
    conn = db.conn
    slots = tuple(s for (s,) in conn.execute(
        "SELECT slot FROM checkins WHERE code_id = ? AND slot IS NOT NULL ORDER BY slot", (code_id,)))
    (last,) = conn.execute("SELECT MAX(at) FROM checkins WHERE code_id = ? AND undone_at IS NULL",
                           (code_id,)).fetchone()
    phone_used = None
    if event is not None and event.mode == "open" and phone:
        found = conn.execute("SELECT at FROM checkins WHERE event_id = ? AND phone_key = ?",
                             (event_id, phone)).fetchone()
        phone_used = _parse(found[0]) if found else None
    return CodeFacts(code_id, event_id, code, name, code_phone, max_uses, slots, _parse(last), phone_used)


def _facts(db: Database, found: Scan, targets: frozenset[int], phone: str) -> tuple[dict[int, Event], list[CodeFacts]]:
    prefixes = sorted({prefix_of(c) for c in (*found.codes, *found.near)})
    ids = sorted(targets)
    sql = (f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE id IN ({_placeholders(ids)}) "
           f"OR prefix IN ({_placeholders(prefixes)})")
    events = {e.id: e for e in map(event_from_row, db.conn.execute(sql, [*ids, *prefixes]))}
    ours = [c for c in found.codes if prefix_of(c) in {e.prefix for e in events.values()}]
    rows = db.conn.execute(
        f"SELECT id, event_id, code, name, phone, max_uses FROM event_codes WHERE code IN ({_placeholders(ours)})",
        ours).fetchall() if ours else []
    return events, [code_facts(db, row, events.get(row[1]), phone) for row in rows]


def _recent_invalid(db: Database, phone: str, at: datetime) -> int:
    results = sorted(r.value for r in INVALID_RESULTS)
    (count,) = db.conn.execute(
        f"SELECT COUNT(*) FROM checkin_attempts WHERE phone = ? AND at >= ? AND result IN ({_placeholders(results)})",
        (phone, utc_stamp(at - INVALID_REPLY_WINDOW), *results)).fetchone()
    return int(count)


def _insert_checkin(db: Database, decision: Decision, *, phone: str | None, name: str | None, at: datetime,
                    now: datetime, source: str, inbox_id: int | None) -> int | None:
    """Insert the check-in; None when a UNIQUE key says someone else took it first."""
    assert decision.event is not None and decision.code is not None
    open_event = decision.event.mode == "open"
    cursor = db.conn.execute(
        "INSERT INTO checkins (event_id, code_id, slot, phone_key, phone, name, at, recorded_at, source, inbox_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (decision.event.id, decision.code.id, None if open_event else decision.slot, phone if open_event else None,
         phone, name, utc_stamp(at), utc_stamp(now), source, inbox_id))
    return int(cursor.lastrowid or 0) if cursor.rowcount else None


def mark_lead(db: Database, phone: str | None, event: Event, now: datetime, inbox_id: int | None) -> Lead | None:
    """Give the attendee's lead the event's tag and status (if it has a lead and they differ)."""
    lead = get_lead(db, phone) if phone else None
    if lead is None or (not event.tag and not event.status):
        return None
    tags = lead.tags | {event.tag} if event.tag else lead.tags
    status = event.status or lead.status
    diff: dict[str, list[Any]] = {}
    if tags != lead.tags:
        diff["tags"] = [sorted(lead.tags), sorted(tags)]
    if status != lead.status:
        diff["status"] = [lead.status, status]
    if not diff:
        return None
    updated = lead.with_changes(tags=tags, status=status, updated_at=now)
    upsert_lead(db, updated)
    # Who: a rule's check-in action on a message, or staff at the door (no message).
    db.conn.execute("INSERT INTO lead_changes (at, lead_phone, inbox_id, changes, changed_by) VALUES (?, ?, ?, ?, ?)",
                    (now.isoformat(), lead.phone, inbox_id, json.dumps(diff, ensure_ascii=False),
                     "rule" if inbox_id is not None else "dashboard"))
    return updated


def resolve_check_ins(db: Database, requests: Sequence[OutboxRequest], *, message: Message, inbox_id: int | None,
                      now: datetime, tz: tzinfo) -> Resolved:
    """Decide and record a message's check-in (call inside the message's transaction).

    All `check_in` requests of one message (several rules may ask) make one attempt: at
    most one check-in and at most one reply, which takes the place of the first request.
    """
    asking = [r for r in requests if r.kind == "check_in"]
    if not asking:
        return Resolved(tuple(requests))
    payload = asking[0].payload
    found = Scan(tuple(payload.get("codes", ())), tuple(payload.get("near", ())), bool(payload.get("overflow")))
    phone = message.lead_phone
    at = min(message.timestamp, now)  # a phone clock ahead of ours must not open an event early
    targets = _targets(db, (str(r.payload.get("event", "*")) for r in asking), message.session)
    lead: Lead | None = None
    checkin_id: int | None = None
    for _ in range(RACE_RETRIES):
        events, codes = _facts(db, found, targets, phone)
        attempt = Attempt(message.session, phone, at, found, targets, _recent_invalid(db, phone, at))
        decision = decide(attempt, events, codes)
        if decision.result is not Result.CHECKED_IN:
            break
        name = (decision.code.name if decision.code else None) or message.sender_name
        checkin_id = _insert_checkin(db, decision, phone=phone, name=name, at=at, now=now, source="whatsapp",
                                     inbox_id=inbox_id)
        if checkin_id is not None:
            assert decision.event is not None
            lead = mark_lead(db, phone, decision.event, now, inbox_id)
            break
    else:
        raise StoreError(f"check-in of inbox row {inbox_id} kept losing races; will be retried")
    replier = next((r for r in asking if r.payload.get("reply", True)), None)
    text = None
    if replier is not None:
        fallback = message.sender_name
        if not fallback and not (decision.code and decision.code.name):
            stored = get_lead(db, phone)  # only when neither the code nor the message has a name
            fallback = stored.name if stored else None
        text = reply_text(decision, tz=tz, at=at, fallback_name=fallback or f"+{phone}")
    if decision.result not in (Result.CHECKED_IN, Result.NO_CODE):
        code = decision.code.code if decision.code else ((found.codes or found.near or ("",))[0] or None)
        db.conn.execute(
            "INSERT INTO checkin_attempts (event_id, at, phone, code, result, inbox_id, replied) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (decision.event.id if decision.event else None, utc_stamp(at), phone, code, decision.result.value,
             inbox_id, int(text is not None)))
    reply: OutboxRequest | None = None
    if replier is not None and text is not None:
        reply = OutboxRequest("reply", replier.rule_id, replier.rule_name,
                              {"session": message.session, "to": message.chat, "text": text,
                               "in_reply_to": message.id})
    out: list[OutboxRequest] = []
    for request in requests:
        if request.kind != "check_in":
            out.append(request)
        elif reply is not None:
            out.append(reply)
            reply = None
    return Resolved(tuple(out), lead, decision, checkin_id)


@dataclass(frozen=True, slots=True)
class ManualResult:
    """What a manual check-in did: checked in (with the row), or already used (and when).

    `code` names what was checked: the code, or `+phone` in an open event.
    """

    result: Result
    checkin: dict[str, Any] | None
    previous_at: datetime | None
    code: str


def manual_check_in(db: Database, event: Event, *, code: str | None = None, phone: str | None = None,
                    name: str | None = None, now: datetime) -> ManualResult:
    """Check someone in by hand (their phone died): by code, or by phone in an open event.

    The event window is not enforced (the staff decide); the one-check-in rule is.
    Raises NotFoundError for an unknown code, ValueError naming a missing input.
    """
    digits = phone_digits(phone or "") or None
    with db.atomic():
        if event.mode == "open":
            if not digits:
                raise ValueError("phone: an open event checks people in by phone number")
            row = db.conn.execute("SELECT id, event_id, code, name, phone, max_uses FROM event_codes "
                                  "WHERE event_id = ? ORDER BY id LIMIT 1", (event.id,)).fetchone()
            if row is None:
                raise NotFoundError(f"{event.slug} has no shared code")
        else:
            if not code or not code.strip():
                raise ValueError("code: give the attendee's code")
            found = find_code(db, event, code)
            row = (found.id, found.event_id, found.code, found.name, found.phone, found.max_uses)
        for _ in range(RACE_RETRIES):
            facts = code_facts(db, row, event, digits)
            result, slot, previous = usage(event, facts, now)
            label = f"+{digits}" if event.mode == "open" else display(facts.code)
            if result is not Result.CHECKED_IN:
                return ManualResult(result, None, previous, label)
            decision = Decision(result, event, facts, slot)
            who = digits or facts.phone
            checkin_id = _insert_checkin(db, decision, phone=who, name=name or facts.name, at=now, now=now,
                                         source="manual", inbox_id=None)
            if checkin_id is not None:
                mark_lead(db, who, event, now, None)
                return ManualResult(result, get_checkin(db, event, checkin_id), None, label)
    raise StoreError("the manual check-in kept losing races; try again")


CHECKIN_SELECT = ("SELECT c.id, c.at, c.source, c.phone, COALESCE(c.name, ec.name), ec.code, c.undone_at, c.slot "
                  "FROM checkins c JOIN event_codes ec ON ec.id = c.code_id")


def _checkin_dict(row: Sequence[Any]) -> dict[str, Any]:
    checkin_id, at, source, phone, name, code, undone_at, slot = row
    return {"id": checkin_id, "at": at, "source": source, "phone": phone, "name": name, "code": display(code),
            "use": slot, "undone_at": undone_at}


def get_checkin(db: Database, event: Event, checkin_id: int) -> dict[str, Any]:
    """One check-in of the event. Raises NotFoundError."""
    row = db.conn.execute(f"{CHECKIN_SELECT} WHERE c.id = ? AND c.event_id = ?", (checkin_id, event.id)).fetchone()
    if row is None:
        raise NotFoundError(f"no check-in {checkin_id} in {event.slug}")
    return _checkin_dict(row)


def undo_check_in(db: Database, event: Event, checkin_id: int, now: datetime) -> dict[str, Any]:
    """Undo a check-in (the code or phone can check in again); the event's tag leaves the lead
    unless another check-in of that phone still carries it. Raises NotFoundError, ValueError."""
    with db.atomic():
        checkin = get_checkin(db, event, checkin_id)
        if checkin["undone_at"]:
            raise ValueError(f"checkin: {checkin_id} was already undone")
        db.conn.execute("UPDATE checkins SET undone_at = ?, slot = NULL, phone_key = NULL WHERE id = ?",
                        (utc_stamp(now), checkin_id))
        phone = checkin["phone"]
        lead = get_lead(db, phone) if phone else None
        if lead is not None and event.tag and event.tag in lead.tags:
            still = db.conn.execute(
                "SELECT 1 FROM checkins c JOIN events e ON e.id = c.event_id WHERE c.phone = ? "
                "AND c.undone_at IS NULL AND e.tag = ? LIMIT 1", (phone, event.tag)).fetchone()
            if still is None:
                upsert_lead(db, lead.with_changes(tags=lead.tags - {event.tag}, updated_at=now))
                db.conn.execute(
                    "INSERT INTO lead_changes (at, lead_phone, inbox_id, changes, changed_by) "
                    "VALUES (?, ?, NULL, ?, 'dashboard')",
                    (now.isoformat(), phone, json.dumps({"tags": [sorted(lead.tags),
                                                                  sorted(lead.tags - {event.tag})]})))
        return get_checkin(db, event, checkin_id)


def latest_checkins(db: Database, event: Event, *, limit: int = 20, q: str | None = None) -> list[dict[str, Any]]:
    """The newest check-ins first (undone ones included, marked); `q` filters name/phone/code."""
    sql = f"{CHECKIN_SELECT} WHERE c.event_id = ?"
    params: list[Any] = [event.id]
    if q and q.strip():
        like = f"%{q.strip()}%"
        sql += " AND (c.phone LIKE ? OR c.name LIKE ? OR ec.name LIKE ? OR ec.code LIKE ?)"
        params.extend([phone_like(q), like, like, f"%{compact_of(q)}%"])
    sql += " ORDER BY c.id DESC LIMIT ?"
    params.append(limit)
    return [_checkin_dict(row) for row in db.conn.execute(sql, params)]


def event_counts(db: Database, event: Event) -> dict[str, Any]:
    """Expected, checked in, duplicates, invalid attempts (and invalid ones by reason)."""
    conn = db.conn
    (codes,) = conn.execute("SELECT COUNT(*) FROM event_codes WHERE event_id = ?", (event.id,)).fetchone()
    (checked,) = conn.execute("SELECT COUNT(*) FROM checkins WHERE event_id = ? AND undone_at IS NULL",
                              (event.id,)).fetchone()
    by_result = dict(conn.execute("SELECT result, COUNT(*) FROM checkin_attempts WHERE event_id = ? "
                                  "GROUP BY result", (event.id,)).fetchall())
    duplicates = int(by_result.pop(Result.ALREADY_USED.value, 0))
    return {"expected": event.capacity if event.mode == "open" else codes, "checked_in": checked,
            "duplicates": duplicates, "invalid": sum(by_result.values()), "invalid_by_reason": by_result}


def export_rows(db: Database, event: Event, tz: tzinfo) -> list[dict[str, Any]]:
    """The event as CSV rows: one per code (ticket, voucher) or per check-in (open events)."""
    def local(stamp: str | None) -> str:
        moment = _parse(stamp)
        return f"{moment.astimezone(tz).date().isoformat()} {local_hhmm(moment, tz)}" if moment else ""

    if event.mode == "open":
        return [{"checkin_id": c["id"], "name": c["name"] or "", "phone": c["phone"] or "",
                 "checked_in_at": local(c["at"]), "source": c["source"],
                 "undone_at": local(c["undone_at"])} for c in latest_checkins(db, event, limit=10**9)][::-1]
    rows = []
    for code in list_codes(db, event):
        first = db.conn.execute("SELECT MIN(at) FROM checkins WHERE code_id = ? AND undone_at IS NULL",
                                (code["id"],)).fetchone()[0]
        rows.append({"code": code["code"], "name": code["name"] or "", "phone": code["phone"] or "",
                     "email": code["email"] or "", "uses": code["used"], "max_uses": code["max_uses"] or "",
                     "first_checked_in_at": local(first), "last_checked_in_at": local(code["last_checkin_at"])})
    return rows

