"""Evaluation semantics (DESIGN.md "Rules"): snapshots, priority order, stop_processing,
sender filter, pass order, status-change chains, chat count, first contact, failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import pytest

from engine.conditions import AllOf
from engine.evaluate import Outcome, process_lead_event, process_message
from engine.model import Lead, Message
from engine.rules import Rule
from engine.ruleset import RuleSet
from tests.engine.engine_factories import (
    CUSTOMER,
    NOW,
    TZ,
    leaf,
    make_lead,
    make_message,
    make_ruleset,
    parse,
    rule,
)


def run(rules: list[dict[str, Any]], lead: Lead | None, message: Message | None = None,
        **kw: Any) -> Outcome:
    return process_message(make_ruleset(rules, **kw), lead, message or make_message(),
                           now=NOW, tz=TZ)


def fired_names(outcome: Outcome, trigger: str | None = None) -> list[str]:
    return [r.rule_name for r in outcome.runs
            if r.fired and (trigger is None or r.trigger == trigger)]


def set_status(status: str) -> dict[str, str]:
    return {"type": "set_status", "status": status}


def tag(name: str) -> dict[str, str]:
    return {"type": "add_tag", "tag": name}


# ------------------------------------------------------------------ one pass, one snapshot


def test_rules_of_a_pass_see_the_same_snapshot() -> None:
    outcome = run([
        rule("A", priority=1, actions=[set_status("hot")]),
        rule("B", priority=2, conditions=[leaf("lead.status", "equal", "new")],
             actions=[tag("b")]),
    ], make_lead(status="new"))
    assert fired_names(outcome, "message.received") == ["A", "B"]
    assert outcome.lead.status == "hot"
    assert "b" in outcome.lead.tags


def test_snapshot_also_hides_earlier_tags_and_scores() -> None:
    outcome = run([
        rule("A", priority=1, actions=[tag("vip"), {"type": "adjust_score", "by": 50}]),
        rule("B", priority=2, conditions=[leaf("lead.tags", "contains", "vip")],
             actions=[tag("b")]),
        rule("C", priority=3, conditions=[leaf("lead.score", "gte", 50)], actions=[tag("c")]),
    ], make_lead())
    assert fired_names(outcome) == ["A"]


def test_actions_apply_in_priority_order_later_status_wins() -> None:
    outcome = run([
        rule("late", priority=50, actions=[set_status("purchase")]),
        rule("early", priority=5, actions=[set_status("hot")]),
    ], make_lead())
    assert fired_names(outcome, "message.received") == ["early", "late"]
    assert outcome.lead.status == "purchase"


def test_priority_ties_broken_by_rule_id() -> None:
    # Ids are 1..n in list order; equal priority: id 1 applies first, id 2 wins.
    outcome = run([
        rule("first", priority=10, actions=[set_status("hot")]),
        rule("second", priority=10, actions=[set_status("lost")]),
    ], make_lead())
    assert fired_names(outcome, "message.received") == ["first", "second"]
    assert outcome.lead.status == "lost"


def test_tie_break_uses_ids_not_list_order() -> None:
    rules = parse([rule("a", actions=[set_status("hot")]), rule("b", actions=[set_status("lost")])])
    reordered = [rules[0].with_id(9), rules[1].with_id(3)]  # b was created first
    ruleset = RuleSet(reordered)
    outcome = process_message(ruleset, make_lead(), make_message(), now=NOW, tz=TZ)
    assert fired_names(outcome, "message.received") == ["b", "a"]
    assert outcome.lead.status == "hot"


def test_disabled_rule_never_fires() -> None:
    outcome = run([rule("off", enabled=False, actions=[set_status("hot")])], make_lead())
    assert outcome.runs == () and outcome.lead.status == "new"


# ------------------------------------------------------------------ stop_processing


def test_stop_processing_blocks_lower_priority_only() -> None:
    outcome = run([
        rule("high", priority=1, actions=[tag("high")]),
        rule("stopper", priority=5, stop_processing=True, actions=[tag("stopper")]),
        rule("same-priority-later-id", priority=5, actions=[tag("later")]),
        rule("low", priority=9, actions=[tag("low")]),
    ], make_lead())
    assert fired_names(outcome) == ["high", "stopper"]
    assert outcome.lead.tags == frozenset({"high", "stopper"})


def test_stop_processing_only_when_the_rule_fires() -> None:
    outcome = run([
        rule("stopper", priority=1, stop_processing=True,
             conditions=[leaf("message.text", "contains", "stop")], actions=[tag("s")]),
        rule("low", priority=9, actions=[tag("low")]),
    ], make_lead(), make_message(text="go on"))
    assert fired_names(outcome) == ["low"]


def test_stop_processing_acts_within_its_own_pass() -> None:
    outcome = run([
        rule("created", trigger="lead.created", priority=50, actions=[tag("created")]),
        rule("stopper", priority=1, stop_processing=True, actions=[set_status("hot")]),
        rule("low", priority=2, actions=[tag("low")]),
        rule("changed", trigger="lead.status_changed", priority=99, actions=[tag("changed")]),
    ], None)
    assert fired_names(outcome) == ["created", "stopper", "changed"]


def test_stop_processing_in_created_pass_does_not_block_message_pass() -> None:
    outcome = run([
        rule("created", trigger="lead.created", priority=1, stop_processing=True,
             actions=[tag("created")]),
        rule("message", priority=50, actions=[tag("message")]),
    ], None)
    assert fired_names(outcome) == ["created", "message"]


# ------------------------------------------------------------------ sender filter


@pytest.mark.parametrize(("sender", "from_me", "expected"), [
    (None, False, True),  # default: customer
    (None, True, False),
    ("customer", False, True),
    ("customer", True, False),
    ("team", False, False),
    ("team", True, True),
    ("all", False, True),
    ("all", True, True),
])
def test_sender_filter(sender: str | None, from_me: bool, expected: bool) -> None:
    extra = {} if sender is None else {"sender": sender}
    outcome = run([rule("r", **extra)], make_lead(), make_message(from_me=from_me))
    assert (fired_names(outcome) == ["r"]) is expected


def test_sender_defaults_to_customer() -> None:
    (parsed,) = parse([rule("r")])
    assert parsed.sender == "customer"


# ------------------------------------------------------------------ lead.created


def test_first_message_runs_created_then_message_pass() -> None:
    outcome = run([
        rule("message", priority=1, conditions=[leaf("lead.tags", "contains", "welcomed")],
             actions=[tag("message-saw-created")]),
        rule("created", trigger="lead.created", priority=99, actions=[tag("welcomed")]),
        rule("changed", trigger="lead.status_changed", actions=[tag("changed")]),
    ], None)
    assert outcome.created is True
    assert [(r.rule_name, r.trigger) for r in outcome.runs] == [
        ("created", "lead.created"), ("message", "message.received")]
    assert outcome.lead.tags == frozenset({"welcomed", "message-saw-created"})
    assert outcome.status_changes == ()  # creating a lead is not a status change
    assert outcome.lead.status == "new"


def test_created_pass_runs_only_for_new_leads() -> None:
    outcome = run([rule("created", trigger="lead.created", actions=[tag("c")])], make_lead())
    assert outcome.created is False
    assert outcome.runs == ()


def test_new_lead_starts_in_first_workspace_status() -> None:
    statuses = ["baru", "prospek"]
    outcome = run([rule("c", trigger="lead.created",
                        conditions=[leaf("lead.status", "equal", "baru")], actions=[tag("c")])],
                  None, statuses=statuses)
    assert outcome.lead.status == "baru" and "c" in outcome.lead.tags
    assert outcome.lead.phone == CUSTOMER.split("@")[0]


def test_lead_of_team_message_is_the_chat() -> None:
    outcome = run([], None, make_message(from_me=True))
    assert outcome.lead.jid == CUSTOMER
    assert outcome.lead.chat_count == 0


def test_status_change_in_created_pass_chains() -> None:
    outcome = run([
        rule("created", trigger="lead.created", actions=[set_status("responded")]),
        rule("changed", trigger="lead.status_changed",
             conditions=[leaf("status.from", "equal", "new"),
                         leaf("status.to", "equal", "responded")], actions=[tag("chained")]),
        rule("message", conditions=[leaf("lead.status", "equal", "responded")],
             actions=[tag("message-saw-responded")]),
    ], None)
    assert outcome.status_changes == (("new", "responded"),)
    assert outcome.lead.tags == frozenset({"chained", "message-saw-responded"})


def test_process_lead_event_created_by_hand() -> None:
    ruleset = make_ruleset([rule("c", trigger="lead.created", actions=[set_status("hot")]),
                            rule("s", trigger="lead.status_changed", actions=[tag("s")])])
    outcome = process_lead_event(ruleset, make_lead(), "lead.created", now=NOW, tz=TZ)
    assert outcome.lead.status == "hot" and outcome.lead.tags == frozenset({"s"})
    assert outcome.status_changes == (("new", "hot"),)


# ------------------------------------------------------------------ status chains


def test_one_status_changed_pass_per_changed_pass() -> None:
    # Two rules change the status in one pass: one event, before -> after.
    outcome = run([
        rule("a", priority=1, actions=[set_status("responded")]),
        rule("b", priority=2, actions=[set_status("hot")]),
        rule("changed", trigger="lead.status_changed",
             conditions=[leaf("status.from", "equal", "new"), leaf("status.to", "equal", "hot")],
             actions=[tag("new-to-hot")]),
    ], make_lead())
    assert outcome.status_changes == (("new", "hot"),)
    assert "new-to-hot" in outcome.lead.tags
    assert [r.rule_name for r in outcome.runs].count("changed") == 1


def test_no_status_changed_pass_when_status_comes_back() -> None:
    outcome = run([
        rule("a", priority=1, actions=[set_status("hot")]),
        rule("b", priority=2, actions=[set_status("new")]),
        rule("changed", trigger="lead.status_changed", actions=[tag("changed")]),
    ], make_lead())
    assert outcome.status_changes == ()
    assert fired_names(outcome) == ["a", "b"]


def test_setting_the_same_status_is_no_change() -> None:
    outcome = run([
        rule("a", actions=[set_status("new")]),
        rule("changed", trigger="lead.status_changed", actions=[tag("changed")]),
    ], make_lead())
    assert outcome.status_changes == () and "changed" not in outcome.lead.tags


def test_status_chain_follows_changes() -> None:
    outcome = run([
        rule("msg", actions=[set_status("responded")]),
        rule("to-hot", trigger="lead.status_changed",
             conditions=[leaf("status.to", "equal", "responded")], actions=[set_status("hot")]),
        rule("to-purchase", trigger="lead.status_changed",
             conditions=[leaf("status.from", "equal", "responded"),
                         leaf("status.to", "equal", "hot")], actions=[set_status("purchase")]),
    ], make_lead())
    assert outcome.status_changes == (("new", "responded"), ("responded", "hot"),
                                      ("hot", "purchase"))
    assert outcome.lead.status == "purchase"


def test_flip_flop_terminates_each_rule_once_per_chain() -> None:
    outcome = run([
        rule("msg", actions=[set_status("hot")]),
        rule("to-responded", trigger="lead.status_changed",
             conditions=[leaf("status.to", "equal", "hot")], actions=[set_status("responded")]),
        rule("to-hot", trigger="lead.status_changed",
             conditions=[leaf("status.to", "equal", "responded")], actions=[set_status("hot")]),
    ], make_lead())
    names = [r.rule_name for r in outcome.runs]
    assert names.count("to-responded") == 1 and names.count("to-hot") == 1
    assert outcome.lead.status == "hot"
    assert outcome.status_changes == (("new", "hot"), ("hot", "responded"), ("responded", "hot"))


def test_unconditional_status_rules_terminate() -> None:
    statuses = [f"s{i}" for i in range(30)]
    rules = [rule("msg", actions=[set_status("s1")])] + [
        rule(f"go-{i}", trigger="lead.status_changed",
             conditions=[leaf("status.to", "equal", f"s{i}")], actions=[set_status(f"s{i + 1}")])
        for i in range(1, 29)
    ] + [rule("cycle", trigger="lead.status_changed", actions=[set_status("s0")])]
    outcome = run(rules, make_lead(status="s0"), statuses=statuses)
    names = [r.rule_name for r in outcome.runs]
    assert len(names) == len(set(names))  # each rule at most once
    assert len(outcome.status_changes) <= 30  # bounded


def test_status_changed_by_hand_runs_the_pass() -> None:
    ruleset = make_ruleset([
        rule("won", trigger="lead.status_changed",
             conditions=[leaf("status.from", "equal", "purchase"),
                         leaf("status.to", "equal", "won")],
             actions=[{"type": "send_webhook", "url": "https://crm.example/hook"}]),
    ])
    lead = make_lead(status="won")
    outcome = process_lead_event(ruleset, lead, "lead.status_changed", now=NOW, tz=TZ,
                                 status_from="purchase")
    assert [r.kind for r in outcome.requests] == ["webhook"]
    with pytest.raises(ValueError):
        process_lead_event(ruleset, lead, "lead.status_changed", now=NOW, tz=TZ)


def test_status_changed_rules_see_the_message() -> None:
    outcome = run([
        rule("msg", actions=[set_status("hot")]),
        rule("changed", trigger="lead.status_changed",
             conditions=[leaf("status.to", "equal", "hot")],
             actions=[{"type": "send_reply", "text": "Got it: {text}"}]),
    ], make_lead(), make_message(text="order 2"))
    (reply,) = outcome.requests
    assert reply.payload["text"] == "Got it: order 2"


# ------------------------------------------------------------------ chat count, first contact


def test_chat_count_counts_customer_messages_including_this_one() -> None:
    ruleset = make_ruleset([rule("third", sender="all",
                                 conditions=[leaf("chat.count", "equal", 3)],
                                 actions=[tag("third")])])
    lead = None
    seen: list[tuple[int, bool]] = []
    script = [False, True, False, True, True, False]  # from_me per message
    for index, from_me in enumerate(script):
        message = make_message(from_me=from_me, timestamp=NOW + timedelta(minutes=index))
        outcome = process_message(ruleset, lead, message, now=message.timestamp, tz=TZ)
        lead = outcome.lead
        seen.append((lead.chat_count, "third" in lead.tags))
    assert [count for count, _ in seen] == [1, 1, 2, 2, 2, 3]
    assert [hit for _, hit in seen] == [False] * 5 + [True]


def test_first_contact_only_on_first_customer_message() -> None:
    ruleset = make_ruleset([rule("first", sender="all",
                                 conditions=[leaf("message.first_contact", "equal", True)],
                                 actions=[{"type": "adjust_score", "by": 1}])])
    lead = None
    for from_me in (True, True, False, False, True, False):  # CS writes first
        outcome = process_message(ruleset, lead, make_message(from_me=from_me), now=NOW, tz=TZ)
        lead = outcome.lead
        if not from_me and lead.chat_count == 1:
            assert outcome.fired == 1
        else:
            assert outcome.fired == 0
    assert lead is not None and lead.score == 1


def test_first_message_sets_name_and_updated_at() -> None:
    later = NOW + timedelta(hours=1)
    lead = make_lead(name=None)
    outcome = process_message(make_ruleset([]), lead, make_message(sender_name="Budi"),
                              now=later, tz=TZ)
    assert outcome.lead.name == "Budi"
    assert outcome.lead.updated_at == later
    assert lead.chat_count == 0  # the input snapshot is not mutated


def test_click_to_whatsapp_referral_attributes_the_lead() -> None:
    from engine.model import Referral

    ad = Referral(source_id="120210000000001", source_type="ad", source_url="https://fb.me/x",
                  ctwa_clid="ARAkLk")
    outcome = run([rule("ads", conditions=[leaf("lead.source", "equal", "ads")],
                        actions=[tag("from-ad")])], None, make_message(referral=ad))
    lead = outcome.lead
    assert (lead.source, lead.ctwa_clid, lead.ad_source_id) == ("ads", "ARAkLk", "120210000000001")
    assert "from-ad" in lead.tags
    other = Referral(source_id="999", ctwa_clid="OTHER")
    again = run([], lead, make_message(referral=other)).lead
    assert (again.ctwa_clid, again.ad_source_id) == ("ARAkLk", "120210000000001")  # first click


# ------------------------------------------------------------------ failures don't stop us


@dataclass(frozen=True)
class Boom:
    """An action whose apply raises, like a bug in a new action type would."""

    type: ClassVar[str] = "boom"
    label: ClassVar[str] = "Boom"

    def apply(self, lead: Any, run: Any) -> Any:
        raise RuntimeError("kaput")

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type}


def test_failing_action_drops_its_rule_and_the_rest_continue() -> None:
    good_before, good_after = parse([
        rule("before", priority=1, actions=[tag("before")]),
        rule("after", priority=3, actions=[tag("after"), {"type": "adjust_score", "by": 5}]),
    ])
    (status_action,) = parse([rule("x", actions=[set_status("hot")])])[0].actions
    (hook,) = parse([rule("y", actions=[{"type": "send_webhook",
                                         "url": "https://x.example"}])])[0].actions
    broken = Rule(name="broken", trigger="message.received", conditions=AllOf(()),
                  actions=(status_action, hook, Boom()), priority=2, id=2)
    ruleset = RuleSet([good_before.with_id(1), broken, good_after.with_id(3)])
    outcome = process_message(ruleset, make_lead(), make_message(), now=NOW, tz=TZ)
    assert outcome.lead.status == "new"  # broken's set_status was dropped
    assert outcome.lead.tags == frozenset({"before", "after"})
    assert outcome.lead.score == 5
    assert outcome.requests == ()  # broken's webhook was dropped too
    assert outcome.status_changes == ()
    by_name = {r.rule_name: r for r in outcome.runs}
    assert by_name["broken"].fired is False
    assert by_name["broken"].error is not None and "kaput" in by_name["broken"].error
    assert by_name["before"].fired and by_name["after"].fired
    assert by_name["before"].error is None


@dataclass(frozen=True)
class HalfDone:
    """Changes the lead, then raises: the change must not survive."""

    type: ClassVar[str] = "half_done"
    label: ClassVar[str] = "Half done"

    def apply(self, lead: Any, run: Any) -> Any:
        lead.set("score", 99)
        raise ValueError("stopped halfway")

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type}


def test_a_one_action_rule_that_fails_halfway_leaves_the_lead_as_it_was() -> None:
    (tagger,) = parse([rule("tagger", priority=2, actions=[tag("seen")])])
    broken = Rule(name="half", trigger="message.received", conditions=AllOf(()),
                  actions=(HalfDone(),), priority=1, id=1)
    outcome = process_message(RuleSet([broken, tagger.with_id(2)]), make_lead(), make_message(), now=NOW, tz=TZ)
    assert outcome.lead.score == 0 and outcome.lead.tags == frozenset({"seen"})
    (failed,) = [r for r in outcome.runs if r.rule_name == "half"]
    assert failed.fired is False and failed.notes == ()
    assert failed.error == "actions[0] half_done failed: ValueError: stopped halfway"


def test_a_failing_later_action_is_named_by_its_place_and_undoes_the_earlier_ones() -> None:
    """The run names the action that failed (its index among the rule's actions), keeps the
    notes of those done before it, and none of the rule's changes survive."""
    (tagger,) = parse([rule("tagger", actions=[tag("first")])])
    broken = Rule(name="two then half", trigger="message.received", conditions=AllOf(()),
                  actions=(*tagger.actions, *tagger.actions, HalfDone()), priority=1, id=1)
    outcome = process_message(RuleSet([broken]), make_lead(), make_message(), now=NOW, tz=TZ)
    (failed,) = outcome.runs
    assert failed.error == "actions[2] half_done failed: ValueError: stopped halfway"
    assert failed.notes == ("add_tag: +first", "add_tag: already tagged first")
    assert outcome.lead.tags == frozenset() and outcome.lead.score == 0


def test_failing_action_in_status_chain_is_recorded() -> None:
    (status_rule,) = parse([rule("msg", actions=[set_status("hot")])])
    broken = Rule(name="broken", trigger="lead.status_changed", conditions=AllOf(()),
                  actions=(Boom(),), sender="all", id=2)
    ruleset = RuleSet([status_rule.with_id(1), broken])
    outcome = process_message(ruleset, make_lead(), make_message(), now=NOW, tz=TZ)
    assert outcome.lead.status == "hot"
    errors = [r for r in outcome.runs if r.error]
    assert [(r.rule_name, r.trigger) for r in errors] == [("broken", "lead.status_changed")]


def test_same_input_same_output() -> None:
    rules = [rule("a", conditions=[leaf("message.text", "contains", "order")],
                  actions=[set_status("hot"), tag("buyer")])]
    ruleset = make_ruleset(rules)
    message = make_message(text="order")
    first = process_message(ruleset, make_lead(), message, now=NOW, tz=TZ)
    second = process_message(ruleset, make_lead(), message, now=NOW, tz=TZ)
    assert first == second
