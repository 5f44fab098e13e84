"""Event attendance and vouchers, the pure part: codes, finding them in text, deciding.

A code is `PREFIX-BODY`: the event's prefix (2-6 characters), five random characters
and one check character, all from an alphabet without 0/O and 1/I (`EVT7-K3Q9TZ`).
The check character (Luhn mod 32 over prefix and body) catches every single-character
typo and most swapped neighbours, so a typo is refused instead of matching another code.

`scan` finds codes in a message (any case, spaces or hyphens inside, words around it)
with bounded work; `decide` turns the facts the store loaded (the event, the code, its
uses, the sender's recent invalid attempts) and the time into one answer. Nothing here
reads a clock or a database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import quote

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols: no 0/O, no 1/I
_INDEX = {ch: i for i, ch in enumerate(ALPHABET)}
RANDOM_LENGTH = 5  # random characters per code; 32**5 = 33.5 million per event
BODY_LENGTH = RANDOM_LENGTH + 1  # plus the check character
PREFIX_MIN, PREFIX_MAX = 2, 6
MODES = ("ticket", "open", "voucher")
MAX_CODES_PER_MESSAGE = 3  # more codes of our events than this in one message: guessing, refused
MAX_CANDIDATES = 32  # per kind (valid / look-alike) kept by a scan; more marks it `overflow`
MAX_SCAN_TOKENS = 4000  # words looked at; a longer message is `overflow` (never a check-in)
INVALID_REPLY_LIMIT = 3  # invalid answers per phone per window; then silence (no reply wars)
INVALID_REPLY_WINDOW = timedelta(minutes=10)
_TOKEN = re.compile(r"[A-Za-z0-9]+")
_JOINER = re.compile(r"[\s\-_.]{1,3}")


class Result(StrEnum):
    """The answer to one check-in attempt."""

    CHECKED_IN = "checked_in"
    ALREADY_USED = "already_used"
    UNKNOWN_CODE = "unknown_code"
    WRONG_EVENT = "wrong_event"
    WRONG_NUMBER = "wrong_number"
    TOO_MANY_CODES = "too_many_codes"
    NOT_OPEN = "not_open"
    CLOSED = "closed"
    NO_CODE = "no_code"


# Which reply text each result sends (None: silent).
REPLY_KIND: Mapping[Result, str | None] = {
    Result.CHECKED_IN: "welcome",
    Result.ALREADY_USED: "already",
    Result.UNKNOWN_CODE: "invalid",
    Result.WRONG_EVENT: "invalid",
    Result.WRONG_NUMBER: "invalid",
    Result.TOO_MANY_CODES: "invalid",
    Result.NOT_OPEN: "not_open",
    Result.CLOSED: "closed",
    Result.NO_CODE: None,
}
INVALID_RESULTS = frozenset(r for r, kind in REPLY_KIND.items() if kind == "invalid")


def check_char(payload: str) -> str:
    """The Luhn mod 32 check character of `payload` (upper case, alphabet characters)."""
    total, factor = 0, 2
    for ch in reversed(payload):
        addend = factor * _INDEX[ch]
        total += addend // 32 + addend % 32
        factor = 1 if factor == 2 else 2
    return ALPHABET[(32 - total % 32) % 32]


def make_code(prefix: str, random_part: str) -> str:
    """The compact code (no hyphen) for an event prefix and five random characters."""
    payload = prefix + random_part
    return payload + check_char(payload)


def in_alphabet(text: str) -> bool:
    """Whether every character is one a code may contain."""
    return all(ch in _INDEX for ch in text)


def checks_out(compact: str) -> bool:
    """Whether a compact candidate has the right length, alphabet and check character."""
    if not PREFIX_MIN + BODY_LENGTH <= len(compact) <= PREFIX_MAX + BODY_LENGTH or not in_alphabet(compact):
        return False
    return check_char(compact[:-1]) == compact[-1]


def display(compact: str) -> str:
    """`EVT7K3Q9TZ` → `EVT7-K3Q9TZ` (how codes are printed and pre-filled)."""
    return f"{compact[:-BODY_LENGTH]}-{compact[-BODY_LENGTH:]}"


def compact_of(text: str) -> str:
    """A code as typed (any case, spaces, hyphens) → its compact form (not validated)."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


