"""Small factories for engine tests: messages, leads, rule sets (no I/O, fixed clock).

Test modules import it as `tests.engine.engine_factories` (the project runs pytest with
`--import-mode=importlib` and `pythonpath = ["."]`); conftest.py re-exports the factories.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.model import DEFAULT_STATUSES, Lead, Message
from engine.rules import Rule, default_env, parse_rule, parse_rules

TZ = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 10:00 in Jakarta
CUSTOMER = "6281234567890@s.whatsapp.net"
ADMIN = "6281100000001"
ADMIN_JID = f"{ADMIN}@s.whatsapp.net"

_counter = iter(range(1, 10**9))


def make_message(**overrides: Any) -> Message:
    """A customer text message in a 1:1 chat; `from_me=True` makes it a Team/CS message."""
    from_me = overrides.get("from_me", False)
    values: dict[str, Any] = {
        "id": f"MSG{next(_counter):06d}",
        "session": ADMIN,
        "chat": CUSTOMER,
        "sender": ADMIN_JID if from_me else CUSTOMER,
        "timestamp": NOW,
        "text": "halo",
        "sender_name": None if from_me else "Sari",
    }
    values.update(overrides)
    return Message(**values)


def make_lead(**overrides: Any) -> Lead:
    """An existing lead of CUSTOMER in status `new`."""
    values: dict[str, Any] = {
        "phone": CUSTOMER.split("@")[0],
        "jid": CUSTOMER,
        "status": "new",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(overrides)
    return Lead(**values)


def parse(rule_dicts: Sequence[dict[str, Any]], statuses: Sequence[str] = DEFAULT_STATUSES,
          endpoints: frozenset[str] | None = None) -> list[Rule]:
    """Parse rule dicts as one document and give them ids 1..n (creation order).

    Every rule parsed here is also checked to survive export: parse(to_dict(r)) == r.
    """
    env = default_env(statuses, endpoints)
    rules = parse_rules({"rules": list(rule_dicts)}, env)
    numbered = [rule.with_id(index) for index, rule in enumerate(rules, start=1)]
    for parsed in numbered:
        again = parse_rule(parsed.to_dict(with_id=True), "rules[0]", env)
        assert again == parsed, f"round trip changed {parsed.name!r}: {again!r}"
    return numbered


def make_ruleset(rule_dicts: Sequence[dict[str, Any]],
                 statuses: Sequence[str] = DEFAULT_STATUSES,
                 endpoints: frozenset[str] | None = None):
    """A compiled RuleSet of the given rule dicts (ids 1..n)."""
    from engine.ruleset import RuleSet

    return RuleSet(parse(rule_dicts, statuses, endpoints), statuses, endpoints)


def rule(name: str = "R", *, conditions: Any = (), actions: Any = None, **extra: Any) -> dict:
    """A rule dict with defaults: message.received, customer, tag action."""
    out: dict[str, Any] = {"name": name, "conditions": list(conditions)}
    out["actions"] = list(actions) if actions is not None else [{"type": "add_tag", "tag": name}]
    out.update(extra)
    return out


def leaf(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


def fires(conditions: Any, *, message: Message | None = None, lead: Lead | None = None,
          trigger: str = "message.received", status_from: str | None = None,
          statuses: Sequence[str] = DEFAULT_STATUSES) -> bool:
    """Whether one rule with these conditions fires on the event (sender: all).

    message.received: `message` on `lead` (an existing lead; default make_lead()).
    lead.status_changed: `lead` (already in the new status) changed from `status_from`.
    """
    from engine.evaluate import process_lead_event, process_message

    if isinstance(conditions, dict):
        conditions = [conditions]
    extra: dict[str, Any] = {"trigger": trigger}
    if trigger == "message.received":
        extra["sender"] = "all"
    ruleset = make_ruleset([rule("probe", conditions=conditions,
                                 actions=[{"type": "add_tag", "tag": "probe-hit"}], **extra)],
                           statuses)
    lead = lead if lead is not None else make_lead(status=statuses[0])
    if trigger == "message.received":
        outcome = process_message(ruleset, lead, message or make_message(), now=NOW, tz=TZ)
    else:
        outcome = process_lead_event(ruleset, lead, trigger, now=NOW, tz=TZ,
                                     status_from=status_from)
    errors = [r.error for r in outcome.runs if r.error]
    assert not errors, errors
    return "probe-hit" in outcome.lead.tags
