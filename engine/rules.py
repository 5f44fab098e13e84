"""A rule is data: parse it from a TOML/JSON table, validate everything, dump it back.

`parse_rules` refuses a whole document when any rule is wrong, listing every problem
with its path (`rules[2].conditions[0].value`) and the rule's name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from engine.actions import Action, parse_action
from engine.conditions import AllOf, parse_conditions
from engine.errors import RuleError, RuleSetError
from engine.limits import MAX_PRIORITY, check_rule_count, check_rule_limits
from engine.operators import CompileEnv
from engine.regexes import RegexBank

TRIGGERS: dict[str, str] = {
    "message.received": "Incoming Message",
    "lead.created": "New Lead",
    "lead.status_changed": "Status Change",
}
MESSAGE_TRIGGER = "message.received"
SENDERS: dict[str, str] = {"customer": "Customer", "team": "Team/CS", "all": "All"}
RULE_KEYS = ("id", "name", "enabled", "priority", "trigger", "sender", "conditions", "actions",
             "stop_processing", "description")


@dataclass(frozen=True, slots=True)
class Rule:
    """IF trigger AND conditions THEN actions."""

    name: str
    trigger: str
    conditions: AllOf
    actions: tuple[Action, ...]
    sender: str = "customer"
    priority: int = 100
    enabled: bool = True
    stop_processing: bool = False
    description: str = ""
    id: int = 0  # assigned by the store; creation order breaks priority ties

    def with_id(self, rule_id: int) -> Rule:
        """Return the same rule with its store id."""
        return replace(self, id=rule_id)

    def to_dict(self, *, with_id: bool = False) -> dict[str, Any]:
        """Return the rule-file form (DESIGN.md's TOML shape)."""
        out: dict[str, Any] = {}
        if with_id:
            out["id"] = self.id
        out.update(name=self.name, enabled=self.enabled, priority=self.priority, trigger=self.trigger)
        if self.trigger == MESSAGE_TRIGGER:
            out["sender"] = self.sender
        if self.description:
            out["description"] = self.description
        out["stop_processing"] = self.stop_processing
        out["conditions"] = [c.to_dict() for c in self.conditions.children]
        out["actions"] = [a.to_dict() for a in self.actions]
        return out


def default_env(statuses: Sequence[str], endpoints: frozenset[str] | None = None) -> CompileEnv:
    """A validation environment for the workspace's statuses and webhook endpoints."""
    return CompileEnv(RegexBank(), tuple(statuses), endpoints)


def parse_rule(raw: object, path: str, env: CompileEnv) -> Rule:
    """Parse and validate one rule table; raise `RuleError` with the path on the first problem."""
    if not isinstance(raw, Mapping):
        raise RuleError(path, "must be a table/object")
    name = raw.get("name")
    rule_name = name.strip() if isinstance(name, str) and name.strip() else None
    try:
        check_rule_limits(raw, path)  # before anything below recurses or scans
        return _parse_rule(raw, path, env, rule_name)
    except RuleError as exc:
        if exc.rule_name is None and rule_name:
            raise exc.named(rule_name) from None
        raise


def _parse_rule(raw: Mapping[str, Any], path: str, env: CompileEnv, name: str | None) -> Rule:
    unknown = sorted(set(raw) - set(RULE_KEYS))
    if unknown:
        raise RuleError(f"{path}.{unknown[0]}", "is not a rule key (known: %(known)s)",
                        known=", ".join(RULE_KEYS))
    if name is None:
        raise RuleError(f"{path}.name", "is required")
    if len(name) > 200:
        raise RuleError(f"{path}.name", "is longer than 200 characters")
    trigger = raw.get("trigger", MESSAGE_TRIGGER)
    if not isinstance(trigger, str) or trigger not in TRIGGERS:  # a list is not hashable: no KeyError-like 500
        raise RuleError(f"{path}.trigger", "unknown trigger %(value)s; known: %(known)s", value=repr(trigger),
                        known=", ".join(TRIGGERS))
    sender = raw.get("sender", "customer")
    if not isinstance(sender, str) or sender not in SENDERS:
        raise RuleError(f"{path}.sender", "%(value)s is not one of: %(known)s", value=repr(sender),
                        known=", ".join(SENDERS))
    if trigger != MESSAGE_TRIGGER and "sender" in raw and sender != "all":
        raise RuleError(f"{path}.sender", "applies to message.received rules only, not %(trigger)s",
                        trigger=trigger)
    priority = raw.get("priority", 100)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise RuleError(f"{path}.priority", "must be a whole number (lower runs first)")
    if abs(priority) > MAX_PRIORITY:
        raise RuleError(f"{path}.priority", "must be between -%(most)s and %(most)s (lower runs first)",
                        most=f"{MAX_PRIORITY:,}")
    flags: dict[str, bool] = {}
    for key, default in (("enabled", True), ("stop_processing", False)):
        value = raw.get(key, default)
        if not isinstance(value, bool):
            raise RuleError(f"{path}.{key}", "must be true or false")
        flags[key] = value
    description = raw.get("description", "") or ""
    if not isinstance(description, str):
        raise RuleError(f"{path}.description", "must be a text")
    conditions = parse_conditions(raw.get("conditions", []), f"{path}.conditions", env, trigger)
    raw_actions = raw.get("actions")
    if not isinstance(raw_actions, list | tuple) or not raw_actions:
        raise RuleError(f"{path}.actions", "needs at least one action")
    actions = tuple(parse_action(a, f"{path}.actions[{i}]", env) for i, a in enumerate(raw_actions))
    rule_id = raw.get("id", 0)
    if isinstance(rule_id, bool) or not isinstance(rule_id, int) or rule_id < 0:
        raise RuleError(f"{path}.id", "must be a positive whole number")
    return Rule(
        name=name,
        trigger=trigger,
        sender=sender if trigger == MESSAGE_TRIGGER else "all",
        conditions=conditions,
        actions=actions,
        priority=priority,
        enabled=flags["enabled"],
        stop_processing=flags["stop_processing"],
        description=description,
        id=rule_id,
    )


def parse_rules(document: object, env: CompileEnv) -> list[Rule]:
    """Parse `{"rules": [...]}` (or a bare list); refuse the whole document on any error."""
    if isinstance(document, Mapping):
        extra = sorted(set(document) - {"rules"})
        if extra:
            raise RuleSetError([RuleError(extra[0], "is not expected at the top level (only [[rules]])")])
        items = document.get("rules", [])
    else:
        items = document
    if not isinstance(items, list | tuple):
        raise RuleSetError([RuleError("rules", "must be a list of rule tables ([[rules]])")])
    try:
        check_rule_count(len(items))
    except RuleError as exc:
        raise RuleSetError([exc]) from None
    rules: list[Rule] = []
    errors: list[RuleError] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        path = f"rules[{index}]"
        try:
            rule = parse_rule(item, path, env)
        except RuleError as exc:
            errors.append(exc)
            continue
        key = rule.name.casefold()
        if key in seen:
            errors.append(RuleError(f"{path}.name", "duplicates rules[%(index)s].name", rule.name, index=seen[key]))
            continue
        seen[key] = index
        rules.append(rule)
    if errors:
        raise RuleSetError(errors)
    return rules
