"""Spec points found missing by the first engine review, now met: sender digits, finite numbers."""

from __future__ import annotations

import pytest

from engine.errors import RuleSetError
from tests.engine.engine_factories import CUSTOMER, fires, leaf, make_lead, make_message, parse, rule


@pytest.mark.parametrize(("op", "value"), [
    ("equal", CUSTOMER.split("@")[0]),
    ("in_list", [CUSTOMER.split("@")[0], "6289999"]),
    ("ends_with", CUSTOMER.split("@")[0][-4:]),
])
def test_sender_condition_accepts_phone_digits(op: str, value: object) -> None:
    assert fires(leaf("message.sender", op, value), message=make_message())


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_non_finite_numbers_refused(value: str) -> None:
    with pytest.raises(RuleSetError):
        parse([rule(conditions=[leaf("chat.count", "gt", value)])])


@pytest.mark.parametrize(("value", "expected"), [("1,000", 1000), ("1.500.000", 1500000), ("2,5", 2.5),
                                                 ("-3", -3), (7, 7)])
def test_numbers_in_rules_read_as_people_write_them(value: object, expected: float) -> None:
    assert fires(leaf("lead.score", "equal", value), lead=make_lead(score=expected))
