"""The seed page's three recipes, shipped as templates, behave as the page describes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.evaluate import Outcome, process_message
from engine.model import Lead
from engine.rules import default_env, parse_rule
from engine.ruleset import RuleSet
from engine.templates import TEMPLATES
from tests.engine.engine_factories import NOW, TZ, make_message

SEED_SLUGS = {
    "mark-active-lead": "Mark Active Lead (CTWA)",
    "identify-hot-lead": "Identify Hot Lead (Keyword)",
    "auto-closing": "Auto-Closing & Capture Value (Regex)",
}
STATUSES = ("new", "responded", "hot", "purchase", "won", "lost")


def template_ruleset(*slugs: str) -> RuleSet:
    env = default_env(STATUSES)
    rules = [parse_rule(TEMPLATES[slug].rule, f"rules[{i}]", env).with_id(i + 1)
             for i, slug in enumerate(slugs)]
    return RuleSet(rules, STATUSES)


@pytest.mark.parametrize(("slug", "title"), sorted(SEED_SLUGS.items()))
def test_seed_templates_exist(slug: str, title: str) -> None:
    template = TEMPLATES[slug]
    assert template.title == title
    assert template.rule["name"] == title


@pytest.mark.parametrize("slug", sorted(TEMPLATES))
def test_every_template_parses_and_round_trips(slug: str) -> None:
    env = default_env(STATUSES)
    parsed = parse_rule(TEMPLATES[slug].rule, "rules[0]", env)
    assert parse_rule(parsed.to_dict(), "rules[0]", env) == parsed


def test_templates_say_what_the_seed_page_says() -> None:
    mark = TEMPLATES["mark-active-lead"].rule
    assert mark["trigger"] == "message.received"
    assert mark["conditions"] == [{"field": "chat.count", "op": "gt", "value": 2},
                                  {"field": "lead.status", "op": "equal", "value": "new"}]
    assert mark["actions"] == [{"type": "set_status", "status": "responded"}]

    hot = TEMPLATES["identify-hot-lead"].rule
    assert hot["conditions"] == [
        {"field": "message.text", "op": "contains", "value": "order, buy, booking"},
        {"field": "lead.status", "op": "equal", "value": "responded"}]
    assert hot["actions"] == [{"type": "set_status", "status": "hot"}]

    closing = TEMPLATES["auto-closing"].rule
    assert closing["sender"] == "all"  # "from Admin/User"
    assert closing["conditions"] == [
        {"field": "message.text", "op": "contains", "value": "payment received"}]
    assert closing["actions"] == [
        {"type": "update_value", "target": "lead.value_actual", "pattern": r"Rp\s*([0-9.,]+)"},
        {"type": "set_status", "status": "purchase"}]


def test_seed_conversation() -> None:
    ruleset = template_ruleset("mark-active-lead", "identify-hot-lead", "auto-closing")
    lead: Lead | None = None
    steps: list[tuple[str, bool, str]] = [
        ("Halo kak, lihat iklan sepatu", False, "new"),
        ("Ada ukuran 39?", False, "new"),
        ("Warna hitam ada?", False, "responded"),  # Chat Count 3 > 2 and status new
        ("saya mau order", False, "hot"),
        ("Payment received Rp 1.500.000", True, "purchase"),  # CS confirms
    ]
    outcomes: list[Outcome] = []
    for index, (text, from_me, status) in enumerate(steps):
        message = make_message(text=text, from_me=from_me,
                               timestamp=NOW + timedelta(minutes=index))
        outcome = process_message(ruleset, lead, message, now=message.timestamp, tz=TZ)
        lead = outcome.lead
        outcomes.append(outcome)
        assert lead.status == status, (text, lead.status)
    assert lead is not None
    assert lead.value_actual == 1_500_000
    assert lead.chat_count == 4
    assert [o.status_changes for o in outcomes] == [
        (), (), (("new", "responded"),), (("responded", "hot"),), (("hot", "purchase"),)]
    assert [[r.rule_name for r in o.runs if r.fired] for o in outcomes] == [
        [], [], ["Mark Active Lead (CTWA)"], ["Identify Hot Lead (Keyword)"],
        ["Auto-Closing & Capture Value (Regex)"]]


def test_order_keyword_before_responded_does_nothing() -> None:
    ruleset = template_ruleset("mark-active-lead", "identify-hot-lead")
    outcome = process_message(ruleset, None, make_message(text="mau order"), now=NOW, tz=TZ)
    assert outcome.lead.status == "new"


def test_mark_active_and_hot_in_one_message_see_the_snapshot() -> None:
    # The third message says "order": Mark Active fires (new -> responded), but Identify
    # Hot Lead saw status new in the same snapshot, so it waits for the next message.
    ruleset = template_ruleset("mark-active-lead", "identify-hot-lead")
    lead = Lead(phone="6281234567890", jid=make_message().sender, status="new", chat_count=2)
    outcome = process_message(ruleset, lead, make_message(text="order dong"), now=NOW, tz=TZ)
    assert outcome.lead.status == "responded"


@pytest.mark.parametrize(("text", "expected"), [
    ("I want to buy", "hot"),
    ("Mau BOOKING untuk besok", "hot"),
    ("reorder yang kemarin", "hot"),
    ("terima kasih", "responded"),
])
def test_identify_hot_lead(text: str, expected: str) -> None:
    ruleset = template_ruleset("identify-hot-lead")
    lead = Lead(phone="6281234567890", jid=make_message().sender, status="responded",
                chat_count=5)
    outcome = process_message(ruleset, lead, make_message(text=text), now=NOW, tz=TZ)
    assert outcome.lead.status == expected


@pytest.mark.parametrize("from_me", [False, True])
def test_auto_closing_from_either_side(from_me: bool) -> None:
    ruleset = template_ruleset("auto-closing")
    lead = Lead(phone="6281234567890", jid=make_message().sender, status="hot")
    message = make_message(text="PAYMENT RECEIVED rp2.000.000,00 thanks", from_me=from_me)
    outcome = process_message(ruleset, lead, message, now=NOW, tz=TZ)
    assert outcome.lead.status == "purchase"
    assert outcome.lead.value_actual == 2_000_000


def test_auto_closing_without_amount_still_closes() -> None:
    ruleset = template_ruleset("auto-closing")
    lead = Lead(phone="6281234567890", jid=make_message().sender, status="hot",
                value_actual=5.0)
    outcome = process_message(ruleset, lead, make_message(text="payment received, thanks"),
                              now=NOW, tz=TZ)
    assert outcome.lead.status == "purchase"
    assert outcome.lead.value_actual == 5.0
    (record,) = outcome.runs
    assert "no match" in record.notes[0]
