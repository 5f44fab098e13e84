"""The rule set remembers what a text matched (engine.memo): a text seen before decides
exactly as a new rule set would decide it, and the memory stays bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import engine.memo
from engine.evaluate import process_message
from tests.engine.engine_factories import NOW, TZ, leaf, make_lead, make_message, make_ruleset, rule

RULES = [
    rule("keyword", conditions=[leaf("message.text", "contains", "order now")],
         actions=[{"type": "add_tag", "tag": "keyword"}]),
    rule("exact", conditions=[leaf("message.text", "matches", r"^order now$")],
         actions=[{"type": "add_tag", "tag": "exact"}]),
    rule("spaced", conditions=[leaf("message.text", "matches", r"\s{2,}")],
         actions=[{"type": "add_tag", "tag": "spaced"}]),
    rule("not ok", conditions=[{"not": leaf("message.text", "equal", "ok")}],
         actions=[{"type": "add_tag", "tag": "not ok"}]),
]
# Texts a wrong key would confuse: the same words in another case or spacing (equal once
# normalised, not to a regex), a text too long to keep, the empty text.
TEXTS = ["order now", "  order   now", "ORDER now", "order\tnow", "OK", "ok", "",
         "x" * (engine.memo.MEMO_TEXT_CHARS + 1) + " order now"]


def _tags(ruleset, text: str) -> frozenset[str]:  # type: ignore[no-untyped-def]
    outcome = process_message(ruleset, make_lead(chat_count=1), make_message(text=text), now=NOW, tz=TZ)
    return outcome.lead.tags


def test_a_text_seen_before_decides_as_in_a_new_rule_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.memo, "MEMO_ENTRIES", 3)  # emptied and refilled as texts come
    remembering = make_ruleset(RULES)
    expected = {text: _tags(make_ruleset(RULES), text) for text in TEXTS}
    assert expected["order now"] == {"keyword", "exact", "not ok"}
    assert expected["  order   now"] == {"keyword", "spaced", "not ok"}
    assert expected["OK"] == expected["ok"] == frozenset()
    for _ in range(3):
        for text in [*TEXTS, *reversed(TEXTS)]:
            assert _tags(remembering, text) == expected[text], text
            assert len(remembering.features._text_masks.values) <= 3
            assert len(remembering.bank._hits.values) <= 3


def test_only_short_texts_are_kept() -> None:
    ruleset = make_ruleset(RULES)
    long_text = "y" * (engine.memo.MEMO_TEXT_CHARS + 1)
    _tags(ruleset, long_text)
    _tags(ruleset, "order now")
    assert set(ruleset.features._text_masks.values) == {"order now"}
    assert all(len(text) <= engine.memo.MEMO_TEXT_CHARS for _, text in ruleset.bank._hits.values)


def test_a_remembered_time_reads_as_its_own_zone_and_fold_would() -> None:
    """iso_text remembers a time's text, and equal times may not share one: the same instant
    in another zone, or one wall time on both sides of a clock going back (equal in one zone
    whatever their fold), each read as their own isoformat()."""
    instant = datetime(2026, 11, 23, 3, 0, 5, 120, tzinfo=UTC)
    same_instants = [instant, instant.astimezone(ZoneInfo("Asia/Jakarta")),
                     instant.astimezone(timezone(timedelta(hours=5, minutes=30))), instant]
    berlin = ZoneInfo("Europe/Berlin")
    twice = [datetime(2026, 10, 25, 2, 30, tzinfo=berlin, fold=fold) for fold in (0, 1, 0)]
    assert twice[0] == twice[1]  # one wall time in one zone: equal, whatever the fold
    for value in [*same_instants, *twice, instant.replace(tzinfo=None)]:
        assert engine.memo.iso_text(value) == value.isoformat()
    assert [engine.memo.iso_text(t) for t in twice[:2]] == ["2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00"]


def test_remembered_times_stay_bounded() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for second in range(engine.memo.ISO_ENTRIES * 2 + 5):
        value = start + timedelta(seconds=second)
        assert engine.memo.iso_text(value) == value.isoformat()
    assert len(engine.memo._ISO_TEXTS) <= engine.memo.ISO_ENTRIES
