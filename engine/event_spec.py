"""Events as data: the settings staff give when creating one (validated once, each problem
named by its field) and the reply texts attendees get, with Indonesian/English defaults.

Pure: times arrive as text or datetimes plus the workspace timezone; nothing is read
from a clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from engine.attendance import (
    ALPHABET,
    MODES,
    PREFIX_MAX,
    PREFIX_MIN,
    Decision,
    Event,
    display,
    in_alphabet,
)
from engine.render import placeholder_names

REPLY_KINDS = ("welcome", "already", "invalid", "not_open", "closed")
PLACEHOLDERS = ("name", "event", "code", "time", "start", "end", "uses_left")
DEFAULT_KEYWORDS: Mapping[str, str] = {"ticket": "CHECKIN", "open": "CHECKIN", "voucher": "REDEEM"}
DEFAULT_TAGS: Mapping[str, str] = {"ticket": "attended", "open": "attended", "voucher": "voucher-redeemed"}
MAX_TEXT = 1000
MAX_WINDOW = timedelta(days=366)

_ATTENDANCE_TEXTS: Mapping[str, str] = {
    "welcome": "Halo {name}, check-in {event} berhasil. Selamat datang!\n"
               "Hi {name}, you are checked in to {event}. Welcome!",
    "already": "Kode ini sudah dipakai check-in pukul {time}.\n"
               "This code was already checked in at {time}.",
    "invalid": "Maaf, kode tidak valid. Periksa lagi kodenya, atau tanyakan ke petugas.\n"
               "Sorry, this code is not valid. Please check it or ask the staff.",
    "not_open": "Check-in {event} belum dibuka. Dibuka {start}.\n"
                "Check-in for {event} is not open yet. It opens {start}.",
    "closed": "Maaf, {event} sudah selesai.\nSorry, {event} is over.",
}
DEFAULT_TEXTS: Mapping[str, Mapping[str, str]] = {
    "ticket": _ATTENDANCE_TEXTS,
    "open": {**_ATTENDANCE_TEXTS,
             "already": "Nomor ini sudah check-in pukul {time}.\n"
                        "This number already checked in at {time}."},
    "voucher": {
        "welcome": "Voucher {code} berhasil dipakai. Sisa pemakaian: {uses_left}.\n"
                   "Voucher {code} redeemed. Uses left: {uses_left}.",
        "already": "Voucher {code} sudah habis dipakai (terakhir pukul {time}).\n"
                   "Voucher {code} is used up (last used at {time}).",
        "invalid": "Maaf, kode voucher tidak valid.\nSorry, this voucher code is not valid.",
        "not_open": "Voucher {event} belum bisa dipakai. Mulai {start}.\n"
                    "{event} vouchers cannot be used yet. They start {start}.",
        "closed": "Maaf, masa berlaku voucher {event} sudah habis.\n"
                  "Sorry, the {event} vouchers have expired.",
    },
}


class EventSpecError(ValueError):
    """A setting of an event that is missing or wrong; `field` names it."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


@dataclass(frozen=True, slots=True)
class EventSpec:
    """A validated new event (the store assigns id, prefix and slug when none is given)."""

    name: str
    number: str
    mode: str
    starts_at: datetime
    ends_at: datetime
    max_uses: int = 1
    slug: str | None = None
    prefix: str | None = None
    keyword: str = "CHECKIN"
    tag: str | None = "attended"
    status: str | None = None
    capacity: int | None = None
    texts: Mapping[str, str] = field(default_factory=dict)


MIN_YEAR, MAX_YEAR = 2000, 2999  # an event's start and end: any real one, and every zone can hold it


