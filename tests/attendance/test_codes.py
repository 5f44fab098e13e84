"""Codes: an unambiguous alphabet, a check character that catches typos, tolerant finding."""

from __future__ import annotations

import random
import string
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.attendance import (
    ALPHABET,
    MAX_CANDIDATES,
    MAX_SCAN_TOKENS,
    check_char,
    checks_out,
    compact_of,
    display,
    make_code,
    prefix_for_id,
    scan,
    wa_link,
)

CODE = make_code("EVT7", "K3Q9T")
randoms = st.text(alphabet=ALPHABET, min_size=5, max_size=5)
prefixes = st.text(alphabet=ALPHABET, min_size=2, max_size=6)


def test_alphabet_has_no_look_alikes() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 32
    assert not set("0O1I") & set(ALPHABET)
    assert set(ALPHABET) <= set(string.ascii_uppercase + string.digits)


def test_code_shape_and_link() -> None:
    assert len(CODE) == 10 and CODE.startswith("EVT7K3Q9T")
    assert display(CODE) == f"EVT7-K3Q9T{CODE[-1]}"
    assert checks_out(CODE)
    assert wa_link("6281100000001", "CHECKIN", CODE) == (
        f"https://wa.me/6281100000001?text=CHECKIN%20EVT7-K3Q9T{CODE[-1]}")
    assert unquote(wa_link("6281100000001", "CHECKIN", CODE).split("text=")[1]) == f"CHECKIN {display(CODE)}"


def test_default_prefixes_use_the_alphabet() -> None:
    assert prefix_for_id("EVT", 5) == "EVT7"
    assert prefix_for_id("EVT", 0) == "EVT2"
    assert all(set(prefix_for_id("VCH", n)) <= set(ALPHABET) for n in range(2000))
    assert len({prefix_for_id("EVT", n) for n in range(2000)}) == 2000


@given(prefix=prefixes, body=randoms, position=st.integers(0, 11), replacement=st.sampled_from(ALPHABET))
@settings(max_examples=400, deadline=None)
def test_every_single_character_typo_is_caught(prefix: str, body: str, position: int, replacement: str) -> None:
    code = make_code(prefix, body)
    position %= len(code)
    typo = code[:position] + replacement + code[position + 1:]
    assert checks_out(typo) == (typo == code)


def test_swapped_neighbours_are_caught() -> None:
    rng = random.Random(7)
    swaps = caught = 0
    for _ in range(3000):
        code = make_code("EVT7", "".join(rng.choice(ALPHABET) for _ in range(5)))
        i = rng.randrange(len(code) - 1)
        if code[i] == code[i + 1]:
            continue
        swaps += 1
        caught += not checks_out(code[:i] + code[i + 1] + code[i] + code[i + 2:])
    assert caught / swaps > 0.95  # Luhn mod N misses only a few symbol pairs


@pytest.mark.parametrize("text", [
    "CHECKIN {code}", "checkin {lower}", "Halo kak, mau CHECKIN {code} ya, terima kasih!",
    "check in: {spaced}", "{compact}", "CHECKIN\n{code}\n", "CHECKIN {code}.", "CHECKIN ({code})",
    "checkin {prefix} - {body}", "CHECKIN {prefix}_{body}",
])
def test_scan_finds_the_code_however_it_is_written(text: str) -> None:
    shown = display(CODE)
    prefix, body = shown.split("-")
    spaced = f"{prefix} {body[:3]} {body[3:]}".lower()
    message = text.format(code=shown, lower=shown.lower(), spaced=spaced, compact=CODE.lower(),
                          prefix=prefix, body=body)
    assert CODE in scan(message).codes


def test_scan_of_a_typo_gives_a_look_alike_not_a_code() -> None:
    wrong = CODE[:-1] + ("Z" if CODE[-1] != "Z" else "Y")
    found = scan(f"CHECKIN {display(wrong)}")
    assert found.codes == () and wrong in found.near


def test_scan_ignores_what_cannot_be_a_code() -> None:
    # Ordinary words may look like codes with a wrong check character; the decision
    # ignores look-alikes without one of our event prefixes (test_decide).
    assert scan("halo kak, ada ukuran 39?").codes == ()
    assert scan("CHECKIN").empty
    assert scan("").empty
    # 0, O, 1 and I are never in codes: words with them are not candidates
    assert scan("CHECKIN OOOOIIII1100").empty


@given(st.text(max_size=200), st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_scan_finds_a_code_among_any_words(before: str, after: str) -> None:
    assert CODE in scan(f"{before} CHECKIN {display(CODE)} {after}").codes or (
        # glued to neighbouring letters it is a different word; that is fine
        before[-1:].isalnum() or after[:1].isalnum())


def test_scan_work_is_bounded_on_a_huge_message() -> None:
    rng = random.Random(1)
    words = [make_code("EVT7", "".join(rng.choice(ALPHABET) for _ in range(5))) for _ in range(5000)]
    found = scan(" ".join(words))  # ~55 kB of valid-looking codes
    assert found.overflow
    assert len(found.codes) <= MAX_CANDIDATES and len(found.near) <= MAX_CANDIDATES
    long_text = "kata " * (MAX_SCAN_TOKENS + 10) + display(CODE)
    tail = scan(long_text)
    assert tail.overflow and CODE not in tail.codes


def test_compact_of_what_people_type() -> None:
    assert compact_of(" evt7 - k3q9tz ") == "EVT7K3Q9TZ"
    assert check_char("EVT7K3Q9T") == CODE[-1]
