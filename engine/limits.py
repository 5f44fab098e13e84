"""The size limits every rule must fit, checked on its raw form before anything recurses.

A rule reaches the engine from the API, the CLI, a template, AI Suggest or the database.
Parsing, compiling and explaining walk the condition tree recursively, and a keyword list
is compared word by word, so an unbounded rule could exhaust the stack (a RecursionError
at ~500 levels) or hold the event loop for seconds. `check_rule_limits` walks the raw
table iteratively (no recursion, linear time) and refuses, with the path of the offending
element, anything over these documented limits (README "Limits").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.errors import RuleError

MAX_DEPTH = 32  # condition groups (any / all / not) inside one another
MAX_CONDITIONS = 200  # conditions in one rule, groups and leaves together
MAX_KEYWORDS = 500  # keywords (list items or comma-separated words) in one condition value
MAX_ACTIONS = 50  # actions in one rule
MAX_RULE_BYTES = 64 * 1024  # the rule serialised as compact JSON (UTF-8)
MAX_RULES = 1000  # rules in one rules file or one import
# Whole numbers a rule stores: SQLite's INTEGER ends at 2^63 - 1. Both are far past any real use
# (so no rule stored before the limits is refused now), and a score moving by the largest step on
# every message would need nine billion messages to overflow.
MAX_PRIORITY = 1_000_000_000  # a rule's priority, either way of 0
MAX_SCORE_STEP = 1_000_000_000  # what one adjust_score adds or subtracts
# Any other nesting (inside action values, say) stops here: far beyond any real rule.
MAX_RAW_NESTING = 2 * MAX_DEPTH + 16

_GROUPS = ("any", "all", "not")


def describe_limits() -> dict[str, int]:
    """The limits by name, for documentation and error messages."""
    return {"max_depth": MAX_DEPTH, "max_conditions": MAX_CONDITIONS, "max_keywords": MAX_KEYWORDS,
            "max_actions": MAX_ACTIONS, "max_rule_bytes": MAX_RULE_BYTES, "max_rules": MAX_RULES}


def check_rule_limits(raw: Mapping[str, Any], path: str) -> None:
    """Raise `RuleError` naming the first element of `raw` over a limit."""
    conditions = raw.get("conditions")
    if conditions is not None:
        _check_conditions(conditions, f"{path}.conditions")
    actions = raw.get("actions")
    if isinstance(actions, list | tuple) and len(actions) > MAX_ACTIONS:
        raise RuleError(f"{path}.actions", "has %(count)s actions; a rule may have at most %(most)s",
                        count=len(actions), most=MAX_ACTIONS)
    _check_nesting(raw, path)
    size = len(json.dumps(raw, ensure_ascii=False, separators=(",", ":"), default=str).encode())
    if size > MAX_RULE_BYTES:
        raise RuleError(path, "is %(size)s bytes as JSON; a rule may be at most %(most)s bytes",
                        size=f"{size:,}", most=f"{MAX_RULE_BYTES:,}")


def check_rule_count(count: int, path: str = "rules") -> None:
    """Refuse a rules file with more rules than MAX_RULES."""
    if count > MAX_RULES:
        raise RuleError(path, "has %(count)s rules; a rules file may hold at most %(most)s",
                        count=f"{count:,}", most=f"{MAX_RULES:,}")


def _check_nesting(raw: object, path: str) -> None:
    """Any tables/lists nested beyond MAX_RAW_NESTING, found without recursion."""
    stack: list[tuple[object, str, int]] = [(raw, path, 1)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_RAW_NESTING:
            raise RuleError(where, "is nested more than %(most)s levels deep", most=MAX_RAW_NESTING)
        if isinstance(value, Mapping):
            stack.extend((v, f"{where}.{k}", depth + 1) for k, v in value.items())
        elif isinstance(value, list | tuple):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))


def _check_conditions(raw: object, path: str) -> None:
    """Group depth, condition count and keywords per condition, without recursion."""
    top: list[object] = list(raw) if isinstance(raw, list | tuple) else [raw]
    stack: list[tuple[object, str, int]] = [(item, f"{path}[{i}]", 1) for i, item in enumerate(top)]
    count = 0
    while stack:
        node, where, depth = stack.pop()
        count += 1
        if count > MAX_CONDITIONS:
            raise RuleError(path, "has more than %(most)s conditions (groups and tests together)",
                            most=MAX_CONDITIONS)
        if not isinstance(node, Mapping):
            continue  # the parser names the wrong shape
        group = next((k for k in _GROUPS if k in node), None)
        if group is None:
            _check_keywords(node.get("value"), f"{where}.value")
            continue
        if depth > MAX_DEPTH:
            raise RuleError(f"{where}.{group}", "groups (any/all/not) nest more than %(most)s levels deep",
                            most=MAX_DEPTH)
        body = node[group]
        if group == "not":
            stack.append((body, f"{where}.not", depth + 1))
        elif isinstance(body, list | tuple):
            stack.extend((c, f"{where}.{group}[{i}]", depth + 1) for i, c in enumerate(body))


def _check_keywords(value: object, path: str) -> None:
    if isinstance(value, str):
        words = value.count(",") + 1
    elif isinstance(value, list | tuple):
        words = len(value)
    else:
        return
    if words > MAX_KEYWORDS:
        raise RuleError(path, "has %(count)s keywords; a condition may have at most %(most)s",
                        count=f"{words:,}", most=MAX_KEYWORDS)
