"""The rule set's pre-filter (anchors: keywords, regex hits, status, flags) never changes
what fires: the normal run agrees with the dry run, which evaluates every rule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.ruleset
from engine.evaluate import explain_message, process_message
from tests.engine.engine_factories import NOW, TZ, leaf, make_lead, make_message, make_ruleset, rule

WORDS = ["order", "Buy", "payment received", "rp", "k-12", "ok", "halo kak", "c++", "é"]
STATUSES = ["new", "responded", "hot", "purchase"]
# Window bounds, and message times on, just before and just after them (local minutes).
CLOCK_TIMES = ["00:00", "08:00", "17:00", "21:30", "23:59", "24:00"]
LOCAL_MINUTES = sorted({(h * 60 + m + d) % 1440 for h, m in ((0, 0), (8, 0), (17, 0), (21, 30), (23, 59))
                        for d in (-1, 0, 1)})

_LEAVES = st.one_of(
    st.builds(lambda op, w: leaf("message.text", op, w),
              st.sampled_from(["contains", "not_contains", "starts_with", "ends_with", "equal",
                               "not_equal"]),
              st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(", ".join)),
    st.builds(lambda p: leaf("message.text", "matches", p),
              st.sampled_from([r"^ok", r"order\b", r"rp\s*\d+", r"k-\d+", r"^$", r"b.y"])),
    st.builds(lambda op, s: leaf("lead.status", op, s),
              st.sampled_from(["equal", "not_equal", "in_list", "not_in_list"]),
              st.sampled_from(STATUSES)),
    st.builds(lambda f, v: leaf(f, "equal", v),
              st.sampled_from(["message.has_media", "message.is_group", "message.is_reply",
                               "message.first_contact"]),
              st.sampled_from([True, False, "yes", "0"])),
    st.builds(lambda n: leaf("chat.count", "gte", n), st.integers(0, 4)),
    st.builds(lambda start, end: leaf("time.local", "between", f"{start}-{end}"),
              st.sampled_from(CLOCK_TIMES), st.sampled_from(CLOCK_TIMES)).filter(
                  lambda c: c["value"].split("-")[0] != c["value"].split("-")[1]),
)
_CONDITIONS: st.SearchStrategy[Any] = st.recursive(
    _LEAVES,
    lambda c: st.one_of(
        st.builds(lambda x: {"any": x}, st.lists(c, min_size=1, max_size=3)),
        st.builds(lambda x: {"all": x}, st.lists(c, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, c),
    ),
    max_leaves=5,
)
_STATUS_LEAVES = st.builds(lambda f, op, s: leaf(f, op, s),
                           st.sampled_from(["status.from", "status.to", "lead.status"]),
                           st.sampled_from(["equal", "in_list", "not_equal"]),
                           st.sampled_from(STATUSES))


@st.composite
def rule_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for index in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            conditions = draw(st.lists(_CONDITIONS, max_size=3))
            extra: dict[str, Any] = {"sender": draw(st.sampled_from(["customer", "team", "all"]))}
        else:
            conditions = draw(st.lists(_STATUS_LEAVES, max_size=2))
            extra = {"trigger": "lead.status_changed"}
        out.append(rule(f"r{index}", conditions=conditions,
                        priority=draw(st.integers(0, 3)),
                        stop_processing=draw(st.booleans()),
                        actions=[{"type": "set_status", "status": draw(st.sampled_from(STATUSES))},
                                 {"type": "add_tag", "tag": f"t{index}"}], **extra))
    return out


@settings(max_examples=150, deadline=None)
@given(
    rules=rule_lists(),
    text=st.lists(st.sampled_from([*WORDS, "x", "  ", "ORDER!", "Rp 5", "bay"]),
                  max_size=4).map(" ".join),
    status=st.sampled_from(STATUSES),
    count=st.integers(0, 3),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()),
    new=st.booleans(),
    minute=st.sampled_from(LOCAL_MINUTES),
)
def test_prefilter_agrees_with_full_evaluation(rules: list[dict[str, Any]], text: str,
                                               status: str, count: int,
                                               flags: tuple[bool, bool, bool, bool],
                                               new: bool, minute: int) -> None:
    ruleset = make_ruleset(rules, STATUSES)
    from_me, has_media, is_group, is_reply = flags
    local_midnight = NOW.astimezone(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    message = make_message(text=text, from_me=from_me, has_media=has_media, is_group=is_group,
                           is_reply=is_reply, timestamp=local_midnight + timedelta(minutes=minute, seconds=30))
    lead = None if new else make_lead(status=status, chat_count=count)
    fast = process_message(ruleset, lead, message, now=NOW, tz=TZ)
    slow, _ = explain_message(ruleset, lead, message, now=NOW, tz=TZ)
    assert fast == slow


def test_one_rule_set_gives_every_event_its_own_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule set remembers candidate lists by mask across events; with the memory bounded
    to two lists (refilled as events come), each event still gets exactly its own rules."""
    monkeypatch.setattr(engine.ruleset, "MASK_CACHE_SIZE", 2)
    ruleset = make_ruleset([
        rule("order", conditions=[leaf("message.text", "contains", "order")],
             actions=[{"type": "add_tag", "tag": "order"}]),
        rule("paid", conditions=[leaf("message.text", "matches", r"rp\s*\d+")],
             actions=[{"type": "set_status", "status": "purchase"}]),
        rule("hot only", conditions=[leaf("lead.status", "equal", "hot")],
             actions=[{"type": "add_tag", "tag": "was hot"}]),
        rule("media", conditions=[leaf("message.has_media", "equal", True)],
             actions=[{"type": "add_tag", "tag": "media"}]),
    ], STATUSES)
    fired_sets = set()
    for text in ("order please", "Rp 5000", "order, Rp 5", "halo", "ok"):
        for status in STATUSES:
            for has_media in (False, True):
                message = make_message(text=text, has_media=has_media)
                lead = make_lead(status=status, chat_count=1)
                fast = process_message(ruleset, lead, message, now=NOW, tz=TZ)
                slow, _ = explain_message(ruleset, lead, message, now=NOW, tz=TZ)
                assert fast == slow, (text, status, has_media)
                assert len(ruleset._by_mask) <= 2
                fired_sets.add(tuple(run.rule_name for run in fast.runs))
    assert len(fired_sets) > 4  # the events really needed different candidates


