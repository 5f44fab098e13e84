"""Edits and deletions on real SQLite: an edit reaches the rules with its new text (no count,
no first contact); a deletion marks its original deleted and does nothing else."""

from __future__ import annotations

from pathlib import Path

from store.db import open_db
from store.inbox import count_by_state, ingest, messages_of_lead
from store.leads import get_lead
from tests.conftest import Clock, message
from tests.store.test_guarantees import processor, seed_rules

CUSTOMER = "6281234567890"
JID = f"{CUSTOMER}@s.whatsapp.net"
FIRST_CONTACT_RULE = {"name": "Tag first contacts", "trigger": "message.received", "sender": "all",
                      "conditions": [{"field": "message.first_contact", "op": "equal", "value": True}],
                      "actions": [{"type": "add_tag", "tag": "first"}]}
NOT_EDITS_RULE = {"name": "Score only originals", "trigger": "message.received", "sender": "all",
                  "conditions": [{"field": "message.is_edit", "op": "equal", "value": False}],
                  "actions": [{"type": "adjust_score", "by": 1}]}


def ingest_all(db, rows, clock) -> None:  # type: ignore[no-untyped-def]
    from engine.model import parse_message

    for row in rows:
        ingest(db, parse_message(row), clock())


def test_an_edit_is_seen_by_rules_with_its_new_text_and_counts_nothing(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock, [FIRST_CONTACT_RULE, NOT_EDITS_RULE])
    ingest_all(db, [
        message(id="C1", text="halo kak, mau order"),
        message(id="T1", from_me=True, chat=JID, text="Payment received Rp 1.500.000"),
        # CS corrects the amount: the edit carries the new text and the original's id.
        message(id="T1-EDIT", from_me=True, chat=JID, text="Payment received Rp 1.600.000",
                is_edit=True, original_id="T1"),
        message(id="C1-EDIT", text="halo kak, mau order 2", is_edit=True, original_id="C1"),
    ], clock)
    stats = processor(db, ruleset, clock).run()
    assert stats.errors == []
    lead = get_lead(db, CUSTOMER)
    assert lead is not None
    assert lead.value_actual == 1_600_000  # Auto-Closing captured the corrected amount
    assert lead.status == "purchase"
    assert lead.chat_count == 1  # the customer's edit is the same message again
    assert "first" in lead.tags  # tagged once, by the original: the edit is no first contact
    assert lead.score == 2  # C1 and T1 scored; the rule excludes both edits with Is Edited = false


def test_a_deletion_marks_the_original_and_fires_counts_and_creates_nothing(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock, [FIRST_CONTACT_RULE])
    ingest_all(db, [
        message(id="C1", text="sudah transfer ya"),
        message(id="C1-DEL", text="", type="other", is_deletion=True, original_id="C1",
                timestamp="2026-11-20T09:05:00+07:00"),
        # A deletion from someone who never wrote before: no lead appears.
        message(id="X-DEL", chat="6289900000001@s.whatsapp.net", sender="6289900000001@s.whatsapp.net",
                text="", type="other", is_deletion=True, original_id="OLD"),
    ], clock)
    stats = processor(db, ruleset, clock).run()
    assert stats.errors == [] and stats.processed == 3
    lead = get_lead(db, CUSTOMER)
    assert lead is not None and lead.chat_count == 1 and lead.tags == frozenset({"first"})
    assert get_lead(db, "6289900000001") is None
    assert count_by_state(db) == {"done": 3}
    fired = dict(db.conn.execute("SELECT message_id, fired FROM inbox"))
    assert fired["C1-DEL"] == 0 and fired["X-DEL"] == 0
    shown = messages_of_lead(db, CUSTOMER)
    assert [m["id"] for m in shown] == ["C1"]  # the deletion itself is not a message on the page
    assert shown[0]["deleted_at"] == "2026-11-20T09:05:00+07:00"


def test_deletions_survive_the_careful_path(tmp_path: Path, clock: Clock) -> None:
    """A batch redone message by message treats a deletion the same way."""
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock)
    ingest_all(db, [message(id="C1", text="halo"),
                    message(id="C1-DEL", type="other", text="", is_deletion=True, original_id="C1")], clock)
    proc = processor(db, ruleset, clock)
    stats = proc._careful_batch(db.conn.execute("SELECT id, payload FROM inbox ORDER BY id").fetchall(), clock())
    assert stats.errors == [] and stats.processed == 2
    lead = get_lead(db, CUSTOMER)
    assert lead is not None and lead.chat_count == 1


def test_a_history_edit_counts_nothing_either(tmp_path: Path, clock: Clock) -> None:
    """History (a phone's sync, a chat export) stored without rules fills the lead in: its
    chat count counts the customer's messages, and an edit among them is the same message
    again, as it is live."""
    from engine.model import parse_message
    from engine.ruleset import RuleSet

    db = open_db(tmp_path / "w.db")
    work = processor(db, RuleSet([]), clock)
    history = [parse_message(message(id=mid, text=text, history=True, timestamp=stamp, **extra))
               for mid, text, stamp, extra in [
                   ("H1", "halo kak", "2026-10-01T09:00:00+07:00", {}),
                   ("H1-EDIT", "halo kak, mau order", "2026-10-01T09:01:00+07:00",
                    {"is_edit": True, "original_id": "H1"}),
                   ("H2", "sudah transfer", "2026-10-02T10:00:00+07:00", {}),
               ]]
    _, stats = work.ingest_history(history, clock())
    assert stats.errors == [] and stats.processed == 3
    lead = get_lead(db, CUSTOMER)
    assert lead is not None and lead.chat_count == 2 and lead.name == "Sari"
