"""Actions: set_status, update_value (presets, custom, amounts), set_field, tags, score,
send_webhook, send_reply; their parse-time refusals with paths."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from engine.actions import ACTIONS, REGEX_PRESETS, SendWebhook, parse_action
from engine.actions.base import ActionBase, ActionRun, action
from engine.errors import RuleSetError
from engine.evaluate import Outcome, process_message
from engine.lead_draft import LeadDraft
from engine.model import DEFAULT_STATUSES, Lead
from engine.operators import CompileEnv
from engine.regexes import RegexBank
from tests.engine.engine_factories import (
    NOW,
    TZ,
    make_lead,
    make_message,
    make_ruleset,
    parse,
    rule,
)

SPEC_ACTIONS = {"set_status", "update_value", "set_field", "add_tag", "remove_tag",
                "adjust_score", "send_webhook", "send_reply"}


def test_spec_actions_are_registered() -> None:
    assert SPEC_ACTIONS <= set(ACTIONS)


def test_an_action_entry_is_a_frozen_dataclass_whose_fields_are_its_keys() -> None:
    for name, cls in ACTIONS.items():
        assert cls.type == name and cls.label
        # Its parameters; what it computes for itself (Add Tag's results) is not one.
        assert cls.keys == tuple(f.name for f in dataclasses.fields(cls) if f.init)
        assert cls.__dataclass_params__.frozen
        assert all("__dict__" not in c.__dict__ for c in cls.__mro__)  # slotted all the way up


def test_rule_file_form_leaves_out_defaults() -> None:
    env = CompileEnv(RegexBank(), DEFAULT_STATUSES, None)
    hook = parse_action({"type": "send_webhook", "endpoint": "crm", "event": "rule.fired"}, "a", env)
    assert hook.to_dict() == {"type": "send_webhook", "endpoint": "crm"}
    cleared = parse_action({"type": "set_field", "field": "city", "value": ""}, "a", env)
    assert cleared.to_dict() == {"type": "set_field", "field": "lead.city", "value": None}  # no default: kept
    assert parse_action(cleared.to_dict(), "a", env) == cleared


def test_an_action_name_is_registered_once() -> None:
    before = dict(ACTIONS)
    with pytest.raises(RuntimeError, match="'add_tag' registered twice"):
        @action("add_tag", "Add Tag again")
        class AddTagAgain(ActionBase):
            tag: str
    assert ACTIONS == before


def act(actions: list[dict[str, Any]], *, text: str = "halo", lead: Lead | None = None,
        endpoints: frozenset[str] | None = None, **message: Any) -> Outcome:
    """Run one unconditional rule (sender all) with these actions on one message."""
    ruleset = make_ruleset([rule("act", sender="all", actions=actions)], endpoints=endpoints)
    return process_message(ruleset, lead or make_lead(), make_message(text=text, **message),
                           now=NOW, tz=TZ)


def refused(actions: list[dict[str, Any]], endpoints: frozenset[str] | None = None) -> str:
    with pytest.raises(RuleSetError) as info:
        parse([rule("act", actions=actions)], endpoints=endpoints)
    (error,) = info.value.errors
    return error.path


def notes(outcome: Outcome) -> tuple[str, ...]:
    (record,) = outcome.runs
    return record.notes


# ------------------------------------------------------------------ set_status


def test_set_status() -> None:
    outcome = act([{"type": "set_status", "status": "Hot"}])  # case-insensitive, stored canonical
    assert outcome.lead.status == "hot"


@pytest.mark.parametrize("status", ["closed", "", None, 3])
def test_set_status_refuses_unknown(status: Any) -> None:
    assert refused([{"type": "set_status", "status": status}]) == "rules[0].actions[0].status"


# ------------------------------------------------------------------ update_value

PRESET_CASES = [
    ("rupiah_flexible", "Rp1500000", 1_500_000),
    ("rupiah_flexible", "Rp 1.500.000", 1_500_000),
    ("rupiah_flexible", "transfer 250000 ya", 250_000),
    ("rupiah_dots", "Total bayar Rp 1.500.000", 1_500_000),
    ("rupiah_dots", "rp2.000.000,00", 2_000_000),
    ("rupiah_plain", "Rp1500000", 1_500_000),
    ("rupiah_plain", "sudah RP 750000", 750_000),
    ("total", "Total:1500000", 1_500_000),
    ("total", "Total: 1500000", 1_500_000),
    ("total", "TOTAL 1.250.000.", 1_250_000),
    ("numbers", "1500000", 1_500_000),
    ("numbers", "bayar 99 ribu", 99),
]


def test_preset_table_is_the_spec() -> None:
    assert REGEX_PRESETS == {
        "rupiah_flexible": r"(?:Rp\s*)?([0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+)",
        "rupiah_dots": r"Rp\s*([0-9]{1,3}(?:\.[0-9]{3})+)",
        "rupiah_plain": r"Rp\s*([0-9]+)",
        "total": r"Total\s*:?\s*([0-9.]+)",
        "numbers": r"([0-9]+)",
    }
    assert {p for p, *_ in PRESET_CASES} == set(REGEX_PRESETS)


@pytest.mark.parametrize(("preset", "text", "expected"), PRESET_CASES)
def test_update_value_presets(preset: str, text: str, expected: float) -> None:
    outcome = act([{"type": "update_value", "target": "lead.value_actual", "preset": preset}],
                  text=text)
    assert outcome.lead.value_actual == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Payment received Rp 1.500.000", 1_500_000),
    ("Payment received Rp2.000.000,00", 2_000_000),
    ("Payment received Rp 1,500,000.50", 1_500_000.5),
    ("Payment received Rp 1.500.000. Terima kasih", 1_500_000),
    ("payment received rp 750.000", 750_000),
])
def test_update_value_custom_pattern_amounts(text: str, expected: float) -> None:
    outcome = act([{"type": "update_value", "target": "lead.value_actual",
                    "pattern": r"Rp\s*([0-9.,]+)"}], text=text)
    assert outcome.lead.value_actual == expected


def test_update_value_custom_pattern_total() -> None:
    outcome = act([{"type": "update_value", "target": "lead.value_potential",
                    "preset": "custom", "pattern": r"Total\s*:\s*([0-9]+)"}],
                  text="Total: 1500000")
    assert outcome.lead.value_potential == 1_500_000
    assert outcome.lead.value_actual is None


def test_update_value_uses_first_capture_group_only() -> None:
    outcome = act([{"type": "update_value", "pattern": r"([0-9]+) x Rp([0-9]+)"}],
                  text="3 x Rp500000")
    assert outcome.lead.value_actual == 3


def test_update_value_other_numeric_target() -> None:
    outcome = act([{"type": "update_value", "target": "lead.score", "preset": "numbers"}],
                  text="skor 87")
    assert outcome.lead.score == 87


@pytest.mark.parametrize(("pattern", "text", "why"), [
    (r"Rp\s*([0-9.,]+)", "belum bayar", "no match"),
    (r"Total\s*(\S+)", "Total abc", "not a number"),
    (r"Rp\s*([0-9.,]+)", "Rp ,.,", "not a number"),
    (r"Rp\s*([0-9.,]+)", "Rp 1.50.0", "not a number"),
    (r"Rp\s*([0-9.,]+)|(x)", "x", "matched nothing"),
])
def test_update_value_without_a_number_changes_nothing(pattern: str, text: str, why: str) -> None:
    lead = make_lead(value_actual=10.0)
    outcome = act([{"type": "update_value", "pattern": pattern}], text=text, lead=lead)
    assert outcome.lead.value_actual == 10.0
    (note,) = notes(outcome)
    assert why in note and "unchanged" in note


def test_update_value_note_says_what_was_captured() -> None:
    outcome = act([{"type": "update_value", "preset": "rupiah_dots"}], text="Rp 1.500.000")
    assert notes(outcome) == ("update_value: value_actual = 1500000 from '1.500.000'",)


@pytest.mark.parametrize(("action", "path"), [
    ({"type": "update_value", "pattern": r"Rp\s*[0-9]+"}, "rules[0].actions[0].pattern"),
    ({"type": "update_value", "preset": "rupiah_dots", "pattern": r"([0-9]+)"},
     "rules[0].actions[0].pattern"),
    ({"type": "update_value", "preset": "custom"}, "rules[0].actions[0].pattern"),
    ({"type": "update_value", "preset": "dollars"}, "rules[0].actions[0].preset"),
    ({"type": "update_value", "pattern": r"(a)\1"}, "rules[0].actions[0].pattern"),
    ({"type": "update_value", "pattern": r"(?<=Rp)([0-9]+)"}, "rules[0].actions[0].pattern"),
    ({"type": "update_value", "target": "lead.city", "preset": "numbers"},
     "rules[0].actions[0].target"),
    ({"type": "update_value", "preset": "numbers", "regex": "x"}, "rules[0].actions[0].regex"),
])
def test_update_value_refusals(action: dict[str, Any], path: str) -> None:
    assert refused([action]) == path


def test_update_value_preset_with_its_own_pattern_is_fine() -> None:
    (parsed,) = parse([rule(actions=[{"type": "update_value", "preset": "numbers",
                                      "pattern": REGEX_PRESETS["numbers"]}])])
    assert parsed.actions[0].to_dict() == {"type": "update_value", "target": "lead.value_actual",
                                           "preset": "numbers"}


# ------------------------------------------------------------------ set_field


@pytest.mark.parametrize(("field", "value", "attr", "expected"), [
    ("priority", "urgent", "priority", "urgent"),
    ("lead.source", "website", "source", "website"),
    ("notes", "follow up tomorrow", "notes", "follow up tomorrow"),
    ("lead.city", "Jakarta", "city", "Jakarta"),
    ("utm_campaign", "ramadan-promo", "utm_campaign", "ramadan-promo"),
    ("score", 80, "score", 80),
    ("lead.value_potential", 2500000.5, "value_potential", 2500000.5),
    ("city", "", "city", None),  # empty clears (TOML has no null)
    ("city", None, "city", None),
])
def test_set_field(field: str, value: Any, attr: str, expected: Any) -> None:
    outcome = act([{"type": "set_field", "field": field, "value": value}],
                  lead=make_lead(city="Bogor"))
    assert getattr(outcome.lead, attr) == expected


@pytest.mark.parametrize(("action", "path"), [
    ({"type": "set_field", "field": "favourite_colour", "value": "red"},
     "rules[0].actions[0].field"),
    ({"type": "set_field", "field": "status", "value": "hot"}, "rules[0].actions[0].field"),
    ({"type": "set_field", "field": "chat_count", "value": 3}, "rules[0].actions[0].field"),
    ({"type": "set_field", "field": "score", "value": "high"}, "rules[0].actions[0].value"),
    ({"type": "set_field", "field": "score", "value": True}, "rules[0].actions[0].value"),
    ({"type": "set_field", "field": "city", "value": ["a"]}, "rules[0].actions[0].value"),
    ({"type": "set_field", "field": "city"}, "rules[0].actions[0].value"),
    ({"type": "set_field", "value": "x"}, "rules[0].actions[0].field"),
])
def test_set_field_refusals(action: dict[str, Any], path: str) -> None:
    assert refused([action]) == path


# ------------------------------------------------------------------ tags and score


def test_tags_are_a_set_exported_sorted() -> None:
    outcome = act([
        {"type": "add_tag", "tag": "VIP"},
        {"type": "add_tag", "tag": "vip"},
        {"type": "add_tag", "tag": "  repeat   buyer "},
        {"type": "add_tag", "tag": "ads"},
        {"type": "remove_tag", "tag": "old"},
        {"type": "remove_tag", "tag": "never-there"},
    ], lead=make_lead(tags=frozenset({"old", "ads"})))
    assert outcome.lead.tags == frozenset({"vip", "repeat buyer", "ads"})
    assert outcome.lead.to_dict()["tags"] == ["ads", "repeat buyer", "vip"]


def test_lead_export_nulls_and_numbers() -> None:
    exported = make_lead(value_actual=1500000.0, tags=frozenset({"b", "a"})).to_dict()
    assert exported["city"] is None and exported["value_potential"] is None
    assert exported["value_actual"] == 1500000 and exported["tags"] == ["a", "b"]


def test_add_tag_refuses_empty() -> None:
    assert refused([{"type": "add_tag", "tag": " "}]) == "rules[0].actions[0].tag"


@pytest.mark.parametrize(("start", "by", "expected"), [(0, 10, 10), (10, -25, -15), (5.5, 1, 6.5)])
def test_adjust_score(start: float, by: int, expected: float) -> None:
    outcome = act([{"type": "adjust_score", "by": by}], lead=make_lead(score=start))
    assert outcome.lead.score == expected


def test_adjust_score_twice_in_one_rule_accumulates() -> None:
    outcome = act([{"type": "adjust_score", "by": 10}, {"type": "adjust_score", "by": -3}])
    assert outcome.lead.score == 7


@pytest.mark.parametrize("by", [1.5, "10", True, None])
def test_adjust_score_refuses_non_integers(by: Any) -> None:
    assert refused([{"type": "adjust_score", "by": by}]) == "rules[0].actions[0].by"


# ------------------------------------------------------------------ send_webhook


def test_send_webhook_queues_request() -> None:
    outcome = act([{"type": "send_webhook", "url": "https://crm.example/hook",
                    "secret": "s3cret", "event": "lead.status_changed"}])
    (request,) = outcome.requests
    assert request.kind == "webhook"
    assert request.rule_id == 1 and request.rule_name == "act"
    assert request.payload["url"] == "https://crm.example/hook"
    assert request.payload["event"] == "lead.status_changed"


def test_send_webhook_to_named_endpoint() -> None:
    outcome = act([{"type": "send_webhook", "endpoint": "crm"}], endpoints=frozenset({"crm"}))
    (request,) = outcome.requests
    assert request.kind == "webhook" and request.payload["endpoint"] == "crm"


def test_webhook_secret_not_in_repr() -> None:
    action = SendWebhook("https://x.example", None, "s3cret")
    assert "s3cret" not in repr(action)


@pytest.mark.parametrize(("action", "endpoints", "path"), [
    ({"type": "send_webhook", "url": "ftp://crm.example/hook"}, None,
     "rules[0].actions[0].url"),
    ({"type": "send_webhook", "url": "file:///etc/passwd"}, None, "rules[0].actions[0].url"),
    ({"type": "send_webhook", "url": "https://"}, None, "rules[0].actions[0].url"),
    ({"type": "send_webhook", "url": "crm.example/hook"}, None, "rules[0].actions[0].url"),
    ({"type": "send_webhook", "url": "http://[::1"}, None, "rules[0].actions[0].url"),  # urlsplit raises on it
    ({"type": "send_webhook", "url": "http://crm example/hook"}, None, "rules[0].actions[0].url"),
    ({"type": "send_webhook", "url": "https://crm.example:99999/hook"}, None, "rules[0].actions[0].url"),
    ({"type": "send_webhook", "url": "http://%zz/hook"}, None, "rules[0].actions[0].url"),
    ({"type": "send_webhook"}, None, "rules[0].actions[0]"),
    ({"type": "send_webhook", "url": "https://a.example", "endpoint": "crm"}, None,
     "rules[0].actions[0]"),
    ({"type": "send_webhook", "endpoint": "erp"}, frozenset({"crm"}),
     "rules[0].actions[0].endpoint"),
    ({"type": "send_webhook", "url": "https://a.example", "headers": {}}, None,
     "rules[0].actions[0].headers"),
])
def test_send_webhook_refusals(action: dict[str, Any], endpoints: frozenset[str] | None,
                               path: str) -> None:
    assert refused([action], endpoints) == path


def test_unknown_endpoint_accepted_when_endpoints_not_checked() -> None:
    parse([rule(actions=[{"type": "send_webhook", "endpoint": "later"}])], endpoints=None)


# ------------------------------------------------------------------ send_reply


def test_send_reply_renders_placeholders() -> None:
    outcome = act([{"type": "send_reply", "text": "Halo {name}, status {status}: {text}"}],
                  text="mau order", lead=make_lead(name="Sari", status="hot"))
    (request,) = outcome.requests
    assert request.kind == "reply"
    assert request.payload["text"] == "Halo Sari, status hot: mau order"
    assert request.payload["to"] == make_message().chat
    assert request.payload["session"] == make_message().session


def test_send_reply_sees_earlier_update_value_of_same_rule() -> None:
    outcome = act([
        {"type": "update_value", "target": "lead.value_actual", "preset": "rupiah_dots"},
        {"type": "send_reply", "text": "Terima kasih {customer}, kami terima {value_actual}."},
    ], text="Payment received Rp 1.500.000", lead=make_lead(name="Sari"))
    (request,) = outcome.requests
    assert request.payload["text"] == "Terima kasih Sari, kami terima 1500000."


def test_send_reply_unset_values_render_empty() -> None:
    outcome = act([{"type": "send_reply", "text": "[{city}]"}])
    assert outcome.requests[0].payload["text"] == "[]"


def test_send_reply_literal_braces() -> None:
    outcome = act([{"type": "send_reply", "text": "{{kode}} {name}"}], lead=make_lead(name="A"))
    assert outcome.requests[0].payload["text"] == "{kode} A"


@pytest.mark.parametrize("text", ["Halo {nama}", "{name.upper}", "{name!r}", "{name:>10}",
                                  "unclosed {name", "{}", "", None])
def test_send_reply_refuses_bad_templates(text: Any) -> None:
    assert refused([{"type": "send_reply", "text": text}]) == "rules[0].actions[0].text"


@pytest.mark.parametrize(("allow_group", "queued"), [(None, False), (False, False), (True, True)])
def test_no_reply_into_groups_unless_allowed(allow_group: bool | None, queued: bool) -> None:
    action: dict[str, Any] = {"type": "send_reply", "text": "ok"}
    if allow_group is not None:
        action["allow_group"] = allow_group
    outcome = act([action], is_group=True, chat="120363000000@g.us")
    assert bool(outcome.requests) is queued
    if queued:
        assert outcome.requests[0].payload["to"] == "120363000000@g.us"
    else:
        assert "group" in notes(outcome)[0]


def test_reply_to_team_message_goes_to_the_customer_chat() -> None:
    outcome = act([{"type": "send_reply", "text": "ok"}], from_me=True)
    assert outcome.requests[0].payload["to"] == make_message().chat


# ------------------------------------------------------------------ generic


@pytest.mark.parametrize(("actions", "path"), [
    ([], "rules[0].actions"),
    ([{"type": "launch_rocket"}], "rules[0].actions[0].type"),
    ([{"status": "hot"}], "rules[0].actions[0].type"),
    (["set_status"], "rules[0].actions[0]"),
    ([{"type": "add_tag", "tag": "a"}, {"type": "set_status", "status": "nope"}],
     "rules[0].actions[1].status"),
])
def test_action_list_refusals(actions: Any, path: str) -> None:
    assert refused(actions) == path


def test_actions_of_a_rule_apply_in_order() -> None:
    outcome = act([{"type": "set_status", "status": "hot"},
                   {"type": "set_status", "status": "purchase"},
                   {"type": "send_reply", "text": "{status}"}])
    assert outcome.lead.status == "purchase"
    assert outcome.requests[0].payload["text"] == "purchase"


def test_requests_of_all_fired_rules_queue_in_priority_order() -> None:
    ruleset = make_ruleset([
        rule("second", sender="all", priority=2,
             actions=[{"type": "send_webhook", "url": "https://b.example"},
                      {"type": "send_reply", "text": "two"}]),
        rule("first", sender="all", priority=1,
             actions=[{"type": "send_webhook", "url": "https://a.example"}]),
    ])
    outcome = process_message(ruleset, make_lead(), make_message(), now=NOW, tz=TZ)
    assert [(r.rule_name, r.kind) for r in outcome.requests] == [
        ("first", "webhook"), ("second", "webhook"), ("second", "reply")]
    assert [r.rule_id for r in outcome.requests] == [2, 1, 1]  # ids follow the document


def test_a_webhook_names_the_rule_it_fired_for_when_rules_share_one_action() -> None:
    # Send Webhook keeps its result per rule (a heavy rule set queues one a message): a rule
    # must never get another's request.
    env = CompileEnv(RegexBank(), DEFAULT_STATUSES, None)
    hook = parse_action({"type": "send_webhook", "url": "https://crm.example.com/h", "secret": "s3"}, "a", env)
    draft = LeadDraft(make_lead())
    results = [hook.apply(draft, ActionRun(None, rule_id, name, NOW))
               for rule_id, name in [(1, "First"), (2, "Second"), (1, "First"), (1, "Renamed")]]
    assert [(r.requests[0].rule_id, r.requests[0].rule_name) for r in results] == [
        (1, "First"), (2, "Second"), (1, "First"), (1, "Renamed")]
    assert all(r.requests[0].payload == {"url": "https://crm.example.com/h", "endpoint": None,
                                         "event": "rule.fired", "secret": "s3"} for r in results)
    assert [r.note for r in results] == ["webhook rule.fired queued"] * 4
    assert not draft.changed


def test_add_and_remove_tag_say_what_they_did_each_time() -> None:
    # Their results are built once per action and returned again: they must still fit the change.
    env = CompileEnv(RegexBank(), DEFAULT_STATUSES, None)
    add = parse_action({"type": "add_tag", "tag": " VIP  Gold "}, "a", env)
    remove = parse_action({"type": "remove_tag", "tag": "vip gold"}, "a", env)
    assert add.to_dict() == {"type": "add_tag", "tag": "vip gold"} and add == parse_action(add.to_dict(), "a", env)
    draft = LeadDraft(make_lead())
    run = ActionRun(None, 1, "r", NOW)
    notes = [add.apply(draft, run).note, add.apply(draft, run).note, remove.apply(draft, run).note,
             remove.apply(draft, run).note, add.apply(draft, run).note]
    assert notes == ["+vip gold", "already tagged vip gold", "-vip gold", "no tag vip gold to remove", "+vip gold"]
    assert draft.tags == frozenset({"vip gold"})


def test_adjust_score_says_what_it_did_from_each_score() -> None:
    # Its results from whole scores are built once per starting score and returned again.
    env = CompileEnv(RegexBank(), DEFAULT_STATUSES, None)
    plus = parse_action({"type": "adjust_score", "by": 5}, "a", env)
    minus = parse_action({"type": "adjust_score", "by": -5}, "a", env)
    assert plus.to_dict() == {"type": "adjust_score", "by": 5} and plus == parse_action(plus.to_dict(), "a", env)
    draft = LeadDraft(make_lead())
    run = ActionRun(None, 1, "r", NOW)
    notes = [plus.apply(draft, run).note, plus.apply(draft, run).note, minus.apply(draft, run).note,
             plus.apply(draft, run).note, minus.apply(draft, run).note, minus.apply(draft, run).note]
    assert notes == ["score 0 -> 5", "score 5 -> 10", "score 10 -> 5", "score 5 -> 10", "score 10 -> 5",
                     "score 5 -> 0"]
    assert draft.score == 0
    draft.set("score", 2.5)  # a score set by hand need not be whole: formatted each time
    assert [plus.apply(draft, run).note, plus.apply(draft, run).note] == ["score 2.5 -> 7.5", "score 7.5 -> 12.5"]
