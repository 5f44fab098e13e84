"""Event webhook subscriptions hear about changes people and systems make (issues #13 + #17):
lead.created, lead.updated and lead.status_changed queued in the outbox in the change's own
transaction, with `changed_by` saying who and no message; once per change, however often the
processor runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.changes import parse_edit
from engine.model import DEFAULT_STATUSES
from store.db import open_db
from store.lead_events import LeadChange, submit_change
from store.subscriptions import Subscription
from tests.conftest import Clock
from tests.store.test_guarantees import processor, seed_rules

PHONE = "6281234567890"
LEAD_EVENTS = frozenset({"lead.created", "lead.updated", "lead.status_changed"})
HOT_TO_PURCHASE = {"name": "Hot by hand closes", "trigger": "lead.status_changed", "sender": "all",
                   "conditions": [{"field": "status.to", "op": "equal", "value": "hot"},
                                  {"field": "change.by", "op": "equal", "value": "dashboard"}],
                   "actions": [{"type": "set_status", "status": "purchase"}]}


def _bodies(db: Any) -> list[dict[str, Any]]:
    rows = db.conn.execute("SELECT payload FROM outbox WHERE target = 'subscription:crm' ORDER BY id").fetchall()
    return [json.loads(payload)["body"] for (payload,) in rows]


def _run(db: Any, ruleset: Any, clock: Clock, subscriptions: tuple[Subscription, ...]) -> None:
    runner = processor(db, ruleset, clock)
    runner.subscriptions = subscriptions
    runner.run()


def test_a_person_s_changes_reach_the_subscription_with_who_made_them(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock, [HOT_TO_PURCHASE])
    crm = (Subscription("crm", "https://crm.example.com/hook", LEAD_EVENTS),)
    submit_change(db, LeadChange("create", "api", PHONE, parse_edit({"name": "Sari"}, DEFAULT_STATUSES)), clock())
    submit_change(db, LeadChange("patch", "dashboard", PHONE,
                                 parse_edit({"status": "hot", "city": "Bandung"}, DEFAULT_STATUSES)), clock())
    _run(db, ruleset, clock, crm)
    _run(db, ruleset, clock, crm)  # nothing pending: nothing queued twice
    bodies = _bodies(db)
    assert [b["type"] for b in bodies] == ["lead.created", "lead.updated", "lead.status_changed",
                                           "lead.status_changed"]
    created, updated, by_hand, by_rule = bodies
    assert (created["changed_by"], created["message"], created["number"]) == ("api", None, None)
    assert created["lead"]["name"] == "Sari" and created["lead"]["status"] == "new"
    assert updated["changed_by"] == "dashboard"
    assert updated["changes"]["city"] == [None, "Bandung"]
    assert updated["changes"]["status"] == ["new", "purchase"]  # the person's change and the rule's, together
    assert (by_hand["from"], by_hand["to"]) == ("new", "hot")
    assert (by_rule["from"], by_rule["to"]) == ("hot", "purchase")
    assert by_rule["lead"]["status"] == "purchase"
    assert len({b["id"] for b in bodies}) == 4


def test_each_imported_row_is_an_event_and_unchanged_rows_are_not(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock)
    crm = (Subscription("crm", "https://crm.example.com/hook", LEAD_EVENTS),)
    submit_change(db, LeadChange("create", "api", PHONE, parse_edit({"name": "Sari"}, DEFAULT_STATUSES)), clock())
    _run(db, ruleset, clock, crm)
    rows = ((PHONE, parse_edit({"name": "Sari"}, DEFAULT_STATUSES)),  # unchanged
            ("6281234567891", parse_edit({"name": "Budi", "city": "Depok"}, DEFAULT_STATUSES)))
    submit_change(db, LeadChange("import", "import", rows=rows), clock())
    _run(db, ruleset, clock, crm)
    bodies = _bodies(db)
    assert [(b["type"], b["lead"]["phone"]) for b in bodies] == [("lead.created", PHONE),
                                                                 ("lead.created", "6281234567891")]
    assert bodies[1]["changed_by"] == "import"


def test_numbers_filters_and_no_subscription_queue_nothing(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock)
    only_one_number = (Subscription("crm", "https://crm.example.com/hook", LEAD_EVENTS,
                                    numbers=frozenset({"6281100000001"})),)
    submit_change(db, LeadChange("create", "api", PHONE, parse_edit({}, DEFAULT_STATUSES)), clock())
    _run(db, ruleset, clock, only_one_number)  # a change concerns no admin number
    submit_change(db, LeadChange("patch", "api", PHONE, parse_edit({"status": "hot"}, DEFAULT_STATUSES)), clock())
    _run(db, ruleset, clock, ())
    assert _bodies(db) == []


def test_the_documented_example_has_the_keys_and_types_sent(tmp_path: Path, clock: Clock) -> None:
    text = (Path(__file__).parents[2] / "docs" / "events.md").read_text(encoding="utf-8")
    section = text[text.index("## Changes made by people and systems"):]
    example = json.loads(section[section.index("```json") + 7:section.index("```", section.index("```json") + 7)])
    db = open_db(tmp_path / "w.db")
    ruleset = seed_rules(db, clock)
    crm = (Subscription("crm", "https://crm.example.com/hook", LEAD_EVENTS),)
    submit_change(db, LeadChange("create", "dashboard", PHONE, parse_edit({}, DEFAULT_STATUSES)), clock())
    submit_change(db, LeadChange("patch", "dashboard", PHONE, parse_edit({"status": "hot"}, DEFAULT_STATUSES)),
                  clock())
    _run(db, ruleset, clock, crm)
    sent = next(b for b in _bodies(db) if b["type"] == "lead.status_changed")
    assert sorted(sent) == sorted(example)
    assert {k: type(v) for k, v in sent.items() if k != "lead"} == {k: type(v) for k, v in example.items()
                                                                    if k != "lead"}
    assert sorted(sent["lead"]) == sorted(example["lead"])
