"""A message reaches the processor: the right check-in (exactly once) and the right answer.

Every bad input of issue #5 is one test here: unknown code, code for another event, code
sent to the wrong admin number, expired event, not yet open, code in a group, code sent
by the team's own phone, the same message delivered twice, a 10 kB message full of
code-like words, and (in test_checkin_races.py) two racing messages with the same code.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta

from engine.attendance import ALPHABET, display, make_code
from engine.templates import TEMPLATES
from store.checkins import event_counts, undo_check_in
from store.leads import get_lead
from tests.attendance.conftest import ADMIN, GUEST, OTHER_ADMIN, Door


def test_checkin_then_duplicate(door: Door) -> None:
    event = door.event()
    (code,) = door.codes(event, "Sari")
    door.send(f"CHECKIN {code.display}")
    assert door.checkins(event) == [(event.id, code.id, 1, GUEST, "whatsapp", None)]
    door.now += timedelta(minutes=20)
    door.send(f"checkin {code.display.lower()} ya kak")
    assert len(door.checkins(event)) == 1
    welcome, already = door.replies()
    assert welcome.startswith("Halo Sari, check-in Grand Opening berhasil")
    assert "already checked in at 10:00" in already
    assert event_counts(door.db, event) == {"expected": 1, "checked_in": 1, "duplicates": 1, "invalid": 0,
                                            "invalid_by_reason": {}}
    reply = door.reply_payloads()[0]
    assert reply["session"] == ADMIN and reply["to"] == f"{GUEST}@s.whatsapp.net"


def test_the_lead_is_tagged_and_undo_removes_the_tag(door: Door) -> None:
    event = door.event(status="hot")
    (code,) = door.codes(event)
    door.send(f"CHECKIN {code.display}")
    lead = get_lead(door.db, GUEST)
    assert lead is not None and "attended" in lead.tags and lead.status == "hot"
    (checkin_id,) = [r[0] for r in door.db.conn.execute("SELECT id FROM checkins")]
    undo_check_in(door.db, event, checkin_id, door.now)
    lead = get_lead(door.db, GUEST)
    assert lead is not None and "attended" not in lead.tags
    door.send(f"CHECKIN {code.display}")  # the code works again after an undo
    assert [r[5] is None for r in door.checkins(event)] == [False, True]
    history = door.db.conn.execute("SELECT changes FROM lead_changes WHERE changes LIKE '%attended%'").fetchall()
    assert len(history) == 3


def test_unknown_code(door: Door) -> None:
    event = door.event()
    door.codes(event)
    unknown = make_code(event.prefix, "ZZZZZ")
    door.send(f"CHECKIN {display(unknown)}")
    assert door.checkins() == []
    assert door.attempts() == [(event.id, "unknown_code", 1)]
    assert "not valid" in door.replies()[0]


def test_typo_in_a_code(door: Door) -> None:
    event = door.event()
    (code,) = door.codes(event)
    typo = code.code[:-2] + ("Z" if code.code[-2] != "Z" else "Y") + code.code[-1]
    door.send(f"CHECKIN {display(typo)}")
    assert door.checkins() == [] and door.attempts() == [(event.id, "unknown_code", 1)]


def test_code_for_another_event(door: Door) -> None:
    # A rule for one event only: another event's code (same number) is not accepted by it.
    door = Door(door.path.with_name("other.db"), rules=[{
        "name": "Launch only", "trigger": "message.received",
        "conditions": [{"field": "message.text", "op": "contains", "value": "checkin"}],
        "actions": [{"type": "check_in", "event": "launch"}]}])
    door.event(name="Launch", slug="launch")
    other = door.event(name="Workshop", slug="workshop")
    (code,) = door.codes(other)
    door.send(f"CHECKIN {code.display}")
    assert door.checkins() == []
    assert door.attempts() == [(other.id, "wrong_event", 1)]
    assert "not valid" in door.replies()[0]


def test_code_sent_to_the_wrong_admin_number(door: Door) -> None:
    event = door.event(number=OTHER_ADMIN)
    (code,) = door.codes(event)
    door.send(f"CHECKIN {code.display}", session=ADMIN)
    assert door.checkins() == []
    assert door.attempts() == [(event.id, "wrong_number", 1)]
    assert door.reply_payloads()[0]["session"] == ADMIN  # answered by the number that got it


def test_expired_event(door: Door) -> None:
    event = door.event(start=door.now - timedelta(days=2), end=door.now - timedelta(days=1))
    (code,) = door.codes(event)
    door.send(f"CHECKIN {code.display}")
    assert door.checkins() == [] and door.attempts() == [(event.id, "closed", 1)]
    assert door.replies() == ["Maaf, Grand Opening sudah selesai.\nSorry, Grand Opening is over."]


def test_not_open_yet(door: Door) -> None:
    event = door.event(start=door.now + timedelta(days=1), end=door.now + timedelta(days=2))
    (code,) = door.codes(event)
    door.send(f"CHECKIN {code.display}")
    assert door.checkins() == [] and door.attempts() == [(event.id, "not_open", 1)]
    assert "It opens 24 Nov 2026 10:00" in door.replies()[0]


def test_a_phone_clock_ahead_cannot_open_the_event_early(door: Door) -> None:
    event = door.event(start=door.now + timedelta(minutes=30), end=door.now + timedelta(hours=5))
    (code,) = door.codes(event)
    door.send(f"CHECKIN {code.display}", timestamp=(door.now + timedelta(hours=1)).isoformat())
    assert door.checkins() == [] and door.attempts()[0][1] == "not_open"


def test_code_sent_in_a_group(door: Door) -> None:
    event = door.event()
    (code,) = door.codes(event)
    door.send(f"CHECKIN {code.display}", is_group=True, chat="120363000000000000@g.us")
    assert door.checkins() == [] and door.replies() == [] and door.attempts() == []
    note = door.db.conn.execute("SELECT notes FROM rule_runs").fetchone()[0]
    assert "group chat" in note


def test_code_sent_by_the_teams_own_phone(door: Door) -> None:
    event = door.event()
    (code,) = door.codes(event)
    # The templates only listen to customers...
    door.send(f"CHECKIN {code.display}", from_me=True, sender=f"{ADMIN}@s.whatsapp.net")
    assert door.checkins() == [] and door.replies() == []
    # ...and a rule that listens to everyone still refuses the team's phone.
    team = Door(door.path.with_name("team.db"), rules=[{**TEMPLATES["event-check-in"].rule, "sender": "all"}])
    event = team.event()
    (code,) = team.codes(event)
    team.send(f"CHECKIN {code.display}", from_me=True, sender=f"{ADMIN}@s.whatsapp.net")
    assert team.checkins() == [] and team.replies() == []
    assert "team's own phone" in team.db.conn.execute("SELECT notes FROM rule_runs").fetchone()[0]


def test_the_same_message_delivered_twice(door: Door) -> None:
    event = door.event()
    (code,) = door.codes(event)
    message = door.message(f"CHECKIN {code.display}")
    door.deliver(message)
    door.deliver(message)  # WhatsApp re-delivers after a reconnect
    door.deliver(message, message)
    assert len(door.checkins()) == 1
    assert len(door.replies()) == 1  # welcome once; no "already" for a re-delivery
    assert door.attempts() == []
    assert door.inbox_states() == {"done": 1}


def test_a_10kb_message_full_of_code_like_words(door: Door) -> None:
    event = door.event()
    (code,) = door.codes(event)
    rng = random.Random(5)
    guesses = [display(make_code(event.prefix, "".join(rng.choice(ALPHABET) for _ in range(5))))
               for _ in range(900)]
    text = "CHECKIN " + " ".join(guesses[:450] + [code.display] + guesses[450:])
    assert len(text) > 10_000
    started = time.perf_counter()
    door.send(text)
    elapsed = time.perf_counter() - started
    assert door.checkins() == []  # even the real code hidden among guesses does not count
    assert door.attempts() == [(event.id, "too_many_codes", 1)]
    assert len(door.replies()) == 1
    # bounded work: a handful of indexed lookups, not one per word (generous bound for slow CI)
    assert elapsed < 2.0
    # random words that merely look like codes (no prefix of ours): no attempt, no answer
    junk = " ".join("".join(rng.choice(ALPHABET) for _ in range(10)) for _ in range(1000))
    door.send("check in " + junk, phone="6281299990000")
    assert len(door.replies()) == 1 and len(door.attempts()) == 1


def test_ordinary_chat_with_the_keyword_gets_no_answer(door: Door) -> None:
    event = door.event()
    door.codes(event)
    door.send("kak, jam berapa bisa check in? saya mau checkin besok")
    door.send("I'm checking the schedule")
    assert door.replies() == [] and door.attempts() == [] and door.checkins() == []


def test_invalid_answers_stop_after_a_few(door: Door) -> None:
    event = door.event()
    for body in ("AAAAA", "BBBBB", "CCCCC", "DDDDD", "EEEEE"):
        door.send(f"CHECKIN {display(make_code(event.prefix, body))}")
    assert [r[2] for r in door.attempts()] == [1, 1, 1, 0, 0]
    assert len(door.replies()) == 3
    assert event_counts(door.db, event)["invalid"] == 5


def test_two_rules_on_one_message_make_one_attempt_and_one_reply(door: Door) -> None:
    event = door.event()
    (code,) = door.codes(event)
    door.send(f"CHECKIN {code.display} voucher")  # both templates fire
    assert len(door.checkins()) == 1 and len(door.replies()) == 1


def test_voucher_with_three_uses(door: Door) -> None:
    event = door.event(name="Diskon 20%", mode="voucher", uses=3)
    (code,) = door.codes(event)
    for _ in range(4):
        door.send(f"REDEEM {code.display}")
        door.now += timedelta(minutes=1)
    assert [r[2] for r in door.checkins(event)] == [1, 2, 3]
    replies = door.replies()
    assert "Uses left: 2" in replies[0] and "Uses left: 0" in replies[2]
    assert "used up (last used at 10:02)" in replies[3]


def test_open_event_once_per_phone(door: Door) -> None:
    event = door.event(name="Meetup", mode="open", capacity=100)
    shared = door.db.conn.execute("SELECT code FROM event_codes WHERE event_id = ?", (event.id,)).fetchone()[0]
    door.send(f"CHECKIN {display(shared)}", phone="6281200000001", sender_name="Ani")
    door.send(f"CHECKIN {display(shared)}", phone="6281200000002", sender_name="Budi")
    door.send(f"CHECKIN {display(shared)}", phone="6281200000001", sender_name="Ani")
    assert [r[3] for r in door.checkins(event)] == ["6281200000001", "6281200000002"]
    replies = door.replies()
    assert replies[0].startswith("Halo Ani") and "This number already checked in at 10:00" in replies[2]
    counts = event_counts(door.db, event)
    assert (counts["expected"], counts["checked_in"], counts["duplicates"]) == (100, 2, 1)


def test_custom_reply_text_and_no_reply_option(door: Door) -> None:
    event = door.event(texts={"welcome": "Selamat datang {name} di {event}!"})
    (code,) = door.codes(event)
    door.send(f"CHECKIN {code.display}")
    assert door.replies() == ["Selamat datang Sari di Grand Opening!"]
    quiet = Door(door.path.with_name("quiet.db"), rules=[{
        **TEMPLATES["event-check-in"].rule, "actions": [{"type": "check_in", "event": "*", "reply": False}]}])
    event = quiet.event()
    (code,) = quiet.codes(event)
    quiet.send(f"CHECKIN {code.display}")
    assert len(quiet.checkins()) == 1 and quiet.replies() == []


def test_a_batch_with_many_attendees_and_duplicates(door: Door) -> None:
    event = door.event()
    codes = door.codes(event, *(f"Guest {i}" for i in range(50)))
    messages = [door.message(f"CHECKIN {c.display}", phone=f"62813{i:08d}") for i, c in enumerate(codes)]
    messages += [door.message(f"CHECKIN {codes[0].display}", phone="6281399999999")]
    door.deliver(*messages)  # one batch, one transaction
    assert len(door.checkins(event)) == 50
    assert event_counts(door.db, event)["duplicates"] == 1
    assert len(door.replies()) == 51