def test_time_windows_file_rules_by_the_minute() -> None:
    """Shift and business-hours rules are filed by the minutes of their window: at every
    minute of the day the rules that fire are those the full evaluation fires, for windows
    inside a day, wrapping past midnight, ending at 24:00 and covering all of it."""
    windows = ["08:00-17:00", "21:30-08:00", "17:00-24:00", "00:00-24:00", "23:59-00:01"]
    ruleset = make_ruleset([rule(f"w{i}", conditions=[leaf("time.local", "between", window)],
                                 actions=[{"type": "add_tag", "tag": f"w{i}"}])
                            for i, window in enumerate(windows)], STATUSES)
    local_midnight = NOW.astimezone(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    fired_per_window = [0] * len(windows)
    for minute in range(24 * 60):
        message = make_message(timestamp=local_midnight + timedelta(minutes=minute, seconds=59))
        lead = make_lead(chat_count=1)
        fast = process_message(ruleset, lead, message, now=NOW, tz=TZ)
        slow, _ = explain_message(ruleset, lead, message, now=NOW, tz=TZ)
        assert fast == slow, minute
        for run in fast.runs:
            fired_per_window[int(run.rule_name[1:])] += 1
    assert fired_per_window == [9 * 60, 10 * 60 + 30, 7 * 60, 24 * 60, 2]


def test_a_rule_set_names_the_actions_its_enabled_rules_can_take() -> None:
    """The store skips deciding check-ins when no enabled rule checks in: a disabled rule's
    actions, which never run, do not count."""
    ruleset = make_ruleset([
        rule("tag", actions=[{"type": "add_tag", "tag": "x"}, {"type": "adjust_score", "by": 1}]),
        rule("door", actions=[{"type": "check_in", "event": "*"}], enabled=False),
    ], STATUSES)
    assert ruleset.action_types == frozenset({"add_tag", "adjust_score"})
    enabled = make_ruleset([rule("door", actions=[{"type": "check_in", "event": "*"}])], STATUSES)
    assert "check_in" in enabled.action_types
