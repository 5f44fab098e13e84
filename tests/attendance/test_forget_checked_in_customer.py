"""Deleting a lead ("forget this customer", issue #13) erases everything that names the
customer, not only the lead and its messages: user ids known to be theirs, the click their
message upgraded, attribution records, check-in attempts, the name and phone on a check-in.
The event's attendance still counts the check-in, the delivery log still lists what was
delivered (without the customer); a later message starts afresh."""

from __future__ import annotations

import json

from engine.attendance import display, make_code
from store.events import import_attendees
from store.lead_events import LeadChange, submit_change
from store.leads import get_lead
from tests.attendance.conftest import GUEST, Door


def _rows_naming(door: Door, needle: str) -> list[tuple[str, str]]:
    """(table, column) of every text cell in the database that contains `needle`."""
    conn = door.db.conn
    found = []
    tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                "AND name NOT LIKE 'sqlite_%'")]
    for table in tables:
        for column in [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]:
            hits = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE CAST({column} AS TEXT) LIKE ?",
                                (f"%{needle}%",)).fetchone()[0]
            if hits:
                found.append((table, column))
    return found


def test_a_deleted_customer_is_named_nowhere_and_their_check_in_still_counts(door: Door) -> None:
    event = door.event()
    code = door.codes(event, "Sari")[0]
    # A second ticket the organiser issued to the same customer, by phone and email.
    (ticket,) = import_attendees(door.db, event, [{"name": "Sari Wulandari", "phone": GUEST,
                                                   "email": "sari@example.com"}], door.now)
    door.send(f"CHECKIN {display(make_code(event.prefix, 'ZZZZZ'))}")  # unknown: an attempt with the phone
    door.send(f"CHECKIN {code.display}")
    assert [row[3] for row in door.checkins(event)] == [GUEST]
    conn = door.db.conn
    # What other flows record about the same customer (each tested where it is made):
    conn.execute("INSERT INTO lead_aliases (alias, phone, created_at) VALUES ('US.77', ?, ?)",
                 (GUEST, door.now.isoformat()))
    conn.execute("INSERT INTO visitors (code, workspace, rotator, number, state, landed_at, expires_at, "
                 "lead_phone, inbox_id, upgraded_at) "
                 "VALUES ('K-ABCD', 'Toko', 'promo', '6281100000001', 'upgraded', ?, ?, ?, 1, ?)",
                 (door.now.isoformat(), door.now.isoformat(), GUEST, door.now.isoformat()))
    conn.execute("INSERT INTO attribution_log (at, code, outcome, inbox_id, lead_phone, detail) "
                 "VALUES (?, 'K-ABCD', 'upgraded', 1, ?, 'set source')", (door.now.isoformat(), GUEST))
    conn.execute("INSERT INTO history_chats (session, chat) VALUES ('6281100000001', ?)", (f"{GUEST}@s.whatsapp.net",))
    # The check-in replies went out (the receiver echoed the phone back), and so did an ad
    # conversion, whose key names the phone; one reply is still waiting.
    delivered = conn.execute("UPDATE outbox SET state = 'delivered', response_snippet = 'sent to ' || lead_phone "
                             "WHERE lead_phone = ?", (GUEST,)).rowcount
    assert delivered >= 1
    conn.execute("INSERT INTO outbox (kind, idempotency_key, state, lead_phone, payload, target, next_attempt_at, "
                 "created_at, updated_at) VALUES ('conversion', ?, 'delivered', ?, ?, 'conversions', ?, ?, ?)",
                 (f"conversion:{GUEST}:Purchase", GUEST,
                  f'{{"event_name": "Purchase", "event_id": "conv_1", "body": {{"ph": "{GUEST}"}}}}',
                  door.now.isoformat(), door.now.isoformat(), door.now.isoformat()))
    conn.execute("INSERT INTO outbox (kind, idempotency_key, lead_phone, payload, target, next_attempt_at, "
                 "created_at, updated_at) VALUES ('reply', 'reply:waiting', ?, ?, 'reply:6281100000001', ?, ?, ?)",
                 (GUEST, f'{{"to": "{GUEST}", "text": "halo"}}', door.now.isoformat(), door.now.isoformat(),
                  door.now.isoformat()))
    conn.commit()
    assert {table for table, _ in _rows_naming(door, GUEST)} >= {
        "leads", "inbox", "checkins", "checkin_attempts", "lead_aliases", "visitors", "attribution_log",
        "outbox", "history_chats", "event_codes"}

    submit_change(door.db, LeadChange("delete", "api", GUEST), door.now)
    stats = door.processor.run()
    assert not stats.errors

    assert _rows_naming(door, GUEST) == []
    assert _rows_naming(door, "US.77") == []
    assert _rows_naming(door, "sari@example.com") == [] and _rows_naming(door, "Wulandari") == []
    # The ticket issued to them is still a ticket, whose holder is no longer named.
    assert conn.execute("SELECT code, name, phone FROM event_codes WHERE id = ?", (ticket.id,)).fetchone() == (
        ticket.code, None, None)
    # The event still counts one check-in (the code stays used); the click stays a click.
    assert len(door.checkins(event)) == 1
    assert conn.execute("SELECT name, phone FROM checkins").fetchall() == [(None, None)]
    assert conn.execute("SELECT state, lead_phone FROM visitors").fetchall() == [("upgraded", None)]
    # What was delivered stays in the delivery log, saying where it went and not to whom;
    # what was still waiting is not sent to a forgotten customer.
    kept = conn.execute("SELECT kind, state, payload FROM outbox ORDER BY id").fetchall()
    assert len(kept) == delivered + 1 and {state for _, state, _ in kept} == {"delivered"}
    assert [json.loads(payload) for kind, _, payload in kept if kind == "conversion"] == [
        {"event_name": "Purchase", "event_id": "conv_1", "forgotten": True}]

    # A later message starts a fresh lead, which may check in to the open event again.
    door.send("halo lagi")
    lead = get_lead(door.db, GUEST)
    assert lead is not None and lead.chat_count == 1
