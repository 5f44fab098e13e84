"""Errors raised by `store`."""

from __future__ import annotations


class StoreError(Exception):
    """Root of every error raised by `store`."""


class NotFoundError(StoreError):
    """A row that was asked for by key does not exist."""


class DatabaseVersionError(StoreError):
    """The database was written by a newer wabridge than this one."""


MAX_ROW_ID = 2**63 - 1  # SQLite's INTEGER PRIMARY KEY range


def row_id(text: str) -> int | None:
    """`text` as a row id when it is one (ASCII digits, 1 … 2^63-1), else None.

    `str.isdigit` accepts "²" and "١", and SQLite refuses integers past 2^63 with
    OverflowError; a reference that cannot be an id simply matches nothing.
    """
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ROW_ID else None
