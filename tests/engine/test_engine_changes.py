"""Changes by people (issue #13): checked values, applied edits, and the rules they fire
with `change.by` (the person's own pass) and `rule` (the chain their rules cause)."""

from __future__ import annotations

import pytest

from engine.changes import ChangeError, LeadEdit, apply_edit, new_lead_from_edit, parse_edit
from engine.evaluate import process_change
from engine.model import DEFAULT_STATUSES
from tests.engine.engine_factories import NOW, TZ, leaf, make_lead, make_ruleset, rule


def set_status(status: str) -> dict[str, str]:
    return {"type": "set_status", "status": status}


def tag(name: str) -> dict[str, str]:
    return {"type": "add_tag", "tag": name}


def _edit(**raw: object) -> LeadEdit:
    return parse_edit(raw, DEFAULT_STATUSES)


def test_values_are_checked_and_name_their_field() -> None:
    edit = _edit(status="Hot", priority="URGENT", score="80", value_actual="Rp 1.500.000", city=" Jakarta ",
                 notes="", tags="vip; repeat")
    assert dict(edit.values) == {"status": "hot", "priority": "urgent", "score": 80.0, "value_actual": 1_500_000.0,
                                 "city": "Jakarta", "notes": None, "tags": frozenset({"vip", "repeat"})}
    for field, value in (("status", "famous"), ("priority", "soon"), ("score", "lots"),
                         ("value_actual", -5), ("colour", "red"), ("name", "x" * 500), ("tags", 7)):
        with pytest.raises(ChangeError) as caught:
            _edit(**{field: value})
        assert caught.value.field == field


def test_apply_edit_changes_only_what_differs() -> None:
    lead = make_lead(status="new", tags=frozenset({"a"}))
    assert apply_edit(lead, _edit(status="new"), NOW) is lead  # the same status again: nothing
    changed = apply_edit(lead, parse_edit({"add_tags": ["b"], "remove_tags": ["a"], "notes": "call"},
                                          DEFAULT_STATUSES), NOW)
    assert changed.tags == frozenset({"b"}) and changed.notes == "call" and changed.updated_at == NOW
    created = new_lead_from_edit("6281234567890", _edit(name="Sari"), NOW, DEFAULT_STATUSES)
    assert created.status == "new" and created.jid == "6281234567890@s.whatsapp.net" and created.name == "Sari"


def _purchase_rules() -> list[object]:
    return [
        rule("Person moved it", trigger="lead.status_changed",
             conditions=[leaf("change.by", "equal", "dashboard"), leaf("status.to", "equal", "purchase")],
             actions=[tag("by-person"), set_status("won")]),
        rule("Rule moved it", trigger="lead.status_changed",
             conditions=[leaf("change.by", "equal", "rule"), leaf("status.to", "equal", "won")],
             actions=[tag("by-rule")]),
    ]


def test_change_by_dashboard_fires_on_the_persons_change_and_rule_on_the_chain() -> None:
    ruleset = make_ruleset(_purchase_rules())
    before = make_lead(status="hot")
    after = apply_edit(before, _edit(status="purchase"), NOW)
    outcome = process_change(ruleset, before, after, changed_by="dashboard", now=NOW, tz=TZ)
    assert outcome.lead.status == "won" and outcome.lead.tags == frozenset({"by-person", "by-rule"})
    assert outcome.status_changes == (("hot", "purchase"), ("purchase", "won"))
    # The same status change by the API: the dashboard-only rule does not fire.
    outcome = process_change(ruleset, before, after, changed_by="api", now=NOW, tz=TZ)
    assert outcome.lead.status == "purchase" and not outcome.fired


def test_a_rules_status_change_is_not_a_dashboard_change() -> None:
    from engine.evaluate import process_message
    from tests.engine.engine_factories import make_message

    ruleset = make_ruleset([rule("hot", actions=[set_status("purchase")]), *_purchase_rules()])
    outcome = process_message(ruleset, make_lead(status="hot"), make_message(text="bayar"), now=NOW, tz=TZ)
    assert outcome.lead.status == "purchase" and "by-person" not in outcome.lead.tags


def test_created_by_hand_fires_lead_created_unless_rules_are_off() -> None:
    ruleset = make_ruleset([rule("welcome", trigger="lead.created",
                                 conditions=[leaf("change.by", "equal", "import")], actions=[tag("imported")])])
    lead = new_lead_from_edit("6281234567890", _edit(), NOW, DEFAULT_STATUSES)
    outcome = process_change(ruleset, None, lead, changed_by="import", now=NOW, tz=TZ)
    assert outcome.created and outcome.lead.tags == frozenset({"imported"})
    quiet = process_change(ruleset, None, lead, changed_by="import", now=NOW, tz=TZ, rules=False)
    assert quiet.created and not quiet.runs and quiet.lead is lead
    # A change that is not a status change fires nothing.
    noted = apply_edit(lead, _edit(notes="x"), NOW)
    assert not process_change(ruleset, lead, noted, changed_by="dashboard", now=NOW, tz=TZ).runs
