"""CSV cells that are safe to open in a spreadsheet (every CSV wabridge writes uses this)."""

from __future__ import annotations

from typing import Any

# First characters a spreadsheet treats as the start of a formula.
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading '.

    Numbers stay numbers: a negative value is data, not a formula.
    """
    if isinstance(value, str) and value.startswith(CSV_FORMULA_STARTS):
        return "'" + value
    return value
