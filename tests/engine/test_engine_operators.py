"""Operators on the field kinds they accept; refused combinations; text normalisation;
keyword lists; numbers given as text; status values checked against the workspace."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from engine.errors import RuleSetError
from engine.fields import FIELDS, FieldKind
from engine.operators import OPERATORS
from engine.rules import default_env, parse_rules
from tests.engine.engine_factories import fires, leaf, make_lead, make_message, parse, rule

SPEC_OPERATORS = {
    "equal": "Equal", "not_equal": "Not Equal", "contains": "Contains",
    "not_contains": "Not Contains", "in_list": "In List", "not_in_list": "Not In List",
    "gt": "Greater Than", "gte": "Greater or Equal", "lt": "Less Than", "lte": "Less or Equal",
    "starts_with": "Starts With", "ends_with": "Ends With", "matches": None, "between": None,
}


def test_operator_registry_is_the_spec_list() -> None:
    assert set(OPERATORS) == set(SPEC_OPERATORS)
    for name, label in SPEC_OPERATORS.items():
        if label is not None:
            assert OPERATORS[name].label == label


def _text(text: str) -> dict[str, Any]:
    return {"message": make_message(text=text)}


def _score(score: float) -> dict[str, Any]:
    return {"lead": make_lead(score=score)}


def _media(flag: bool) -> dict[str, Any]:
    return {"message": make_message(has_media=flag)}


def _tags(*tags: str) -> dict[str, Any]:
    return {"lead": make_lead(tags=frozenset(tags))}


# (field, op, value, event where true, event where false): every operator on every kind
# it accepts.
CASES: list[tuple[str, str, Any, dict[str, Any], dict[str, Any]]] = [
    # text
    ("message.text", "equal", "Mau Order", _text("  mau   ORDER "), _text("mau order dong")),
    ("message.text", "not_equal", "mau order", _text("mau order dong"), _text("MAU ORDER")),
    ("message.text", "contains", "payment received", _text("  PAYMENT   Received Rp 5"),
     _text("payment is received")),
    ("message.text", "not_contains", "promo", _text("halo"), _text("ada PROMO?")),
    ("message.text", "in_list", ["ya", "ok"], _text("OK"), _text("ok sip")),
    ("message.text", "not_in_list", "ya, ok", _text("ok sip"), _text(" Ya ")),
    ("message.text", "starts_with", "checkin", _text("CHECKIN EVT7-K3Q9TZ"),
     _text("please checkin")),
    ("message.text", "ends_with", "?", _text("ada stok?"), _text("? ada stok")),
    ("message.text", "matches", r"k-[0-9]{4}", _text("kode saya [K-1234]"), _text("K-12")),
    # number
    ("lead.score", "equal", 80, _score(80), _score(81)),
    ("lead.score", "not_equal", 80, _score(81), _score(80)),
    ("lead.score", "in_list", [10, 20], _score(20), _score(15)),
    ("lead.score", "not_in_list", "10, 20", _score(15), _score(10)),
    ("lead.score", "gt", 80, _score(81), _score(80)),
    ("lead.score", "gte", 80, _score(80), _score(79)),
    ("lead.score", "lt", 80, _score(79), _score(80)),
    ("lead.score", "lte", 80, _score(80), _score(81)),
    ("lead.score", "gte", -5, _score(-5), _score(-6)),
    # bool
    ("message.has_media", "equal", True, _media(True), _media(False)),
    ("message.has_media", "equal", "false", _media(False), _media(True)),
    ("message.has_media", "not_equal", True, _media(False), _media(True)),
    # tags
    ("lead.tags", "equal", "VIP", _tags("vip", "repeat"), _tags("repeat")),
    ("lead.tags", "not_equal", "vip", _tags("repeat"), _tags("vip")),
    ("lead.tags", "contains", "vip, promo", _tags("promo-nov"), _tags("repeat")),
    ("lead.tags", "not_contains", "vip", _tags("repeat"), _tags("vip")),
    ("lead.tags", "in_list", ["vip", "gold"], _tags("gold", "x"), _tags("silver")),
    ("lead.tags", "not_in_list", ["vip", "gold"], _tags("silver"), _tags("vip")),
    # time
    ("time.local", "between", "09:00-17:00", {}, {"message": make_message(
        timestamp=make_message().timestamp.replace(hour=11))}),  # 18:00 in Jakarta
]


@pytest.mark.parametrize(("field", "op", "value", "true_event", "false_event"), CASES,
                         ids=[f"{c[1]}-{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_operator_on_kind(field: str, op: str, value: Any, true_event: dict[str, Any],
                          false_event: dict[str, Any]) -> None:
    assert fires(leaf(field, op, value), **true_event) is True
    assert fires(leaf(field, op, value), **false_event) is False


def test_cases_cover_every_operator_and_kind() -> None:
    covered = {(op, FIELDS[field].kind) for field, op, *_ in CASES}
    for name, spec in OPERATORS.items():
        for kind in spec.kinds:
            assert (name, kind) in covered, f"{name} on {kind.value} has no case"


# A representative field per kind, for the refused combinations.
FIELD_OF_KIND = {
    FieldKind.TEXT: ("message.text", "x"),
    FieldKind.NUMBER: ("chat.count", 2),
    FieldKind.BOOL: ("message.is_group", True),
    FieldKind.TIME: ("time.local", "09:00-17:00"),
    FieldKind.TAGS: ("message.room_tags", "vip"),
}
REFUSED = [(op, kind) for op, spec in OPERATORS.items() for kind in FieldKind
           if kind not in spec.kinds]


@pytest.mark.parametrize(("op", "kind"), REFUSED, ids=[f"{o}-{k.value}" for o, k in REFUSED])
def test_operator_refused_on_other_kinds(op: str, kind: FieldKind) -> None:
    field, value = FIELD_OF_KIND[kind]
    with pytest.raises(RuleSetError) as info:
        parse([rule(conditions=[leaf(field, op, value)])])
    (error,) = info.value.errors
    assert error.path == "rules[0].conditions[0].op"
    assert op in error.message


@pytest.mark.parametrize(("field", "op"), [
    ("message.text", "gt"), ("message.text", "between"), ("chat.count", "contains"),
    ("time.local", "equal"), ("message.is_group", "contains"), ("lead.status", "lte"),
])
def test_spec_examples_of_refused_combinations(field: str, op: str) -> None:
    with pytest.raises(RuleSetError) as info:
        parse([rule(conditions=[leaf(field, op, "2")])])
    assert info.value.errors[0].path == "rules[0].conditions[0].op"


def test_unknown_operator_refused() -> None:
    with pytest.raises(RuleSetError) as info:
        parse([rule(conditions=[leaf("message.text", "like", "x")])])
    assert info.value.errors[0].path == "rules[0].conditions[0].op"


# ------------------------------------------------------------------ text semantics


@pytest.mark.parametrize(("text", "value", "expected"), [
    ("  PAYMENT   Received ", "payment received", True),
    ("payment\nreceived", "Payment Received", True),
    ("reorder please", "order", True),  # substring, not whole word
    ("bookingan", "booking", True),
    ("I want to buy", "order, buy, booking", True),  # comma-separated: any keyword
    ("mau booking kak", "order, buy, booking", True),
    ("halo kak", "order, buy, booking", False),
    ("halo kak", ["order", "buy"], False),
    ("BUY now", ["order", "buy"], True),
    ("", "order", False),
])
def test_contains(text: str, value: Any, expected: bool) -> None:
    assert fires(leaf("message.text", "contains", value), message=make_message(text=text)) \
        is expected


def test_not_contains_any_keyword() -> None:
    cond = leaf("message.text", "not_contains", "order, buy")
    assert fires(cond, message=make_message(text="mau buy")) is False
    assert fires(cond, message=make_message(text="halo")) is True


@pytest.mark.parametrize(("op", "value", "text", "expected"), [
    ("starts_with", "halo, hai", "Hai kak", True),
    ("starts_with", "halo", "  HALO kak", True),
    ("starts_with", "kak", "halo kak", False),
    ("ends_with", "kak, sis", "makasih  SIS ", True),
    ("ends_with", "kak", "kak halo", False),
])
def test_starts_and_ends_with(op: str, value: str, text: str, expected: bool) -> None:
    assert fires(leaf("message.text", op, value), message=make_message(text=text)) is expected


def test_in_list_from_toml_array_and_comma_string() -> None:
    document = tomllib.loads("""
