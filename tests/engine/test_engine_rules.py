"""Rule documents: refusals with paths, every error at once, and parse(to_dict(r)) == r."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import RuleSetError
from engine.model import DEFAULT_STATUSES
from engine.rules import Rule, default_env, parse_rule, parse_rules
from tests.engine.engine_factories import leaf, parse, rule

ENV = default_env(DEFAULT_STATUSES, frozenset({"crm"}))


def errors_of(document: Any) -> list[tuple[str, str | None]]:
    with pytest.raises(RuleSetError) as info:
        parse_rules(document, ENV)
    return [(e.path, e.rule_name) for e in info.value.errors]


def test_defaults() -> None:
    (parsed,) = parse_rules([{"name": "x", "actions": [{"type": "add_tag", "tag": "t"}]}], ENV)
    assert (parsed.trigger, parsed.sender, parsed.priority, parsed.enabled,
            parsed.stop_processing, parsed.id) == ("message.received", "customer", 100, True,
                                                   False, 0)


@pytest.mark.parametrize(("raw", "path"), [
    ({"name": "x", "actions": [{"type": "add_tag", "tag": "t"}], "when": "now"},
     "rules[0].when"),
    ({"actions": [{"type": "add_tag", "tag": "t"}]}, "rules[0].name"),
    ({"name": "  ", "actions": [{"type": "add_tag", "tag": "t"}]}, "rules[0].name"),
    ({"name": 5, "actions": [{"type": "add_tag", "tag": "t"}]}, "rules[0].name"),
    ({"name": "x"}, "rules[0].actions"),
    ({"name": "x", "actions": []}, "rules[0].actions"),
    ({"name": "x", "actions": {"type": "add_tag", "tag": "t"}}, "rules[0].actions"),
    ({"name": "x", "trigger": "message.sent", "actions": [{"type": "add_tag", "tag": "t"}]},
     "rules[0].trigger"),
    ({"name": "x", "sender": "bot", "actions": [{"type": "add_tag", "tag": "t"}]},
     "rules[0].sender"),
    ({"name": "x", "trigger": "lead.created", "sender": "team",
      "actions": [{"type": "add_tag", "tag": "t"}]}, "rules[0].sender"),
    ({"name": "x", "priority": "high", "actions": [{"type": "add_tag", "tag": "t"}]},
     "rules[0].priority"),
    ({"name": "x", "priority": 1.5, "actions": [{"type": "add_tag", "tag": "t"}]},
     "rules[0].priority"),
    ({"name": "x", "enabled": "yes", "actions": [{"type": "add_tag", "tag": "t"}]},
     "rules[0].enabled"),
    ({"name": "x", "stop_processing": 1, "actions": [{"type": "add_tag", "tag": "t"}]},
     "rules[0].stop_processing"),
    ({"name": "x", "id": -1, "actions": [{"type": "add_tag", "tag": "t"}]}, "rules[0].id"),
    ("not a table", "rules[0]"),
])
def test_rule_refusals(raw: Any, path: str) -> None:
    assert [p for p, _ in errors_of([raw])] == [path]


def test_error_names_the_rule() -> None:
    document = {"rules": [rule("Hot lead", conditions=[leaf("lead.status", "equal", "warm")])]}
    with pytest.raises(RuleSetError) as info:
        parse_rules(document, ENV)
    (error,) = info.value.errors
    assert error.rule_name == "Hot lead"
    assert error.path == "rules[0].conditions[0].value"
    assert str(info.value).startswith('rule "Hot lead": rules[0].conditions[0].value: ')
    assert "warm" in error.message


def test_duplicate_names_refused_case_insensitively() -> None:
    document = [rule("Hot"), rule("Other"), rule("hot")]
    assert errors_of(document) == [("rules[2].name", "hot")]


def test_every_error_of_a_document_at_once() -> None:
    document = {"rules": [
        rule("ok-0"),
        rule("bad-1", conditions=[leaf("message.text", "gt", 1)]),
        rule("bad-2", conditions=[leaf("chat.count", "gt", "x")]),
        rule("ok-3"),
        {"name": "bad-4", "actions": [{"type": "set_status", "status": "closed"}]},
        rule("ok-0"),
    ]}
    assert errors_of(document) == [
        ("rules[1].conditions[0].op", "bad-1"),
        ("rules[2].conditions[0].value", "bad-2"),
        ("rules[4].actions[0].status", "bad-4"),
        ("rules[5].name", "ok-0"),
    ]


@pytest.mark.parametrize(("document", "path"), [
    ({"rules": [], "version": 2}, "version"),
    ({"rules": {"name": "x"}}, "rules"),
    ("rules", "rules"),
])
def test_document_shape_refusals(document: Any, path: str) -> None:
    assert [p for p, _ in errors_of(document)] == [path]


def test_empty_document_is_no_rules() -> None:
    assert parse_rules({}, ENV) == []
    assert parse_rules({"rules": []}, ENV) == []


def test_design_toml_example_parses() -> None:
    document = tomllib.loads(r'''
[[rules]]
name = "Identify Hot Lead (Keyword)"
trigger = "message.received"
sender = "customer"
priority = 20
conditions = [
  { field = "message.text", op = "contains", value = "order, buy, booking" },
  { field = "lead.status", op = "equal", value = "responded" },
]
actions = [ { type = "set_status", status = "hot" } ]

[[rules]]
name = "Auto-Closing & Capture Value (Regex)"
trigger = "message.received"
sender = "all"
priority = 30
stop_processing = true
conditions = [
  { any = [
    { field = "message.text", op = "contains", value = "payment received" },
    { field = "message.text", op = "matches", value = "(?i)sudah\\s+(transfer|bayar)" },
  ] },
]
actions = [
  { type = "update_value", target = "lead.value_actual", preset = "rupiah_flexible" },
  { type = "set_status", status = "purchase" },
]
''')
    hot, closing = parse_rules(document, ENV)
    assert (hot.priority, hot.sender) == (20, "customer")
    assert closing.stop_processing and closing.sender == "all"
    assert_round_trip(hot)
    assert_round_trip(closing)


# ------------------------------------------------------------------ round trip


def assert_round_trip(parsed: Rule) -> None:
    raw = parsed.to_dict(with_id=True)
    assert parse_rule(raw, "rules[0]", ENV) == parsed
    # and through JSON, as `rules export --json` would write it
    assert parse_rule(json.loads(json.dumps(raw)), "rules[0]", ENV) == parsed


CORPUS: list[dict[str, Any]] = [
    rule("plain"),
    rule("status", trigger="lead.status_changed", priority=5, stop_processing=True,
         conditions=[leaf("status.from", "in_list", ["new", "responded"]),
                     leaf("status.to", "equal", "hot")],
         actions=[{"type": "send_webhook", "endpoint": "crm", "event": "lead.status_changed"}]),
    rule("created", trigger="lead.created", enabled=False, description="welcome",
         actions=[{"type": "send_reply", "text": "Halo {customer}!", "allow_group": True}]),
    rule("nested", sender="team", conditions=[
        leaf("message.text", "contains", ["payment", "transfer"]),
        {"any": [leaf("chat.count", "gte", "3"), {"not": leaf("lead.city", "in_list", "a, b")}]},
        {"all": [leaf("time.local", "between", "22:00-06:00"),
                 leaf("message.text", "matches", r"Rp\s*\d+")]},
    ], actions=[
        {"type": "update_value", "target": "lead.value_potential", "preset": "total"},
        {"type": "update_value", "pattern": r"Rp\s*([0-9.,]+)"},
        {"type": "set_field", "field": "lead.score", "value": 10},
        {"type": "set_field", "field": "city", "value": "Jakarta"},
        {"type": "set_field", "field": "notes", "value": None},
        {"type": "adjust_score", "by": -5},
        {"type": "remove_tag", "tag": "cold"},
        {"type": "send_webhook", "url": "https://crm.example/h", "secret": "s"},
        {"type": "set_status", "status": "purchase"},
    ]),
]


@pytest.mark.parametrize("raw", CORPUS, ids=[r["name"] for r in CORPUS])
def test_round_trip_corpus(raw: dict[str, Any]) -> None:
    (parsed,) = parse([raw], endpoints=frozenset({"crm"}))
    assert_round_trip(parsed)


_LEAVES = st.sampled_from([
    leaf("message.text", "contains", "order, buy"),
    leaf("message.text", "matches", "(?i)sudah\\s+bayar"),
    leaf("message.text", "in_list", ["ya", "ok"]),
    leaf("message.type", "equal", "image"),
    leaf("message.is_group", "equal", False),
    leaf("message.room_tags", "contains", "vip"),
    leaf("time.local", "between", "09:00-17:00"),
    leaf("chat.count", "gt", 2),
    leaf("chat.count", "in_list", "1, 2"),
    leaf("lead.status", "equal", "new"),
    leaf("lead.status", "not_in_list", ["won", "lost"]),
    leaf("lead.score", "lte", -1.5),
    leaf("lead.city", "not_equal", "Bogor"),
    leaf("lead.tags", "not_contains", "spam"),
    leaf("lead.value_actual", "gte", "1000"),
])
_CONDITIONS: st.SearchStrategy[Any] = st.recursive(
    _LEAVES,
    lambda children: st.one_of(
        st.builds(lambda c: {"any": c}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"all": c}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"not": c}, children),
    ),
    max_leaves=6,
)
_ACTIONS = st.sampled_from([
    {"type": "set_status", "status": "hot"},
    {"type": "update_value", "target": "lead.value_actual", "preset": "rupiah_flexible"},
    {"type": "update_value", "target": "lead.score", "pattern": "skor ([0-9]+)"},
    {"type": "set_field", "field": "priority", "value": "high"},
    {"type": "set_field", "field": "value_potential", "value": 2.5},
    {"type": "add_tag", "tag": "VIP  Gold"},
    {"type": "remove_tag", "tag": "x"},
    {"type": "adjust_score", "by": -3},
    {"type": "send_webhook", "url": "http://h.example/x", "event": "lead.value_updated"},
    {"type": "send_reply", "text": "Hi {name}, total {value_actual}"},
])


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(min_size=1, max_size=20).filter(str.strip),
    priority=st.integers(-1000, 1000),
    sender=st.sampled_from(["customer", "team", "all"]),
    enabled=st.booleans(),
    stop=st.booleans(),
    conditions=st.lists(_CONDITIONS, max_size=4),
    actions=st.lists(_ACTIONS, min_size=1, max_size=4),
    rule_id=st.integers(0, 10**6),
)
def test_round_trip_property(name: str, priority: int, sender: str, enabled: bool, stop: bool,
                             conditions: list[Any], actions: list[Any], rule_id: int) -> None:
    raw = {"id": rule_id, "name": name, "priority": priority, "sender": sender,
           "enabled": enabled, "stop_processing": stop, "conditions": conditions,
           "actions": actions}
    parsed = parse_rule(raw, "rules[0]", ENV)
    assert parsed.name == name.strip() and parsed.id == rule_id
    assert_round_trip(parsed)


@pytest.mark.parametrize(("key", "value"), [("trigger", []), ("trigger", {"a": 1}), ("sender", ["customer"])])
def test_a_trigger_or_sender_of_the_wrong_shape_is_named_not_a_crash(key: str, value: Any) -> None:
    """Found by the contract fuzzer: `[] in TRIGGERS` raised TypeError (a 500 on POST /api/rules/test)."""
    from engine.errors import RuleError

    with pytest.raises(RuleError) as refused:
        parse_rule({"name": "r", key: value, "actions": [{"type": "add_tag", "tag": "x"}]}, "rule",
                   default_env(DEFAULT_STATUSES))
    assert refused.value.path == f"rule.{key}"
