"""The documented rule limits: exactly at a limit is accepted, one past it is refused by path."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import RuleError, RuleSetError
from engine.limits import (
    MAX_ACTIONS,
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_KEYWORDS,
    MAX_PRIORITY,
    MAX_RULE_BYTES,
    MAX_RULES,
    MAX_SCORE_STEP,
)
from engine.rules import default_env, parse_rule, parse_rules
from engine.ruleset import RuleSet

ENV = default_env(("new", "responded", "hot", "purchase"))
ACTION = [{"type": "add_tag", "tag": "x"}]
LEAF = {"field": "message.text", "op": "contains", "value": "halo"}


def nested(depth: int, group: str = "any") -> dict[str, Any]:
    node: dict[str, Any] = dict(LEAF)
    for _ in range(depth):
        node = {"not": node} if group == "not" else {group: [node]}
    return {"name": "r", "conditions": [node], "actions": ACTION}


@pytest.mark.parametrize("group", ["any", "all", "not"])
def test_groups_nest_up_to_the_limit(group: str) -> None:
    rule = parse_rule(nested(MAX_DEPTH, group), "rule", ENV)
    RuleSet([rule.with_id(1)], ENV.statuses)  # compiles
    with pytest.raises(RuleError) as refused:
        parse_rule(nested(MAX_DEPTH + 1, group), "rule", ENV)
    assert refused.value.path.startswith("rule.conditions[0]") and f"{MAX_DEPTH} levels" in refused.value.message


def test_a_900_level_rule_is_refused_without_recursing() -> None:
    with pytest.raises(RuleError, match="nest more than"):
        parse_rule(nested(900), "rule", ENV)


def test_keywords_per_condition() -> None:
    words = [f"k{i}" for i in range(MAX_KEYWORDS)]
    parse_rule({"name": "r", "conditions": [{**LEAF, "value": words}], "actions": ACTION}, "rule", ENV)
    for value in (words + ["one more"], ",".join(words + ["one more"]), ",".join(f"k{i}" for i in range(30_000))):
        with pytest.raises(RuleError) as refused:
            parse_rule({"name": "r", "conditions": [{**LEAF, "value": value}], "actions": ACTION}, "rule", ENV)
        assert refused.value.path == "rule.conditions[0].value"


def test_conditions_actions_and_bytes_per_rule() -> None:
    parse_rule({"name": "r", "conditions": [LEAF] * MAX_CONDITIONS, "actions": ACTION}, "rule", ENV)
    with pytest.raises(RuleError, match=f"more than {MAX_CONDITIONS} conditions"):
        parse_rule({"name": "r", "conditions": [LEAF] * (MAX_CONDITIONS + 1), "actions": ACTION}, "rule", ENV)
    with pytest.raises(RuleError, match=f"at most {MAX_ACTIONS}"):
        parse_rule({"name": "r", "actions": ACTION * (MAX_ACTIONS + 1)}, "rule", ENV)
    big = {"name": "r", "description": "x" * MAX_RULE_BYTES, "actions": ACTION}
    with pytest.raises(RuleError, match="bytes as JSON"):
        parse_rule(big, "rule", ENV)


@pytest.mark.parametrize(("rule", "path"), [
    ({"name": "r", "priority": MAX_PRIORITY + 1, "actions": ACTION}, "rule.priority"),
    ({"name": "r", "priority": -(2**70), "actions": ACTION}, "rule.priority"),
    ({"name": "r", "actions": [{"type": "adjust_score", "by": MAX_SCORE_STEP + 1}]}, "rule.actions[0].by"),
    ({"name": "r", "actions": [{"type": "adjust_score", "by": -(2**70)}]}, "rule.actions[0].by"),
])
def test_whole_numbers_a_rule_stores_stay_in_range(rule: dict[str, Any], path: str) -> None:
    """A priority or a score step past SQLite's INTEGER (2^63) would fail the save with a 500, or
    every message's lead write at run time: refused on save instead, naming the limit."""
    with pytest.raises(RuleError, match="must be between -") as refused:
        parse_rule(rule, "rule", ENV)
    assert refused.value.path == path
    edge = {**rule, "priority": MAX_PRIORITY} if "priority" in rule else {
        **rule, "actions": [{"type": "adjust_score", "by": -MAX_SCORE_STEP}]}
    parse_rule(edge, "rule", ENV)


def test_rules_per_file() -> None:
    with pytest.raises(RuleSetError, match=f"at most {MAX_RULES:,}"):
        parse_rules([{"name": f"r{i}", "actions": ACTION} for i in range(MAX_RULES + 1)], ENV)