def parse_local_time(value: object, tz: tzinfo, field_name: str) -> datetime:
    """`2026-11-23 08:00` (workspace time) or ISO 8601 with an offset → an aware datetime."""
    if isinstance(value, datetime):
        parsed = value
    elif not isinstance(value, str) or not value.strip():
        raise EventSpecError(field_name, "is required, e.g. 2026-11-23 08:00 (workspace time)")
    else:
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise EventSpecError(field_name, f"{value!r} is not a date and time like 2026-11-23 08:00") from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:  # year 1 or 9999 overflows once moved to another zone
        raise EventSpecError(field_name, f"{value!r} is not between the years {MIN_YEAR} and {MAX_YEAR}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def slugify(name: str) -> str:
    """A URL-friendly name: `Grand Opening 2026!` → `grand-opening-2026`."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    return slug or "event"


def text_placeholders(text: str, field_name: str) -> tuple[str, ...]:
    """The placeholders of a reply text, refusing unknown or malformed ones."""
    try:
        return placeholder_names(text, PLACEHOLDERS)
    except ValueError as exc:
        raise EventSpecError(field_name, str(exc).replace("template", "text", 1)) from None


def parse_texts(raw: object, field_name: str = "texts") -> dict[str, str]:
    """Custom reply texts `{kind: text}`; kinds are REPLY_KINDS."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise EventSpecError(field_name, f"must be an object with any of: {', '.join(REPLY_KINDS)}")
    texts: dict[str, str] = {}
    for kind, text in raw.items():
        path = f"{field_name}.{kind}"
        if kind not in REPLY_KINDS:
            raise EventSpecError(path, f"is not a reply; replies are: {', '.join(REPLY_KINDS)}")
        if not isinstance(text, str) or not text.strip():
            raise EventSpecError(path, "must be a non-empty text")
        if len(text) > MAX_TEXT:
            raise EventSpecError(path, f"is longer than {MAX_TEXT} characters")
        text_placeholders(text, path)
        texts[kind] = text
    return texts


def _int(raw: Mapping[str, Any], key: str, default: int | None, low: int, high: int) -> int | None:
    value = raw.get(key, default)
    if value is None or value == "":
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise EventSpecError(key, f"must be a whole number from {low} to {high}, not {value!r}")
    return value


def _text(raw: Mapping[str, Any], key: str, *, required: bool = False, limit: int = 200) -> str | None:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise EventSpecError(key, "is required")
        return None
    if not isinstance(value, str):
        raise EventSpecError(key, "must be a text")
    if len(value.strip()) > limit:
        raise EventSpecError(key, f"is longer than {limit} characters")
    return value.strip()


SPEC_KEYS = ("name", "number", "start", "end", "mode", "uses", "slug", "prefix", "keyword", "tag",
             "status", "capacity", "texts")


def parse_event_spec(raw: Mapping[str, Any], *, tz: tzinfo, statuses: tuple[str, ...],
                     numbers: frozenset[str] | None = None) -> EventSpec:
    """Validate a new event's settings (CLI flags or the API's JSON); raise EventSpecError."""
    unknown = sorted(set(raw) - set(SPEC_KEYS))
    if unknown:
        raise EventSpecError(unknown[0], f"is not an event setting (known: {', '.join(SPEC_KEYS)})")
    name = _text(raw, "name", required=True)
    assert name is not None
    number = "".join(ch for ch in str(raw.get("number") or "") if ch.isdigit())
    if not 8 <= len(number) <= 15:
        raise EventSpecError("number", "must be the admin WhatsApp number in international form, "
                                       "e.g. 6281100000001")
    if numbers and number not in numbers:
        raise EventSpecError("number", f"{number} is not an admin number in config.toml "
                                       f"(configured: {', '.join(sorted(numbers))})")
    mode = raw.get("mode") or "ticket"
    if mode not in MODES:
        raise EventSpecError("mode", f"{mode!r} is not one of: {', '.join(MODES)}")
    starts_at = parse_local_time(raw.get("start"), tz, "start")
    ends_at = parse_local_time(raw.get("end"), tz, "end")
    if ends_at <= starts_at:
        raise EventSpecError("end", "must be after start")
    if ends_at - starts_at > MAX_WINDOW:
        raise EventSpecError("end", "the event may last at most 366 days")
    uses = _int(raw, "uses", 1, 1, 1000)
    if mode != "voucher" and uses != 1:
        raise EventSpecError("uses", "only vouchers can be used more than once (use --mode voucher)")
    slug = _text(raw, "slug", limit=40)
    if slug is not None and (slug.isdigit() or slug != slugify(slug)):
        raise EventSpecError("slug", f"{slug!r} must be lower-case letters, digits and hyphens "
                                     f"(and not only digits), e.g. {slugify(slug)!r}")
    prefix = _text(raw, "prefix", limit=PREFIX_MAX)
    if prefix is not None:
        prefix = prefix.upper()
        if not PREFIX_MIN <= len(prefix) <= PREFIX_MAX or not in_alphabet(prefix):
            raise EventSpecError("prefix", f"must be {PREFIX_MIN}-{PREFIX_MAX} characters from {ALPHABET} "
                                           "(no 0, O, 1 or I)")
    keyword = (_text(raw, "keyword", limit=20) or DEFAULT_KEYWORDS[mode]).upper()
    if not keyword.isalpha():
        raise EventSpecError("keyword", "must be one word of letters, e.g. CHECKIN")
    tag: str | None = DEFAULT_TAGS[mode]
    if "tag" in raw:
        tag = _text(raw, "tag", limit=60)
        tag = " ".join(tag.split()).lower() if tag else None
    status = _text(raw, "status", limit=60)
    if status is not None and status not in statuses:
        raise EventSpecError("status", f"{status!r} is not one of: {', '.join(statuses)}")
    capacity = _int(raw, "capacity", None, 1, 1_000_000)
    texts = parse_texts(raw.get("texts"))
    return EventSpec(name=name, number=number, mode=mode, starts_at=starts_at, ends_at=ends_at,
                     max_uses=uses or 1, slug=slug, prefix=prefix, keyword=keyword, tag=tag,
                     status=status, capacity=capacity, texts=texts)


def local_hhmm(moment: datetime | None, tz: tzinfo) -> str:
    """`14:05` in the workspace timezone (empty when unknown)."""
    return moment.astimezone(tz).strftime("%H:%M") if moment is not None else ""


def local_when(moment: datetime, tz: tzinfo) -> str:
    """`23 Nov 2026 08:00` in the workspace timezone."""
    return moment.astimezone(tz).strftime("%d %b %Y %H:%M")


def reply_text(decision: Decision, *, tz: tzinfo, at: datetime, fallback_name: str) -> str | None:
    """The reply for a decision (the event's own text, else the mode's default), or None."""
    if decision.reply is None:
        return None
    event: Event | None = decision.event
    mode = event.mode if event is not None else "ticket"
    texts = {**DEFAULT_TEXTS[mode], **(event.texts if event is not None else {})}
    template = texts[decision.reply]
    code = decision.code
    uses_left = decision.uses_left
    values = {
        "name": (code.name if code is not None and code.name else None) or fallback_name,
        "event": event.name if event is not None else "",
        "code": display(code.code) if code is not None else "",
        "time": local_hhmm(decision.previous_at or at, tz),
        "start": local_when(event.starts_at, tz) if event is not None else "",
        "end": local_when(event.ends_at, tz) if event is not None else "",
        "uses_left": "∞" if uses_left is None else str(uses_left),
    }
    return template.format_map(values)
