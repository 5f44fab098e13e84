"""explain_message: for every rule, fired or not and why, with the values conditions saw."""

from __future__ import annotations

from engine.conditions import ConditionTrace
from engine.evaluate import RuleExplanation, explain_message, process_message
from tests.engine.engine_factories import NOW, TZ, leaf, make_lead, make_message, make_ruleset, rule


def explain(rules: list[dict], lead=None, message=None) -> dict[str, RuleExplanation]:
    ruleset = make_ruleset(rules)
    message = message or make_message()
    outcome, explanations = explain_message(ruleset, lead, message, now=NOW, tz=TZ)
    # The dry run's outcome is the real outcome.
    assert outcome == process_message(ruleset, lead, message, now=NOW, tz=TZ)
    by_name: dict[str, RuleExplanation] = {}
    for item in explanations:
        by_name.setdefault(item.rule_name, item)
    return by_name


def leaves(trace: ConditionTrace) -> list[ConditionTrace]:
    if trace.kind == "leaf":
        return [trace]
    return [leaf for child in trace.children for leaf in leaves(child)]


def test_every_rule_is_explained() -> None:
    rules = [
        rule("fires", priority=1, conditions=[leaf("message.text", "contains", "order")],
             actions=[{"type": "set_status", "status": "responded"}]),
        rule("disabled", enabled=False),
        rule("team-only", sender="team"),
        rule("fails", conditions=[leaf("lead.city", "equal", "jakarta")]),
        rule("created", trigger="lead.created"),
        rule("changed", trigger="lead.status_changed",
             conditions=[leaf("status.to", "equal", "hot")]),
    ]
    result = explain(rules, make_lead(city="Bandung"), make_message(text="mau order"))
    assert set(result) == {r["name"] for r in rules}

    assert result["fires"].fired and result["fires"].reason == "conditions passed"
    assert result["fires"].notes == ("set_status: new -> responded",)
    assert not result["disabled"].fired and result["disabled"].reason == "disabled"
    assert not result["team-only"].fired and "sender" in result["team-only"].reason
    assert not result["created"].fired and "already exists" in result["created"].reason

    fails = result["fails"]
    assert not fails.fired and fails.reason == "a condition failed"
    assert fails.conditions is not None
    (city,) = leaves(fails.conditions)
    assert (city.path, city.field, city.label, city.op, city.expected, city.seen, city.passed) \
        == ("conditions[0]", "lead.city", "Lead City", "equal", "jakarta", "Bandung", False)

    # The status changed to responded, so the status_changed pass ran; its rule failed there.
    changed = result["changed"]
    assert not changed.fired and changed.trigger == "lead.status_changed"
    (to,) = leaves(changed.conditions)
    assert to.seen == "responded" and not to.passed


def test_failing_condition_shows_each_leaf_in_nested_tree() -> None:
    conditions = [
        leaf("chat.count", "gt", 2),
        {"any": [leaf("message.text", "matches", "^order"), {"not": leaf("lead.score", "lt", 5)}]},
    ]
    result = explain([rule("r", conditions=conditions)], make_lead(chat_count=4, score=1),
                     make_message(text="Order 2 pcs"))
    trace = result["r"].conditions
    assert trace is not None and trace.passed and result["r"].fired
    shown = {t.path: (t.seen, t.passed) for t in leaves(trace)}
    assert shown == {
        "conditions[0]": (5, True),  # chat count includes this message
        "conditions[1].any[0]": ("Order 2 pcs", True),
        "conditions[1].any[1].not": (1, True),
    }
    assert trace.to_dict()["children"][1]["kind"] == "any"


def test_explains_missing_value() -> None:
    result = explain([rule("r", conditions=[leaf("lead.city", "contains", "jak")])],
                     make_lead(city=None))
    (city,) = leaves(result["r"].conditions)
    assert city.seen is None and city.passed is False


def test_blocked_by_stop_processing_names_the_rule() -> None:
    result = explain([
        rule("Stopper", priority=1, stop_processing=True),
        rule("blocked", priority=2, conditions=[leaf("message.text", "contains", "halo")]),
    ])
    assert result["Stopper"].fired
    blocked = result["blocked"]
    assert not blocked.fired
    assert "Stopper" in blocked.reason and "stop_processing" in blocked.reason
    # It would have passed: the trace still shows the conditions.
    assert blocked.conditions is not None and blocked.conditions.passed


def test_explains_time_window_in_workspace_time() -> None:
    result = explain([rule("r", conditions=[leaf("time.local", "between", "12:00-13:00")])])
    (window,) = leaves(result["r"].conditions)
    assert window.seen.startswith("2026-11-23T10:00:00+07:00")
    assert not window.passed


def test_explain_on_first_message_shows_created_pass() -> None:
    result = explain([rule("created", trigger="lead.created"), rule("msg")], None)
    assert result["created"].fired and result["created"].trigger == "lead.created"
    assert result["msg"].fired


def test_explanation_json_form() -> None:
    result = explain([rule("r", conditions=[leaf("message.text", "in_list", ["a", "b"])])])
    data = result["r"].to_dict()
    assert data["rule"] == "r" and data["fired"] is False
    assert data["conditions"]["children"][0]["expected"] == ["a", "b"]
    assert data["conditions"]["children"][0]["seen"] == "halo"


def test_status_changed_rule_without_a_change() -> None:
    result = explain([rule("changed", trigger="lead.status_changed")])
    assert not result["changed"].fired
    assert result["changed"].reason == "no status change happened"


def test_sender_mismatch_reason_for_team_message() -> None:
    result = explain([rule("customers")], make_lead(), make_message(from_me=True))
    assert not result["customers"].fired
    assert result["customers"].reason == "sender is customer, this message is from the team"
