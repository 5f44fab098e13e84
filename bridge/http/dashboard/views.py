"""View helpers shared by the dashboard's screens: statuses, money, a lead's fields.

Money as the dashboard's users write it: Indonesian Rupiah, "Rp 1.500.000" (bridge.i18n.money).
The CSV export and the JSON API keep plain numbers (machines read them); only pages use it.
Times go through the page language's `when()` (bridge.i18n.Wording), a template global.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bridge.daemon.sessions import SessionControl
from bridge.http.auth import render
from bridge.http.errors import ApiError
from bridge.i18n import N_, NO_VALUE, money
from engine.model import DEFAULT_STATUSES, LEAD_FIELDS

__all__ = ["CSV_COLUMNS", "FIELD_WORDS", "NO_VALUE", "contact", "full_lead", "is_lead_key", "page", "rupiah",
           "statuses", "valid_phone"]

# A business-scoped user id (Cloud API usernames): country code, optional ENT, the id.
USER_ID_KEY = re.compile(r"^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,64}$")

CSV_COLUMNS = LEAD_FIELDS

# Lead fields as a lead's history names them (msgids).
FIELD_WORDS: dict[str, str] = {
    "status": N_("Status"), "name": N_("Name"), "priority": N_("Priority"), "score": N_("Score"),
    "source": N_("Source"), "notes": N_("Notes"), "city": N_("City"), "region": N_("Region"),
    "country": N_("Country"), "value_actual": N_("Value"), "value_potential": N_("Potential value"),
    "tags": N_("Tags"), "utm_campaign": N_("Campaign"), "utm_source": N_("UTM source"),
    "utm_medium": N_("UTM medium"), "utm_term": N_("UTM term"), "utm_content": N_("UTM content"),
}
# A lead's priority values as pages show them (engine.changes.PRIORITIES; the value stays English).
PRIORITY_WORDS: dict[str, str] = {"low": N_("low"), "medium": N_("medium"), "high": N_("high"),
                                  "urgent": N_("urgent")}


def rupiah(value: object) -> str:
    """`1500000` → "Rp 1.500.000" (bridge.i18n.money, the pages' `rupiah` filter)."""
    return money(value)


def statuses(control: SessionControl) -> tuple[str, ...]:
    """The workspace's lead statuses (the daemon's config), or the defaults."""
    workspace = getattr(control, "workspace", None)
    return tuple(getattr(workspace, "statuses", DEFAULT_STATUSES))


def full_lead(lead: dict[str, Any]) -> dict[str, Any]:
    """Every export field present (None when unset), so templates can rely on them."""
    return {**{name: None for name in CSV_COLUMNS}, "tags": [], "chat_count": 0, **lead}


def is_lead_key(key: str) -> bool:
    """Phone digits, or the user id a lead is keyed by until its phone is known."""
    return (key.isdigit() and 5 <= len(key) <= 20) or bool(USER_ID_KEY.match(key))


def contact(key: object, gettext: Callable[[str], str] = str, jid: object = None) -> str:
    """How a lead key reads: "+6281…", or "WhatsApp user US.1349…" / "WhatsApp LID 1234…" until
    a phone is known (the pages' `contact` filter, in the page's language; a LID's digits are
    told apart by the lead's `jid`)."""
    text = str(key or "")
    if str(jid or "").endswith("@lid"):
        return gettext("WhatsApp LID %(id)s") % {"id": text}
    return f"+{text}" if text.isdigit() else gettext("WhatsApp user %(id)s") % {"id": text}


def valid_phone(phone: str) -> str:
    """The lead's phone in digits (or its user id), or a 400 naming the `phone` field."""
    if not is_lead_key(phone):
        raise ApiError(400, "bad_request", f"phone: {phone!r} is not a phone number in digits, "
                       "e.g. 6281200000002", field="phone")
    return phone


def page(request: web.Request, name: str, screen: str, *, status: int = 200, **context: Any) -> web.Response:
    return render(request, name, status=status, screen=screen, field_words=FIELD_WORDS,
                  priority_words=PRIORITY_WORDS, **context)
