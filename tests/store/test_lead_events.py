"""Changes people make are inbox events (issue #13), on real SQLite files: applied in arrival
order with messages, to the lead as it is then; exactly once across a crash; a delete
erases what came before it and nothing that came after."""

from __future__ import annotations

from pathlib import Path

from engine.changes import parse_edit
from engine.evaluate import RuleRunRecord
from engine.model import DEFAULT_STATUSES, parse_message
from store.db import open_db
from store.inbox import count_by_state, ingest
from store.lead_events import LeadChange, rule_origin, stored_result, submit_change
from store.leads import get_lead
from tests.conftest import Clock, message
from tests.store.test_guarantees import processor, seed_rules

PHONE = "6281234567890"


def _change(op: str, **values: object) -> LeadChange:
    return LeadChange(op, "api", PHONE, parse_edit(values, DEFAULT_STATUSES))


def test_a_change_and_a_message_both_apply_in_arrival_order(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock)  # the templates: "Payment received Rp …" → value + purchase
    ingest(db, parse_message(message(id="M1", text="halo")), clock())
    submit_change(db, _change("patch", notes="VIP customer", city="Bandung"), clock())
    ingest(db, parse_message(message(id="M2", from_me=True, sender="6281100000001@s.whatsapp.net",
                                     text="Payment received Rp 1.500.000")), clock())
    submit_change(db, _change("patch", notes="paid by transfer"), clock())
    stats = processor(db, ruleset, clock).run()
    assert stats.processed == 4 and not stats.errors
    lead = get_lead(db, PHONE)
    assert lead is not None
    # Neither lost: the message's rule effects and both changes, the later change last.
    assert (lead.status, lead.value_actual, lead.city, lead.notes) == ("purchase", 1_500_000, "Bandung",
                                                                       "paid by transfer")
    results = list(stats.changes.values())
    assert results[0].lead is not None and results[0].lead.status == "new"  # applied before M2
    assert count_by_state(db) == {"done": 4}


def test_a_change_for_a_lead_a_message_creates_first_is_applied_to_it(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock)
    ingest(db, parse_message(message(id="M1", text="halo")), clock())
    event = submit_change(db, _change("patch", status="hot"), clock())  # the lead does not exist yet
    processor(db, ruleset, clock).run()
    result = stored_result(db, event)
    assert result is not None and result.outcome == "ok" and get_lead(db, PHONE).status == "hot"  # type: ignore[union-attr]


def test_changes_apply_exactly_once_across_a_crash(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "w.db"
    db = open_db(path)
    ruleset = seed_rules(db, clock)
    submit_change(db, _change("create", name="Sari"), clock())
    event = submit_change(db, _change("patch", status="purchase"), clock())
    db.conn.close()  # "killed" after the commits, before processing
    db = open_db(path)
    processor(db, ruleset, clock).run()
    processor(db, ruleset, clock).run()  # a second run finds nothing pending
    assert db.conn.execute("SELECT COUNT(*) FROM lead_changes WHERE inbox_id = ?", (event,)).fetchone()[0] == 1
    assert count_by_state(db) == {"done": 2}


def test_delete_erases_what_came_before_and_keeps_what_came_after(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock)
    ingest(db, parse_message(message(id="M1", text="saya mau order")), clock())
    processor(db, ruleset, clock).run()
    deleted = submit_change(db, LeadChange("delete", "api", PHONE), clock())
    late_patch = submit_change(db, _change("patch", notes="too late"), clock())
    ingest(db, parse_message(message(id="M2", text="halo lagi")), clock())
    stats = processor(db, ruleset, clock).run()
    assert stats.changes[deleted].outcome == "ok"
    assert stats.changes[late_patch].outcome == "not_found"  # the lead was gone when its turn came
    lead = get_lead(db, PHONE)
    assert lead is not None and lead.status == "new" and lead.chat_count == 1 and lead.notes is None
    texts = [row[0] for row in db.conn.execute("SELECT payload FROM inbox WHERE lead_phone = ? AND kind = 'message'",
                                               (PHONE,))]
    assert len(texts) == 1 and "halo lagi" in texts[0]
    assert PHONE not in db.conn.execute("SELECT payload FROM inbox WHERE id = ?", (deleted,)).fetchone()[0]


def test_a_purchase_reached_by_a_person_queues_one_conversion_per_lead(tmp_path: Path, clock: Clock) -> None:
    from engine.ruleset import RuleSet
    from store.outbox import ConversionPolicy, OutboxPolicy

    db = open_db(tmp_path / "w.db")
    work = processor(db, RuleSet([]), clock)
    work.outbox_policy = OutboxPolicy(conversions=ConversionPolicy(on_status="purchase"))
    ingest(db, parse_message(message(id="M1", text="halo", referral={"ctwa_clid": "clid-1", "source_id": "ad-9"})),
           clock())
    for status in ("purchase", "hot", "purchase"):  # a person moves it there twice
        submit_change(db, _change("patch", status=status), clock())
    stats = work.run()
    assert not stats.errors
    rows = db.conn.execute("SELECT kind, lead_phone, idempotency_key FROM outbox").fetchall()
    assert rows == [("conversion", PHONE, f"conversion:{PHONE}:Purchase")]


def test_a_change_rules_made_names_the_rules_that_fired_once_each_in_order() -> None:
    runs = [RuleRunRecord(3, "Tag order", "message.received", True),
            RuleRunRecord(5, "Hot lead", "message.received", False, "condition failed: x"),
            RuleRunRecord(8, "Score", "message.received", True, None, ("adjust_score: score 0 -> 5",)),
            RuleRunRecord(9, "Tag order", "lead.status_changed", True)]  # a second rule of the same name
    assert rule_origin(runs) == "rule:Tag order, Score"
    assert rule_origin(runs[1:2]) == "rule" and rule_origin([]) == "rule"
