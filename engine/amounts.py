"""Amount normalisation for Indonesian and English number formats.

`Rp 1.500.000` → 1500000, `Rp2.000.000,00` → 2000000, `1,500,000.50` → 1500000.5.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]")
# Our own fixed patterns; user patterns never reach Python's `re`.
_GROUPED = re.compile(r"^[0-9]{1,3}([.,][0-9]{3})+$")


def parse_amount(raw: str) -> float | None:
    """Return the number a captured amount means, or None if it is not an amount."""
    text = raw.strip()
    for prefix in ("rp.", "rp", "idr"):
        if text.casefold().startswith(prefix):
            text = text[len(prefix) :].strip()
            break
    text = text.replace(" ", "").replace("\u00a0", "")
    if not text or not _DIGITS.search(text) or not set(text) <= set("0123456789.,"):
        return None
    text = text.strip(".,") if text[-1] in ".," else text
    if not text:
        return None
    if _GROUPED.match(text) and len({c for c in text if c in ".,"}) == 1:
        # Only one kind of separator, every group of three: thousands separators
        # (`1.500.000`, `1,500,000`).
        return float(text.replace(".", "").replace(",", ""))
    last_dot, last_comma = text.rfind("."), text.rfind(",")
    decimal_at = max(last_dot, last_comma)
    if decimal_at == -1:
        return float(text)
    integer_part, fraction = text[:decimal_at], text[decimal_at + 1 :]
    integer_digits = integer_part.replace(".", "").replace(",", "")
    if not integer_digits and not fraction:
        return None
    if not fraction.isdigit():
        return None
    if integer_part and not _valid_grouping(integer_part):
        return None
    return float(f"{integer_digits or '0'}.{fraction}")


def _valid_grouping(integer_part: str) -> bool:
    """Accept `1500000`, `1.500.000`, `1,500,000`; refuse `1.50.0` or mixed separators."""
    separators = {c for c in integer_part if c in ".,"}
    if not separators:
        return integer_part.isdigit()
    if len(separators) > 1:
        return False
    return bool(_GROUPED.match(integer_part))