[[rules]]
name = "array"
conditions = [ { field = "lead.city", op = "in_list", value = ["Jakarta", "Bandung"] } ]
actions = [ { type = "add_tag", tag = "a" } ]

[[rules]]
name = "comma"
conditions = [ { field = "lead.city", op = "in_list", value = "jakarta,  bandung" } ]
actions = [ { type = "add_tag", tag = "b" } ]
""")
    rules = parse_rules(document, default_env(["new"]))
    for parsed in rules:
        raw = parsed.to_dict()
        raw["sender"] = "all"
        for city, expected in (("BANDUNG", True), ("Bogor", False)):
            assert fires(raw["conditions"], lead=make_lead(city=city)) is expected


def test_in_list_from_json_array() -> None:
    import json

    value = json.loads('["medium", "high"]')
    assert fires(leaf("lead.priority", "in_list", value), lead=make_lead(priority="High"))
    assert not fires(leaf("lead.priority", "in_list", value), lead=make_lead(priority="low"))


@pytest.mark.parametrize(("op", "value", "count_before", "expected"), [
    ("gt", "2", 2, True),  # this message makes 3
    ("gt", "2", 1, False),
    ("gte", " 3 ", 2, True),
    ("equal", "1", 0, True),
    ("lt", "2", 0, True),
    ("in_list", "3, 4", 2, True),
    ("in_list", ["3", "4"], 0, False),
])
def test_numbers_as_text_for_chat_count(op: str, value: Any, count_before: int,
                                        expected: bool) -> None:
    lead = make_lead(chat_count=count_before)
    assert fires(leaf("chat.count", op, value), lead=lead) is expected


@pytest.mark.parametrize("value", ["two", "", True, [1], None])
def test_number_operator_refuses_non_numbers(value: Any) -> None:
    with pytest.raises(RuleSetError) as info:
        parse([rule(conditions=[leaf("chat.count", "gt", value)])])
    assert info.value.errors[0].path == "rules[0].conditions[0].value"


@pytest.mark.parametrize(("field", "op", "value"), [
    ("lead.status", "equal", "closed"),
    ("lead.status", "in_list", "new, closed"),
    ("lead.status", "not_in_list", ["hot", "archived"]),
    ("lead.status", "not_equal", "qualified"),
])
def test_unknown_status_refused(field: str, op: str, value: Any) -> None:
    with pytest.raises(RuleSetError) as info:
        parse([rule(conditions=[leaf(field, op, value)])])
    assert info.value.errors[0].path == "rules[0].conditions[0].value"


@pytest.mark.parametrize("field", ["status.from", "status.to"])
def test_unknown_status_refused_on_status_changed_fields(field: str) -> None:
    with pytest.raises(RuleSetError) as info:
        parse([rule(conditions=[leaf(field, "equal", "closed")], trigger="lead.status_changed")])
    assert info.value.errors[0].path == "rules[0].conditions[0].value"


def test_statuses_are_the_workspace_list() -> None:
    statuses = ["baru", "prospek", "deal"]
    parse([rule(conditions=[leaf("lead.status", "equal", "Prospek")])], statuses)
    with pytest.raises(RuleSetError):
        parse([rule(conditions=[leaf("lead.status", "equal", "new")])], statuses)
    assert fires(leaf("lead.status", "equal", "PROSPEK"), lead=make_lead(status="prospek"),
                 statuses=statuses)


@pytest.mark.parametrize(("field", "value"), [
    ("message.type", "gif"), ("message.sender_type", "Team/CS"),
])
def test_closed_vocabularies_refuse_unknown_values(field: str, value: str) -> None:
    with pytest.raises(RuleSetError) as info:
        parse([rule(conditions=[leaf(field, "equal", value)])])
    assert info.value.errors[0].path == "rules[0].conditions[0].value"


@pytest.mark.parametrize("value", [[], "", " , ", [""], None, {"a": 1}])
def test_empty_keyword_lists_refused(value: Any) -> None:
    with pytest.raises(RuleSetError) as info:
        parse([rule(conditions=[leaf("message.text", "contains", value)])])
    assert info.value.errors[0].path.startswith("rules[0].conditions[0].value")


@pytest.mark.parametrize("value", ["maybe", 2, None])
def test_bool_value_refused(value: Any) -> None:
    with pytest.raises(RuleSetError) as info:
        parse([rule(conditions=[leaf("message.is_group", "equal", value)])])
    assert info.value.errors[0].path == "rules[0].conditions[0].value"


def test_missing_value_refused() -> None:
    with pytest.raises(RuleSetError) as info:
        parse([rule(conditions=[{"field": "message.text", "op": "contains"}])])
    assert info.value.errors[0].path == "rules[0].conditions[0].value"


def test_unknown_field_refused() -> None:
    with pytest.raises(RuleSetError) as info:
        parse([rule(conditions=[leaf("lead.favourite_colour", "equal", "red")])])
    assert info.value.errors[0].path == "rules[0].conditions[0].field"