def prefix_for_id(stem: str, number: int) -> str:
    """A default event prefix: `stem` plus the id in the code alphabet (5 → `EVT7`)."""
    digits = ""
    while True:
        number, rest = divmod(number, 32)
        digits = ALPHABET[rest] + digits
        if number == 0:
            return stem + digits


def wa_link(number: str, keyword: str, compact: str) -> str:
    """The link a code's QR opens: WhatsApp to the admin number, text pre-filled."""
    return f"https://wa.me/{number}?text={quote(f'{keyword} {display(compact)}', safe='')}"


@dataclass(frozen=True, slots=True)
class Scan:
    """Code candidates in a message: with a right check character, and look-alikes (typos)."""

    codes: tuple[str, ...] = ()
    near: tuple[str, ...] = ()
    overflow: bool = False  # too long or too many candidates: never a check-in

    @property
    def empty(self) -> bool:
        """Nothing code-like at all."""
        return not self.codes and not self.near and not self.overflow


def prefix_of(compact: str) -> str:
    """The event prefix part of a compact code (everything before the six-character body)."""
    return compact[:-BODY_LENGTH]


def scan(text: str) -> Scan:
    """Find compact code candidates in free text: any case, inner spaces/hyphens, words around.

    A candidate is one word, or neighbouring words joined by at most three spaces, hyphens,
    dots or underscores, of 8-12 code characters. Work is linear in the text: at most
    MAX_SCAN_TOKENS words and MAX_CANDIDATES candidates of each kind, else `overflow`.
    """
    tokens: list[tuple[int, int, str]] = []
    overflow = False
    for match in _TOKEN.finditer(text):
        if len(tokens) >= MAX_SCAN_TOKENS:
            overflow = True
            break
        tokens.append((match.start(), match.end(), match.group().upper()))
    longest = PREFIX_MAX + BODY_LENGTH
    codes: dict[str, None] = {}
    near: dict[str, None] = {}
    for i, (_, end, word) in enumerate(tokens):
        joined, j = word, i
        while len(joined) <= longest:
            if len(joined) >= PREFIX_MIN + BODY_LENGTH and in_alphabet(joined):
                found = codes if check_char(joined[:-1]) == joined[-1] else near
                if joined not in found:
                    if len(found) >= MAX_CANDIDATES:
                        return Scan(tuple(codes), tuple(near), True)
                    found[joined] = None
            j += 1
            if j >= len(tokens) or not _JOINER.fullmatch(text, end, tokens[j][0]):
                break
            joined += tokens[j][2]
            end = tokens[j][1]
    return Scan(tuple(codes), tuple(near), overflow)


@dataclass(frozen=True, slots=True)
class Event:
    """An event or voucher campaign for one admin number."""

    id: int
    slug: str
    name: str
    number: str
    mode: str
    starts_at: datetime
    ends_at: datetime
    prefix: str
    keyword: str
    max_uses: int = 1
    tag: str | None = None
    status: str | None = None
    capacity: int | None = None
    texts: Mapping[str, str] = field(default_factory=dict)

    def state(self, at: datetime) -> str:
        """`upcoming`, `open` or `over` at a moment (start included, end excluded)."""
        if at < self.starts_at:
            return "upcoming"
        return "open" if at < self.ends_at else "over"


@dataclass(frozen=True, slots=True)
class CodeFacts:
    """One code and how it has been used, as the store knows it right now."""

    id: int
    event_id: int
    code: str
    name: str | None = None
    phone: str | None = None
    max_uses: int | None = 1  # None: unlimited (the shared code of an open event)
    slots_used: tuple[int, ...] = ()
    last_used_at: datetime | None = None
    phone_used_at: datetime | None = None  # open events: when this sender checked in


