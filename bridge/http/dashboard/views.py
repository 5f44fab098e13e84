"""View helpers shared by the dashboard's screens: statuses, times, money, a lead's fields.

Money as the dashboard's users write it: Indonesian Rupiah, "Rp 1.500.000". Dots group
thousands; a value with a fractional part shows two decimals after a comma
("Rp 1.500.000,50"). The CSV export and the JSON API keep plain numbers (machines read
them); only pages use this. Registered as the Jinja filter `rupiah` (bridge.http).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from bridge.daemon.sessions import SessionControl
from bridge.http.auth import render
from bridge.http.errors import ApiError
from engine.model import DEFAULT_STATUSES, Lead

__all__ = ["CSV_COLUMNS", "NO_VALUE", "full_lead", "page", "rupiah", "statuses", "valid_phone", "when"]

CSV_COLUMNS = tuple(f.name for f in fields(Lead))

NO_VALUE = "—"  # what pages show for an unset value
_CENT = Decimal("0.01")


def rupiah(value: object) -> str:
    """`1500000` → "Rp 1.500.000"; `-2500.5` → "-Rp 2.500,50"; None or "" → "—".

    Text that is not a number is shown as it is (a page never fails over a bad value).
    """
    if value is None or value == "":
        return NO_VALUE
    if isinstance(value, bool):
        return str(value)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return str(value)
    if not amount.is_finite():
        return str(value)
    cents = int((abs(amount) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    whole, fraction = divmod(cents, 100)
    text = f"{whole:,}".replace(",", ".")
    if fraction:
        text += f",{fraction:02d}"
    sign = "-" if amount < 0 and cents else ""
    return f"{sign}Rp {text}"


def statuses(control: SessionControl) -> tuple[str, ...]:
    """The workspace's lead statuses (the daemon's config), or the defaults."""
    workspace = getattr(control, "workspace", None)
    return tuple(getattr(workspace, "statuses", DEFAULT_STATUSES))


def when(value: Any) -> str:
    """A timestamp for people: '2026-11-23 14:05' (UTC offset dropped), or '—'."""
    if value is None or value == "":
        return "—"
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M")


def full_lead(lead: dict[str, Any]) -> dict[str, Any]:
    """Every export field present (None when unset), so templates can rely on them."""
    return {**{name: None for name in CSV_COLUMNS}, "tags": [], "chat_count": 0, **lead}


def valid_phone(phone: str) -> str:
    """The lead's phone in digits, or a 400 naming the `phone` field."""
    if not phone.isdigit() or not 5 <= len(phone) <= 20:
        raise ApiError(400, "bad_request", f"phone: {phone!r} is not a phone number in digits, "
                       "e.g. 6281200000002", field="phone")
    return phone


def page(request: web.Request, name: str, screen: str, *, status: int = 200, **context: Any) -> web.Response:
    return render(request, name, status=status, screen=screen, when=when, **context)
