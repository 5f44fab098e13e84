"""Amount normalisation: Indonesian and English formats, and what is not an amount."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.amounts import parse_amount


@pytest.mark.parametrize(("raw", "expected"), [
    ("1500000", 1_500_000),
    ("1.500.000", 1_500_000),
    ("Rp 1.500.000", 1_500_000),
    ("Rp2.000.000,00", 2_000_000),
    ("1,500,000.50", 1_500_000.5),
    ("1.500.000,50", 1_500_000.5),
    ("IDR 750.000", 750_000),
    ("Rp. 99.000", 99_000),
    ("1.500.000.", 1_500_000),  # end of sentence
    ("12,5", 12.5),
    ("0", 0),
    (" 2 500 000 ", 2_500_000),
])
def test_amounts(raw: str, expected: float) -> None:
    assert parse_amount(raw) == expected


@pytest.mark.parametrize("raw", ["", "Rp", "abc", ".,.", "1.50.0", "1,500.000,00", "1.5.0,0",
                                 "12a", "-5"])
def test_not_amounts(raw: str) -> None:
    assert parse_amount(raw) is None


@given(st.integers(min_value=0, max_value=10**15))
def test_indonesian_dots_round_trip(n: int) -> None:
    text = f"{n:,}".replace(",", ".")
    assert parse_amount(text) == n
    assert parse_amount(f"Rp {text}") == n
    assert parse_amount(f"Rp{text},00") == n


@given(st.integers(min_value=0, max_value=10**15))
def test_english_commas_round_trip(n: int) -> None:
    assert parse_amount(f"{n:,}") == n
    assert parse_amount(f"{n:,}.00") == n


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=1, max_value=99))
def test_cents(n: int, cents: int) -> None:
    assert parse_amount(f"{n:,}.{cents:02d}") == pytest.approx(n + cents / 100)
    indonesian = f"{n:,}".replace(",", ".") + f",{cents:02d}"
    assert parse_amount(indonesian) == pytest.approx(n + cents / 100)


@given(st.integers(min_value=0, max_value=10**13),
       st.sampled_from(["rupiah_flexible", "template"]),
       st.sampled_from(["Rp {}", "Rp{}", "rp {},00", "RP {}."]))
def test_captured_rupiah_amount_round_trips(n: int, how: str, shape: str) -> None:
    from engine.evaluate import process_message
    from tests.engine.engine_factories import NOW, TZ, make_lead, make_message, make_ruleset, rule

    action: dict = {"type": "update_value", "target": "lead.value_actual"}
    if how == "template":
        action["pattern"] = r"Rp\s*([0-9.,]+)"  # the seed's Auto-Closing pattern
    else:
        action["preset"] = how
    ruleset = make_ruleset([rule("capture", sender="all", actions=[action])])
    amount = shape.format(f"{n:,}".replace(",", "."))
    message = make_message(text=f"Payment received {amount} terima kasih")
    outcome = process_message(ruleset, make_lead(), message, now=NOW, tz=TZ)
    assert outcome.lead.value_actual == n