@dataclass(frozen=True, slots=True)
class Attempt:
    """A check-in attempt from a message, with the facts about its sender."""

    session: str
    phone: str
    at: datetime
    scan: Scan
    targets: frozenset[int]  # events the firing rules accept (explicit or every event of the number)
    recent_invalid: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    """What to record and answer."""

    result: Result
    event: Event | None = None
    code: CodeFacts | None = None
    slot: int | None = None
    previous_at: datetime | None = None
    reply: str | None = None  # reply kind, None for silence

    @property
    def uses_left(self) -> int | None:
        """Uses left after this decision (None: unlimited or unknown)."""
        if self.code is None or self.code.max_uses is None:
            return None
        used = len(self.code.slots_used) + (1 if self.result is Result.CHECKED_IN else 0)
        return max(self.code.max_uses - used, 0)


def usage(event: Event, code: CodeFacts, at: datetime) -> tuple[Result, int | None, datetime | None]:
    """Whether the code (open events: the sender) may check in now: result, slot, previous time."""
    if event.mode == "open":
        if code.phone_used_at is not None:
            return Result.ALREADY_USED, None, code.phone_used_at
        return Result.CHECKED_IN, None, None
    limit = code.max_uses or 1
    taken = set(code.slots_used)
    free = next((slot for slot in range(1, limit + 1) if slot not in taken), None)
    if free is None:
        return Result.ALREADY_USED, None, code.last_used_at
    return Result.CHECKED_IN, free, None


def decide(attempt: Attempt, events: Mapping[int, Event], codes: Sequence[CodeFacts]) -> Decision:
    """Decide one attempt.

    `events` holds every event whose prefix a candidate carries, plus the targeted ones;
    `codes` the stored codes among the candidates. Candidates without one of our prefixes
    are ordinary words that look like codes: alone, they are not an attempt (no answer).
    """
    by_prefix = {e.prefix: e for e in events.values()}
    ours = [c for c in attempt.scan.codes if prefix_of(c) in by_prefix]
    typos = [c for c in attempt.scan.near if prefix_of(c) in by_prefix]
    if not ours and not typos:
        return Decision(Result.NO_CODE)
    first = by_prefix[prefix_of((ours or typos)[0])]
    if attempt.scan.overflow or len(ours) > MAX_CODES_PER_MESSAGE:
        return _with_reply(attempt, Decision(Result.TOO_MANY_CODES, first))
    order = {code: i for i, code in enumerate(ours)}
    known = sorted((c for c in codes if c.code in order and c.event_id in events), key=lambda c: order[c.code])
    chosen = next((c for c in known if c.event_id in attempt.targets), None)
    result: Result
    if chosen is None:
        if not known:
            return _with_reply(attempt, Decision(Result.UNKNOWN_CODE, first))
        other = events[known[0].event_id]
        result = Result.WRONG_NUMBER if other.number != attempt.session else Result.WRONG_EVENT
        return _with_reply(attempt, Decision(result, other, known[0]))
    event = events[chosen.event_id]
    if event.number != attempt.session:
        return _with_reply(attempt, Decision(Result.WRONG_NUMBER, event, chosen))
    state = event.state(attempt.at)
    if state != "open":
        result = Result.NOT_OPEN if state == "upcoming" else Result.CLOSED
        return _with_reply(attempt, Decision(result, event, chosen))
    result, slot, previous = usage(event, chosen, attempt.at)
    return _with_reply(attempt, Decision(result, event, chosen, slot, previous))


def _with_reply(attempt: Attempt, decision: Decision) -> Decision:
    kind = REPLY_KIND[decision.result]
    if decision.result in INVALID_RESULTS and attempt.recent_invalid >= INVALID_REPLY_LIMIT:
        kind = None  # someone hammering codes gets silence, not an answer per guess
    return Decision(decision.result, decision.event, decision.code, decision.slot, decision.previous_at, kind)
