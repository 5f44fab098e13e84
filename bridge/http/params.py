"""One way to read numbers from a request: path ids and paging parameters.

Every number a client sends is checked here, so none can reach SQLite out of range
(integers past 2^63 raise OverflowError there) or make `int()` parse thousands of
digits: only ASCII digits, at most 19 of them, within the documented bounds.
"""

from __future__ import annotations

from aiohttp import web

from bridge.http.errors import ApiError
from store.errors import MAX_ROW_ID

MAX_DIGITS = 19  # 2^63 - 1 has 19 digits


def whole_number(raw: str, name: str, low: int, high: int) -> int:
    """`raw` as an int in [low, high], or a 400 naming `name` and the bounds."""
    text = raw.strip()
    if not text or not text.isascii() or not text.isdigit() or len(text) > MAX_DIGITS:
        raise ApiError(400, "bad_request", f"{name}: {raw[:40]!r} is not a whole number from {low} to {high}",
                       field=name)
    value = int(text)
    if not low <= value <= high:
        raise ApiError(400, "bad_request", f"{name}: must be a whole number from {low} to {high}, not {value}",
                       field=name)
    return value


def path_id(request: web.Request, name: str) -> int:
    """A row id from the path (`/api/rules/{id}`): 1 … 2^63-1, else 400 naming it."""
    return whole_number(request.match_info[name], name, 1, MAX_ROW_ID)


def query_int(request: web.Request, name: str, default: int, low: int, high: int = MAX_ROW_ID) -> int:
    """An optional whole-number query parameter (`?limit=`, `?offset=`) within bounds."""
    values = request.query.getall(name, [])
    if not values or values[-1] == "":
        return default
    if len(values) > 1:
        raise ApiError(400, "bad_request", f"{name}: give this parameter once", field=name)
    return whole_number(values[0], name, low, high)
