"""The pure decision: given the facts the store loaded and the time, what happens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.attendance import (
    INVALID_REPLY_LIMIT,
    Attempt,
    CodeFacts,
    Event,
    Result,
    decide,
    display,
    make_code,
    scan,
)
from engine.event_spec import reply_text

TZ = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 10:00 in Jakarta
ADMIN, OTHER = "6281100000001", "6281100000002"
PHONE = "6281234567890"


def event(id: int = 1, *, mode: str = "ticket", number: str = ADMIN, prefix: str = "EVT7",
          start: datetime = NOW - timedelta(hours=2), end: datetime = NOW + timedelta(hours=6),
          uses: int = 1, texts: dict[str, str] | None = None) -> Event:
    return Event(id=id, slug=f"e{id}", name=f"Event {id}", number=number, mode=mode, starts_at=start,
                 ends_at=end, prefix=prefix, keyword="CHECKIN", max_uses=uses, texts=texts or {})


CODE = make_code("EVT7", "K3Q9T")
OTHER_CODE = make_code("EVT8", "K3Q9T")


def facts(code: str = CODE, *, event_id: int = 1, slots: tuple[int, ...] = (), max_uses: int | None = 1,
          last: datetime | None = None, phone_used: datetime | None = None, name: str | None = "Sari") -> CodeFacts:
    return CodeFacts(1, event_id, code, name, PHONE, max_uses, slots, last, phone_used)


def attempt(text: str, *, session: str = ADMIN, at: datetime = NOW, targets: frozenset[int] = frozenset({1}),
            recent_invalid: int = 0) -> Attempt:
    return Attempt(session, PHONE, at, scan(text), targets, recent_invalid)


def test_a_valid_unused_code_checks_in_with_a_welcome() -> None:
    ev = event()
    decision = decide(attempt(f"CHECKIN {display(CODE)}"), {1: ev}, [facts()])
    assert (decision.result, decision.slot, decision.reply) == (Result.CHECKED_IN, 1, "welcome")
    text = reply_text(decision, tz=TZ, at=NOW, fallback_name="+62")
    assert text is not None and "Sari" in text and "Event 1" in text


def test_a_used_code_answers_already_with_the_first_time() -> None:
    first = NOW - timedelta(minutes=25)
    decision = decide(attempt(f"CHECKIN {display(CODE)}"), {1: event()}, [facts(slots=(1,), last=first)])
    assert (decision.result, decision.reply) == (Result.ALREADY_USED, "already")
    assert "09:35" in (reply_text(decision, tz=TZ, at=NOW, fallback_name="x") or "")


def test_unknown_code_of_our_event_is_invalid() -> None:
    decision = decide(attempt(f"CHECKIN {display(CODE)}"), {1: event()}, [])
    assert (decision.result, decision.reply, decision.event and decision.event.id) == (
        Result.UNKNOWN_CODE, "invalid", 1)


def test_typo_is_invalid_never_another_code() -> None:
    typo = CODE[:-1] + ("Z" if CODE[-1] != "Z" else "Y")
    decision = decide(attempt(f"CHECKIN {display(typo)}"), {1: event()}, [facts()])
    assert decision.result is Result.UNKNOWN_CODE and decision.code is None


def test_words_that_only_look_like_codes_are_not_an_attempt() -> None:
    decision = decide(attempt("checkin SAYAMAUCHECK nanti"), {1: event()}, [])
    assert (decision.result, decision.reply) == (Result.NO_CODE, None)


def test_code_of_another_event_is_refused() -> None:
    events = {1: event(1), 2: event(2, prefix="EVT8")}
    decision = decide(attempt(f"CHECKIN {display(OTHER_CODE)}", targets=frozenset({1})), events,
                      [facts(OTHER_CODE, event_id=2)])
    assert (decision.result, decision.reply) == (Result.WRONG_EVENT, "invalid")


def test_code_sent_to_the_wrong_admin_number_is_refused() -> None:
    events = {1: event(1, number=OTHER)}
    decision = decide(attempt(f"CHECKIN {display(CODE)}", session=ADMIN), events, [facts()])
    assert decision.result is Result.WRONG_NUMBER
    # ...also when the rules accept every event of the receiving number ("*"): no target
    decision = decide(attempt(f"CHECKIN {display(CODE)}", targets=frozenset()), events, [facts()])
    assert decision.result is Result.WRONG_NUMBER


@pytest.mark.parametrize(("at", "result", "reply"), [
    (NOW - timedelta(hours=3), Result.NOT_OPEN, "not_open"),
    (NOW - timedelta(hours=2), Result.CHECKED_IN, "welcome"),  # the start minute is inside
    (NOW + timedelta(hours=6), Result.CLOSED, "closed"),  # the end is outside
    (NOW + timedelta(days=3), Result.CLOSED, "closed"),
])
def test_the_event_window(at: datetime, result: Result, reply: str) -> None:
    decision = decide(attempt(f"CHECKIN {display(CODE)}", at=at), {1: event()}, [facts()])
    assert (decision.result, decision.reply) == (result, reply)


def test_not_open_reply_names_the_start_in_workspace_time() -> None:
    decision = decide(attempt(f"CHECKIN {display(CODE)}", at=NOW - timedelta(hours=3)), {1: event()}, [facts()])
    assert "23 Nov 2026 08:00" in (reply_text(decision, tz=TZ, at=NOW, fallback_name="x") or "")


def test_voucher_uses_slots_until_used_up() -> None:
    ev = event(mode="voucher", uses=3)
    d1 = decide(attempt(f"REDEEM {display(CODE)}"), {1: ev}, [facts(max_uses=3)])
    assert (d1.result, d1.slot, d1.uses_left) == (Result.CHECKED_IN, 1, 2)
    d2 = decide(attempt(f"REDEEM {display(CODE)}"), {1: ev}, [facts(max_uses=3, slots=(1, 3))])
    assert (d2.result, d2.slot, d2.uses_left) == (Result.CHECKED_IN, 2, 0)  # an undone slot is reused
    d3 = decide(attempt(f"REDEEM {display(CODE)}"), {1: ev}, [facts(max_uses=3, slots=(1, 2, 3), last=NOW)])
    assert d3.result is Result.ALREADY_USED
    assert "Uses left: 0" in (reply_text(d2, tz=TZ, at=NOW, fallback_name="x") or "")


def test_open_event_is_once_per_phone() -> None:
    ev = event(mode="open")
    shared = facts(max_uses=None, name=None)
    assert decide(attempt(f"CHECKIN {display(CODE)}"), {1: ev}, [shared]).result is Result.CHECKED_IN
    again = CodeFacts(1, 1, CODE, None, None, None, (), NOW, NOW - timedelta(minutes=5))
    decision = decide(attempt(f"CHECKIN {display(CODE)}"), {1: ev}, [again])
    assert decision.result is Result.ALREADY_USED
    assert "This number already checked in at 09:55" in (reply_text(decision, tz=TZ, at=NOW, fallback_name="x")
                                                          or "")


def test_more_than_three_of_our_codes_is_a_guessing_attempt() -> None:
    codes = [make_code("EVT7", body) for body in ("AAAAA", "BBBBB", "CCCCC", "DDDDD")]
    decision = decide(attempt("CHECKIN " + " ".join(codes)), {1: event()}, [facts(codes[0])])
    assert (decision.result, decision.reply) == (Result.TOO_MANY_CODES, "invalid")


def test_hammering_invalid_codes_stops_the_answers() -> None:
    decision = decide(attempt(f"CHECKIN {display(CODE)}", recent_invalid=INVALID_REPLY_LIMIT), {1: event()}, [])
    assert (decision.result, decision.reply) == (Result.UNKNOWN_CODE, None)
    # a valid code still checks in and is answered
    decision = decide(attempt(f"CHECKIN {display(CODE)}", recent_invalid=99), {1: event()}, [facts()])
    assert (decision.result, decision.reply) == (Result.CHECKED_IN, "welcome")


def test_custom_texts_override_the_defaults() -> None:
    ev = event(texts={"welcome": "Masuk, {name}! Kode {code} jam {time}."})
    decision = decide(attempt(f"CHECKIN {display(CODE)}"), {1: ev}, [facts()])
    assert reply_text(decision, tz=TZ, at=NOW, fallback_name="x") == f"Masuk, Sari! Kode {display(CODE)} jam 10:00."
