"""`matches`: RE2, case-insensitive, search semantics; refused patterns; linear time."""

from __future__ import annotations

import pytest

from engine.errors import RuleSetError
from engine.evaluate import process_message
from tests.engine.engine_factories import (
    NOW,
    TZ,
    fires,
    leaf,
    make_lead,
    make_message,
    make_ruleset,
    parse,
    rule,
)


@pytest.mark.parametrize(("pattern", "text", "expected"), [
    (r"payment\s+received", "PAYMENT   RECEIVED", True),  # case-insensitive
    (r"order", "mau reorder dong", True),  # search, not full match
    (r"^order$", "mau order", False),  # anchors still mean what they say
    (r"^order", "Order 3 pcs", True),
    (r"(?i)sudah\s+(transfer|bayar)", "Kak, SUDAH  bayar ya", True),
    (r"K-[0-9A-Z]{4}", "kode [k-ab12]", True),
    (r"rp\s*[0-9]+", "Total Rp 1500000", True),
    (r"\d{3,}", "ukuran 39", False),
])
def test_matches_semantics(pattern: str, text: str, expected: bool) -> None:
    assert fires(leaf("message.text", "matches", pattern), message=make_message(text=text)) \
        is expected


def test_matches_sees_raw_text_not_normalised() -> None:
    # Regexes are not whitespace-normalised: two spaces stay two spaces.
    message = make_message(text="a  b")
    assert fires(leaf("message.text", "matches", "a  b"), message=message)
    assert not fires(leaf("message.text", "matches", "^a b$"), message=message)


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=x)", r"x(?!y)", r"(?<=a)b", "(unclosed", "",
                                     "a" * 2001, 5])
def test_pattern_refused_at_parse(pattern: object) -> None:
    with pytest.raises(RuleSetError) as info:
        parse([rule(conditions=[leaf("message.text", "matches", pattern)])])
    (error,) = info.value.errors
    assert error.path == "rules[0].conditions[0].value"
    assert error.rule_name == "R"


def test_refused_pattern_in_nested_condition_has_full_path() -> None:
    conditions = [
        leaf("message.text", "contains", "x"),
        {"any": [leaf("lead.notes", "contains", "y"),
                 {"not": leaf("message.text", "matches", r"(a)\1")}]},
    ]
    with pytest.raises(RuleSetError) as info:
        parse([rule(conditions=conditions)])
    assert info.value.errors[0].path == "rules[0].conditions[1].any[1].not.value"


def test_pathological_pattern_runs_in_linear_time() -> None:
    # (a+)+$ backtracks exponentially in Python's re; RE2 answers at once.
    ruleset = make_ruleset([rule("evil", sender="all",
                                 conditions=[leaf("message.text", "matches", "(a+)+$")])])
    text = "a" * 5000 + "!"
    for _ in range(50):
        outcome = process_message(ruleset, make_lead(), make_message(text=text), now=NOW, tz=TZ)
        assert outcome.fired == 0
    hit = process_message(ruleset, make_lead(), make_message(text="a" * 5000), now=NOW, tz=TZ)
    assert hit.fired == 1


def test_many_rules_sharing_patterns_on_different_fields() -> None:
    ruleset = make_ruleset([
        rule("text-order", sender="all", conditions=[leaf("message.text", "matches", "order")]),
        rule("name-order", sender="all",
             conditions=[leaf("message.sender_name", "matches", "order")]),
        rule("text-order-2", sender="all",
             conditions=[leaf("message.text", "matches", "order"),
                         leaf("message.text", "matches", "^saya")]),
        rule("notes-vip", sender="all", conditions=[leaf("lead.notes", "matches", "v.p")]),
        rule("text-not-vip", sender="all",
             conditions=[{"not": leaf("message.text", "matches", "v.p")}]),
    ])
    message = make_message(text="Saya mau ORDER", sender_name="Budi")
    lead = make_lead(notes="customer VIP")
    outcome = process_message(ruleset, lead, message, now=NOW, tz=TZ)
    assert {r.rule_name for r in outcome.runs if r.fired} == {
        "text-order", "text-order-2", "notes-vip", "text-not-vip"}

    message = make_message(text="vip order", sender_name="Reorder Shop")
    outcome = process_message(ruleset, make_lead(), message, now=NOW, tz=TZ)
    assert {r.rule_name for r in outcome.runs if r.fired} == {"text-order", "name-order"}


def test_same_pattern_on_lead_field_sees_each_pass_snapshot() -> None:
    # lead.notes changes between passes (set_field in the message pass); the status_changed
    # pass must see the new notes, not a cached regex result.
    ruleset = make_ruleset([
        rule("note", sender="all", conditions=[leaf("message.text", "contains", "vip")],
             actions=[{"type": "set_field", "field": "notes", "value": "VIP customer"},
                      {"type": "set_status", "status": "hot"}]),
        rule("vip-notes", trigger="lead.status_changed",
             conditions=[leaf("lead.notes", "matches", "^vip")],
             actions=[{"type": "add_tag", "tag": "vip"}]),
    ])
    outcome = process_message(ruleset, make_lead(notes="regular"), make_message(text="vip"),
                              now=NOW, tz=TZ)
    assert outcome.lead.status == "hot"
    assert "vip" in outcome.lead.tags
