"""Fields: every registered field is readable by a condition; DESIGN's table is registered;
a field without a value makes its condition false, except for the negative operators."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine.errors import RuleSetError
from engine.fields import FIELDS, FieldKind
from tests.engine.engine_factories import (
    ADMIN_JID,
    fires,
    leaf,
    make_lead,
    make_message,
    parse,
    rule,
)

# DESIGN.md's field table, with the seed page's UI labels (the seed says "Sender ID (JID)").
DESIGN_FIELDS: dict[str, str | None] = {
    "message.text": "Message",
    "message.sender": "Sender ID (JID)",
    "message.type": "Message Type",
    "message.is_group": "Is Group Chat",
    "time.local": "Time Window",
    "chat.count": "Chat Count",
    "message.room_tags": "Room Tags (Qontak)",
    "message.has_media": "Has Media",
    "message.is_reply": "Reply to Message",
    "message.first_contact": "First Contact",
    "message.sender_name": "Customer Name",
    "message.sender_type": "Sender Type",
    "message.partner_source": "Partner Source",
    "message.channel_id": "Channel ID",
    "lead.status": "Lead Status",
    "lead.priority": "Lead Priority",
    "lead.score": "Lead Score",
    "lead.source": "Lead Source",
    "lead.notes": "Lead Notes",
    "lead.city": "Lead City",
    "lead.region": "Lead Region",
    "lead.country": "Lead Country",
    "lead.utm_source": "UTM Source",
    "lead.utm_medium": "UTM Medium",
    "lead.utm_campaign": "UTM Campaign",
    "lead.utm_term": "UTM Term",
    "lead.utm_content": "UTM Content",
    # No seed label: targets of Update Lead Value, tags set by actions, status_changed.
    "lead.value_actual": None,
    "lead.value_potential": None,
    "lead.tags": None,
    "status.from": None,
    "status.to": None,
}


@pytest.mark.parametrize("name", sorted(DESIGN_FIELDS))
def test_design_field_is_registered_with_seed_label(name: str) -> None:
    assert name in FIELDS, f"{name} (DESIGN.md field table) is not registered"
    label = DESIGN_FIELDS[name]
    if label is not None:
        assert FIELDS[name].label == label
    else:
        assert FIELDS[name].label  # every field has a label for the UI


def test_registry_keys_match_spec_names() -> None:
    for name, spec in FIELDS.items():
        assert spec.name == name


# ------------------------------------------------------------------ every field reads its value

Event = dict[str, Any]


def _msg(**kw: Any) -> Event:
    return {"message": make_message(**kw)}


def _lead(**kw: Any) -> Event:
    return {"lead": make_lead(**kw)}


def _status(status_from: str, status_to: str) -> Event:
    return {"trigger": "lead.status_changed", "lead": make_lead(status=status_to),
            "status_from": status_from}


def _at(hour: int, minute: int) -> Event:
    # Jakarta is UTC+7 all year.
    return _msg(timestamp=datetime(2026, 11, 23, (hour - 7) % 24, minute, tzinfo=UTC))


# field -> (op, value, event where the condition holds, event where it does not)
FIELD_CASES: dict[str, tuple[str, Any, Event, Event]] = {
    "message.text": ("contains", "order", _msg(text="saya mau ORDER"), _msg(text="halo")),
    "message.sender": ("equal", "6281234567890@s.whatsapp.net", _msg(),
                       _msg(sender="6289999999999@s.whatsapp.net",
                            chat="6289999999999@s.whatsapp.net")),
    "message.type": ("equal", "image", _msg(type="image"), _msg(type="text")),
    "message.is_group": ("equal", True, _msg(is_group=True, chat="1203@g.us"), _msg()),
    "time.local": ("between", "09:00-17:00", _at(9, 30), _at(17, 30)),
    # chat.count includes the current customer message: 2 before + this one = 3.
    "chat.count": ("gte", 3, {"lead": make_lead(chat_count=2)},
                   {"lead": make_lead(chat_count=1)}),
    "message.room_tags": ("contains", "vip", _msg(room_tags=("VIP", "repeat")),
                          _msg(room_tags=("repeat",))),
    "message.has_media": ("equal", True, _msg(has_media=True, type="image"), _msg()),
    "message.is_reply": ("equal", True, _msg(is_reply=True), _msg()),
    "message.first_contact": ("equal", True, {"lead": make_lead(chat_count=0)},
                              {"lead": make_lead(chat_count=4)}),
    "message.is_edit": ("equal", True, _msg(is_edit=True, original_id="ORIG1"), _msg()),
    "message.sender_name": ("equal", "budi", _msg(sender_name="Budi"), _msg(sender_name="Sari")),
    "message.sender_type": ("equal", "team", _msg(from_me=True), _msg()),
    "message.partner_source": ("equal", "qontak", _msg(partner_source="qontak"), _msg()),
    "message.channel_id": ("equal", "page-77", _msg(channel_id="page-77"),
                           _msg(channel_id="page-78")),
    "lead.status": ("equal", "hot", _lead(status="hot"), _lead(status="new")),
    "lead.priority": ("equal", "urgent", _lead(priority="Urgent"), _lead(priority="low")),
    "lead.score": ("gte", 80, _lead(score=80), _lead(score=79)),
    "lead.source": ("in_list", "ads, website", _lead(source="ads"), _lead(source="whatsapp")),
    "lead.notes": ("contains", "follow up tomorrow",
                   _lead(notes="Please FOLLOW  up tomorrow morning"), _lead(notes="done")),
    "lead.city": ("equal", "jakarta", _lead(city="Jakarta"), _lead(city="Bandung")),
    "lead.region": ("equal", "west java", _lead(region="West Java"), _lead(region="Bali")),
    "lead.country": ("equal", "ID", _lead(country="id"), _lead(country="SG")),
    "lead.utm_source": ("equal", "facebook", _lead(utm_source="facebook"),
                        _lead(utm_source="google")),
    "lead.utm_medium": ("equal", "cpc", _lead(utm_medium="cpc"), _lead(utm_medium="email")),
    "lead.utm_campaign": ("starts_with", "ramadan", _lead(utm_campaign="ramadan-promo"),
                          _lead(utm_campaign="promo-ramadan")),
    "lead.utm_term": ("equal", "shoes", _lead(utm_term="shoes"), _lead(utm_term="bags")),
    "lead.utm_content": ("ends_with", "-1", _lead(utm_content="video-1"),
                         _lead(utm_content="video-2")),
    "lead.value_actual": ("gt", 1_000_000, _lead(value_actual=1_500_000.0),
                          _lead(value_actual=900_000.0)),
    "lead.value_potential": ("lte", 500, _lead(value_potential=500.0),
                             _lead(value_potential=501.0)),
    "lead.name": ("equal", "sari", _lead(name="Sari"), _lead(name="Budi")),
    "lead.phone": ("starts_with", "62812", _lead(), _lead(phone="6589990000")),
    "lead.tags": ("contains", "vip", _lead(tags=frozenset({"vip"})), _lead()),
    "status.from": ("equal", "new", _status("new", "responded"), _status("hot", "responded")),
    "status.to": ("equal", "hot", _status("responded", "hot"), _status("responded", "lost")),
    # A message's own pass sees "message"; a change by hand (process_lead_event) its origin, "api".
    "change.by": ("equal", "message", _msg(), _status("new", "hot")),
}


def test_every_registered_field_has_a_case() -> None:
    assert set(FIELD_CASES) == set(FIELDS)


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_condition_reads_the_field(name: str) -> None:
    op, value, true_event, false_event = FIELD_CASES[name]
    condition = leaf(name, op, value)
    assert fires(condition, **true_event) is True
    assert fires(condition, **false_event) is False


def test_field_kinds_fit_their_values() -> None:
    kinds = {n: s.kind for n, s in FIELDS.items()}
    assert kinds["time.local"] is FieldKind.TIME
    for name in ("chat.count", "lead.score", "lead.value_actual", "lead.value_potential"):
        assert kinds[name] is FieldKind.NUMBER
    for name in ("message.is_group", "message.has_media", "message.is_reply",
                 "message.first_contact"):
        assert kinds[name] is FieldKind.BOOL
    assert kinds["message.room_tags"] is FieldKind.TAGS
    assert kinds["lead.tags"] is FieldKind.TAGS


# ------------------------------------------------------------------ missing values

TEXT_OPS_ON_MISSING = [
    ("equal", "jakarta", False),
    ("contains", "jak", False),
    ("in_list", "jakarta, bandung", False),
    ("starts_with", "ja", False),
    ("ends_with", "ta", False),
    ("matches", "^j", False),
    ("not_equal", "jakarta", True),
    ("not_contains", "jak", True),
    ("not_in_list", "jakarta, bandung", True),
]


@pytest.mark.parametrize(("op", "value", "expected"), TEXT_OPS_ON_MISSING)
def test_lead_without_city(op: str, value: str, expected: bool) -> None:
    assert fires(leaf("lead.city", op, value), lead=make_lead(city=None)) is expected


@pytest.mark.parametrize(("op", "value", "expected"), TEXT_OPS_ON_MISSING)
def test_message_without_sender_name(op: str, value: str, expected: bool) -> None:
    message = make_message(sender_name=None)
    assert fires(leaf("message.sender_name", op, value), message=message,
                 lead=make_lead(name=None)) is expected


@pytest.mark.parametrize(("op", "value", "expected"), [
    ("equal", 0, False), ("gt", -1, False), ("gte", 0, False), ("lt", 1, False),
    ("lte", 0, False), ("in_list", [0, 1], False),
    ("not_equal", 0, True), ("not_in_list", [0, 1], True),
])
def test_lead_without_value_actual(op: str, value: Any, expected: bool) -> None:
    # None is "no value", not 0.
    lead = make_lead(value_actual=None)
    assert fires(leaf("lead.value_actual", op, value), lead=lead) is expected


def test_empty_text_counts_as_missing() -> None:
    lead = make_lead(city="")
    assert fires(leaf("lead.city", "not_equal", "jakarta"), lead=lead) is True
    assert fires(leaf("lead.city", "in_list", "jakarta, bandung"), lead=lead) is False


@pytest.mark.parametrize(("op", "value", "expected"), [
    ("contains", "halo", False),
    ("equal", "halo", False),
    ("not_contains", "halo", True),
])
def test_message_fields_have_no_value_without_a_message(op: str, value: str,
                                                        expected: bool) -> None:
    # A lead created by hand (no message): lead.created rules see no message text.
    assert fires(leaf("message.text", op, value), trigger="lead.created") is expected


def test_message_fields_refused_on_status_changed_trigger() -> None:
    with pytest.raises(RuleSetError) as info:
        parse([rule(conditions=[leaf("message.text", "contains", "x")],
                    trigger="lead.status_changed")])
    assert info.value.errors[0].path == "rules[0].conditions[0].field"


def test_team_message_sender_fields() -> None:
    message = make_message(from_me=True)
    assert fires(leaf("message.sender", "equal", ADMIN_JID), message=message) is True
    assert fires(leaf("message.sender_type", "equal", "customer"), message=message) is False
