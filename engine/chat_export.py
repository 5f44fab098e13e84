"""WhatsApp "Export chat" text: parse it into dated messages (pure: it gets text, does no I/O).

Layouts (one header per message; following lines without a header continue its text):
- Android: `01/01/19, 11:25 - Name: text` (comma optional, `-` or `–` before the name);
- iOS: `[01/20/19 11:23:45] Name: text` (often preceded by U+200E).
Dates day-, month- or year-first with `/`, `.` or `-`; times 24-hour or 12-hour with a marker
(`AM`/`PM`, `a. m.`/`p. m.`, Indonesian `pagi`/`siang`/`sore`/`malam`), `:` or `.` between
hours and minutes, seconds optional; the narrow and ordinary no-break spaces WhatsApp puts
before markers are read as spaces.

A two-digit-first date order (`03/04/21`) is ambiguous: it is decided from the whole file
(any first number above 12 means day-first, any second number above 12 month-first; failing
both, the order under which the export runs forward in time), otherwise `DateOrderError`
asks for one. System lines (encryption notice, number changes, group events, deleted
messages, missed calls) are skipped and counted; media placeholders become media messages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

DATE_ORDERS: tuple[str, ...] = ("dmy", "mdy", "ymd")
MAX_CHARS = 20 * 1024 * 1024  # text of one export (about 200,000 messages)
MAX_LINES = 500_000
MAX_MESSAGE_CHARS = 65_536  # longer message texts are cut here
MAX_UNPARSED_REPORTED = 50  # lines not understood, listed with their numbers

_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " ", "\u2009": " "})
_MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\ufeff"
_DATE = r"(?P<d1>\d{1,4})(?P<sep>[./-])(?P<d2>\d{1,2})(?P=sep)(?P<d3>\d{1,4})"
_TIME = r"(?P<h>\d{1,2})[:.](?P<m>\d{2})(?:[:.](?P<s>\d{2}))?"
_MARKER = r"(?:\s*(?P<ampm>[AaPp]\.?\s?[Mm]\.?|pagi|siang|sore|malam))?"
_ANDROID = re.compile(rf"^{_DATE},?\s+{_TIME}{_MARKER}\s+[-–]\s(?P<rest>.*)$")
_IOS = re.compile(rf"^\[{_DATE},?\s+{_TIME}{_MARKER}\]\s(?P<rest>.*)$")
_AUTHOR = re.compile(r"^(?P<author>[^:]{1,80}?):\s(?P<text>.*)$", re.S)

# Media placeholders (English and Indonesian exports): the whole text of the message.
_MEDIA_WORDS: tuple[tuple[str, str], ...] = (
    ("image", "image"), ("photo", "image"), ("gambar", "image"), ("foto", "image"),
    ("video", "video"), ("gif", "video"), ("audio", "audio"), ("voice", "audio"),
    ("suara", "audio"), ("sticker", "sticker"), ("stiker", "sticker"),
    ("document", "document"), ("dokumen", "document"), ("contact card", "contact"),
    ("kartu kontak", "contact"),
)
_MEDIA_OMITTED = re.compile(
    r"^<?\s*(media omitted|media tidak disertakan|"
    r"(?P<word>[a-z ]+?) (omitted|tidak disertakan|dihapus))\s*>?$", re.I)
_ATTACHED = re.compile(r"^<(attached|terlampir):\s*(?P<file>[^>]+)>$", re.I)
_FILE_ATTACHED = re.compile(r"^(?P<file>\S+\.\w{2,5}) \((file attached|file terlampir)\)", re.I)
_EXTENSIONS: dict[str, str] = {
    "jpg": "image", "jpeg": "image", "png": "image", "webp": "sticker", "gif": "video",
    "mp4": "video", "3gp": "video", "mov": "video", "opus": "audio", "ogg": "audio",
    "m4a": "audio", "mp3": "audio", "aac": "audio", "vcf": "contact",
}
_LOCATION = re.compile(r"^(location|lokasi): https?://\S+$", re.I)

# System lines: with no author, or written by the chat itself (iOS puts U+200E before them).
_SYSTEM_TEXT = re.compile(
    r"(end-to-end encrypted|dienkripsi secara end-to-end|end-to-end terenkripsi|"
    r"changed (their|his|her) phone number|changed to \+?\d|mengganti nomor|"
    r"security code (with .+ )?changed|kode keamanan|"
    r"this message was deleted|you deleted this message|pesan ini telah dihapus|"
    r"anda menghapus pesan ini|missed (voice|video) call|panggilan (suara|video) tak terjawab|"
    r"disappearing messages|pesan sementara|is a contact|adalah kontak|"
    r"you blocked this contact|anda memblokir kontak ini|you unblocked this contact|"
    r"waiting for this message|menunggu pesan ini|null$)",
    re.I)
_AUTHORED_SYSTEM = re.compile(
    r"(this message was deleted|you deleted this message|pesan ini (telah )?dihapus|"
    r"anda menghapus pesan ini|missed (voice|video) call|panggilan (suara|video) tak terjawab|"
    r"waiting for this message\.?.*|menunggu pesan ini\.?.*|null)",
    re.I)
_GROUP_TEXT = re.compile(
    r"(created group|membuat grup|changed the subject|mengubah subjek|changed this group's|"
    r"mengubah ikon grup|joined using this group's invite link|bergabung menggunakan tautan|"
    r"\badded\b|\bmenambahkan\b|\bleft$|\bkeluar$|\bremoved\b|\bmengeluarkan\b)",
    re.I)


class ExportError(ValueError):
    """An export that cannot be read as a one-to-one chat (the message says why and what to do)."""


class DateOrderError(ExportError):
    """Dates such as 03/04/21 that fit more than one order, with nothing in the file to decide."""


@dataclass(frozen=True, slots=True)
class ExportMessage:
    """One message of an export: local (naive) time, author as the export writes it."""

    line: int
    at: datetime
    author: str
    text: str
    type: str = "text"
    has_media: bool = False


@dataclass(frozen=True, slots=True)
class ParsedExport:
    """What an export holds, and what was skipped or not understood."""

    layout: str  # android | ios
    date_order: str
    messages: tuple[ExportMessage, ...]
    system_lines: int
    unparsed: tuple[tuple[int, str], ...]  # (line number, the line, cut), at most MAX_UNPARSED_REPORTED
    unparsed_count: int
    group_signals: int  # system lines only a group has (someone added, group created, ...)

    @property
    def authors(self) -> tuple[str, ...]:
        """Distinct authors in order of first appearance."""
        seen: dict[str, None] = {}
        for message in self.messages:
            seen.setdefault(message.author, None)
        return tuple(seen)


@dataclass(slots=True)
class _Header:
    line: int
    date: tuple[str, str, str]
    time: tuple[int, int, int]
    marker: str
    rest: str
    body: list[str] = field(default_factory=list)


def _clean(line: str) -> str:
    return line.translate(_SPACES).lstrip(_MARKS).rstrip("\r")


def _match(line: str) -> tuple[str, re.Match[str]] | None:
    for layout, pattern in (("android", _ANDROID), ("ios", _IOS)):
        found = pattern.match(line)
        if found is not None:
            return layout, found
    return None


def _hour24(hour: int, marker: str) -> int:
    """12-hour clock with a marker → 0..23 (Indonesian parts of the day included)."""
    mark = marker.lower().replace(".", "").replace(" ", "")
    if not mark:
        return hour
    if hour < 1 or hour > 12:
        raise ValueError(f"hour {hour} with {marker!r}")
    if mark in ("am", "pagi"):
        return 0 if hour == 12 else hour
    if mark == "pm" or mark == "sore":
        return 12 if hour == 12 else hour + 12
    if mark == "siang":  # 11 siang = 11:00, 12 siang = 12:00, 1 siang = 13:00
        return hour if hour in (11, 12) else hour + 12
    # malam: 7-11 malam = 19-23; 12 malam = midnight; 1-5 malam (late night) stay early morning
    if hour == 12:
        return 0
    return hour + 12 if hour >= 6 else hour


def _year(raw: str) -> int:
    value = int(raw)
    return value + 2000 if len(raw) <= 2 else value


def _ymd(date: tuple[str, str, str], order: str) -> tuple[int, int, int]:
    a, b, c = date
    if order == "ymd":
        return _year(a), int(b), int(c)
    if order == "dmy":
        return _year(c), int(b), int(a)
    return _year(c), int(a), int(b)


def _decide_order(headers: Sequence[_Header]) -> str:
    if all(len(h.date[0]) == 4 for h in headers):
        return "ymd"
    day_first = any(int(h.date[0]) > 12 for h in headers)
    month_first = any(int(h.date[1]) > 12 for h in headers)
    if day_first and month_first:
        raise ExportError("the dates mix day-first and month-first forms (e.g. 13/01 and 01/13): "
                          "this is not one WhatsApp export")
    if day_first:
        return "dmy"
    if month_first:
        return "mdy"
    forward = [order for order in ("dmy", "mdy") if _runs_forward(headers, order)]
    if len(forward) == 1:
        return forward[0]
    raise DateOrderError("the dates fit both day-first and month-first order "
                         f"(e.g. {'/'.join(headers[0].date)}): pass --date-order dmy, mdy or ymd")


def _runs_forward(headers: Sequence[_Header], order: str) -> bool:
    previous: tuple[int, ...] = ()
    for header in headers:
        try:
            year, month, day = _ymd(header.date, order)
            datetime(year, month, day)
        except ValueError:
            return False
        current = (year, month, day)
        if current < previous:
            return False
        previous = current
    return True


def _media(text: str) -> tuple[str, bool]:
    """(type, has_media) for a placeholder text, ("text", False) for anything else."""
    stripped = text.strip().lstrip(_MARKS)
    omitted = _MEDIA_OMITTED.match(stripped)
    if omitted is not None:
        word = (omitted.group("word") or "").lower()
        for key, kind in _MEDIA_WORDS:
            if key in word:
                return kind, kind != "contact"
        return "other", True
    attached = _ATTACHED.match(stripped) or _FILE_ATTACHED.match(stripped)
    if attached is not None:
        name = attached.group("file").lower()
        kind = _EXTENSIONS.get(name.rsplit(".", 1)[-1], "document")
        if "-photo-" in name:
            kind = "image"
        return kind, kind != "contact"
    if _LOCATION.match(stripped):
        return "location", False
    return "text", False


def parse_export(text: str, *, date_order: str | None = None) -> ParsedExport:
    """Parse the text of a WhatsApp chat export.

    Raises `ExportError` for a text over the limits or with no message header at all,
    `DateOrderError` when the date order cannot be decided (pass `date_order`).
    """
    if date_order is not None and date_order not in DATE_ORDERS:
        raise ExportError(f"date order {date_order!r}: expected one of {', '.join(DATE_ORDERS)}")
    if len(text) > MAX_CHARS:
        raise ExportError(f"the export has {len(text):,} characters; the limit is {MAX_CHARS:,}")
    lines = text.lstrip("\ufeff").split("\n")
    if len(lines) > MAX_LINES:
        raise ExportError(f"the export has {len(lines):,} lines; the limit is {MAX_LINES:,}")
    headers: list[_Header] = []
    layouts: dict[str, int] = {}
    unparsed: list[tuple[int, str]] = []
    unparsed_count = 0
    for number, raw in enumerate(lines, start=1):
        line = _clean(raw)
        found = _match(line)
        if found is None:
            if headers:
                headers[-1].body.append(raw.rstrip("\r"))
            elif line.strip():
                unparsed_count += 1
                if len(unparsed) < MAX_UNPARSED_REPORTED:
                    unparsed.append((number, line[:120]))
            continue
        layout, match = found
        layouts[layout] = layouts.get(layout, 0) + 1
        try:
            clock = (int(match["h"]), int(match["m"]), int(match["s"] or 0))
        except ValueError:
            clock = (99, 0, 0)
        headers.append(_Header(number, (match["d1"], match["d2"], match["d3"]), clock,
                               match["ampm"] or "", match["rest"]))
    if not headers:
        raise ExportError("no line looks like a WhatsApp export message "
                          "(e.g. '01/01/19, 11:25 - Name: text' or '[01/20/19 11:23:45] Name: text')")
    order = date_order or _decide_order(headers)
    messages: list[ExportMessage] = []
    system = group_signals = 0
    for header in headers:
        try:
            year, month, day = _ymd(header.date, order)
            hour = _hour24(header.time[0], header.marker)
            at = datetime(year, month, day, hour, header.time[1], header.time[2])
        except ValueError:
            unparsed_count += 1
            if len(unparsed) < MAX_UNPARSED_REPORTED:
                unparsed.append((header.line, f"date or time not valid as {order}"))
            continue
        authored = _AUTHOR.match(header.rest)
        if authored is None:  # no "Name: " — a system line (Android)
            system += 1
            group_signals += bool(_GROUP_TEXT.search(header.rest))
            continue
        author = authored["author"].strip().strip(_MARKS).strip()
        body = "\n".join([authored["text"], *header.body]).rstrip()
        first = body.lstrip()
        if first.startswith(tuple(_MARKS)) and (_SYSTEM_TEXT.search(first) or _GROUP_TEXT.search(first)):
            system += 1  # iOS: a system line written in the chat's own name
            group_signals += bool(_GROUP_TEXT.search(first))
            continue
        if _AUTHORED_SYSTEM.fullmatch(first.strip(_MARKS).strip()):
            system += 1  # a deleted message, a missed call, a view-once shown as "null"
            continue
        kind, has_media = _media(body)
        if kind != "text" and kind != "location":
            body = ""
        messages.append(ExportMessage(header.line, at, author, body.strip(_MARKS)[:MAX_MESSAGE_CHARS],
                                      kind, has_media))
    layout = max(layouts, key=lambda name: layouts[name])
    return ParsedExport(layout, order, tuple(messages), system, tuple(unparsed), unparsed_count,
                        group_signals)


def phone_digits(name: str) -> str | None:
    """The digits of an author written as a phone number (`+62 812-3456-7890`), else None."""
    if not re.fullmatch(r"\+?[\d\s\-().]{7,24}", name.strip()):
        return None
    digits = re.sub(r"\D", "", name)
    return digits if 7 <= len(digits) <= 15 else None
