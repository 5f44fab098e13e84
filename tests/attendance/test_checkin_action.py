"""The `check_in` action and the two shipped templates, in the pure engine."""

from __future__ import annotations

from typing import Any

import pytest

from engine.actions import ACTIONS
from engine.attendance import display, make_code
from engine.errors import RuleError
from engine.evaluate import process_message
from engine.model import DEFAULT_STATUSES
from engine.rules import default_env, parse_rule
from engine.ruleset import RuleSet
from engine.templates import TEMPLATES
from tests.engine.engine_factories import NOW, TZ, make_message

CODE = display(make_code("EVT7", "K3Q9T"))


def ruleset(*rules: dict[str, Any]) -> RuleSet:
    env = default_env(DEFAULT_STATUSES)
    return RuleSet([parse_rule(r, f"rules[{i}]", env).with_id(i + 1) for i, r in enumerate(rules)])


def requests(rules: RuleSet, text: str, **message: Any) -> list[dict[str, Any]]:
    outcome = process_message(rules, None, make_message(text=text, **message), now=NOW, tz=TZ)
    return [dict(r.payload) for r in outcome.requests if r.kind == "check_in"]


def test_registered_with_its_label() -> None:
    assert ACTIONS["check_in"].label == "Event Check-in"


@pytest.mark.parametrize(("slug", "title"), [("event-check-in", "Event Check-in"),
                                             ("voucher-redemption", "Voucher Redemption")])
def test_templates_ship(slug: str, title: str) -> None:
    template = TEMPLATES[slug]
    assert template.title == title == template.rule["name"]
    assert template.rule["actions"] == [{"type": "check_in", "event": "*"}]


@pytest.mark.parametrize(("text", "fires"), [
    (f"CHECKIN {CODE}", True), (f"check-in {CODE}", True), (f"Check in {CODE} ya", True),
    (f"halo, mau checkin {CODE}", True), ("I'm checking the price", False), ("checkout", False),
])
def test_event_template_listens_for_the_keyword(text: str, fires: bool) -> None:
    assert bool(requests(ruleset(TEMPLATES["event-check-in"].rule), text)) is fires


@pytest.mark.parametrize(("text", "fires"), [
    (f"REDEEM {CODE}", True), (f"tukar voucher {CODE}", True), (f"redeemed {CODE}", False)])
def test_voucher_template_listens_for_the_keyword(text: str, fires: bool) -> None:
    assert bool(requests(ruleset(TEMPLATES["voucher-redemption"].rule), text)) is fires


def test_the_request_carries_the_codes_not_a_decision() -> None:
    (payload,) = requests(ruleset(TEMPLATES["event-check-in"].rule), f"checkin {CODE.lower()}")
    assert payload == {"event": "*", "codes": [CODE.replace("-", "")], "near": [], "overflow": False,
                       "reply": True}


def test_groups_team_phone_and_no_code_queue_nothing() -> None:
    everyone = {**TEMPLATES["event-check-in"].rule, "sender": "all"}
    rules = ruleset(everyone)
    assert requests(rules, f"CHECKIN {CODE}", is_group=True, chat="120363000000000000@g.us") == []
    assert requests(rules, f"CHECKIN {CODE}", from_me=True) == []
    assert requests(rules, "CHECKIN") == []
    outcome = process_message(rules, None, make_message(text=f"CHECKIN {CODE}", from_me=True), now=NOW, tz=TZ)
    assert any("team's own phone" in note for run in outcome.runs for note in run.notes)


@pytest.mark.parametrize(("action", "path"), [
    ({"type": "check_in"}, "rules[0].actions[0].event"),
    ({"type": "check_in", "event": ""}, "rules[0].actions[0].event"),
    ({"type": "check_in", "event": "grand opening"}, "rules[0].actions[0].event"),
    ({"type": "check_in", "event": "x", "reply": "no"}, "rules[0].actions[0].reply"),
    ({"type": "check_in", "event": "x", "tag": "vip"}, "rules[0].actions[0].tag"),
])
def test_bad_parameters_are_named(action: dict[str, Any], path: str) -> None:
    rule = {"name": "r", "actions": [action]}
    with pytest.raises(RuleError) as info:
        parse_rule(rule, "rules[0]", default_env(DEFAULT_STATUSES))
    assert info.value.path == path


def test_round_trip() -> None:
    env = default_env(DEFAULT_STATUSES)
    rule = parse_rule({"name": "r", "actions": [{"type": "check_in", "event": "Launch", "reply": False}]},
                      "rules[0]", env)
    assert rule.to_dict()["actions"] == [{"type": "check_in", "event": "launch", "reply": False}]
    assert parse_rule(rule.to_dict(), "rules[0]", env) == rule
