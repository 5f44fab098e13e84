"""Phones as people type them become the digits leads are keyed by (issue #13)."""

from __future__ import annotations

import pytest

from bridge.leads.phones import normalise_lead_phone
from engine.changes import ChangeError


@pytest.mark.parametrize(("typed", "digits"), [
    ("0812-3456-7890", "6281234567890"), ("+62 812 3456 7890", "6281234567890"), ("6281234567890", "6281234567890"),
    ("812 3456 7890", "6281234567890"), ("0062 812-3456-7890", "6281234567890"), ("(021) 555-1234", "62215551234"),
    ("62 0812 3456 7890", "6281234567890"), ("6281234567890@s.whatsapp.net", "6281234567890"),
    ("+65 9123 4567", "6591234567"), ("+1 650 253 0000", "16502530000"),
])
def test_common_forms(typed: str, digits: str) -> None:
    assert normalise_lead_phone(typed) == digits


@pytest.mark.parametrize("typed", ["", "12", "628123", "abc", "0812-3456-7890-1234-5678-9999", "x" * 60])
def test_what_cannot_be_a_phone_is_refused_naming_the_field(typed: str) -> None:
    with pytest.raises(ChangeError) as caught:
        normalise_lead_phone(typed, "no hp")
    assert caught.value.field == "no hp"
