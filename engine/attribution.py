"""Website-visitor attribution, pure: visitor codes, finding them in text, the upgrade decision.

A rotator link click creates a "Website Visitor" with a code such as `K-7QX4` and pre-fills
the WhatsApp greeting with `[K-7QX4]`. When a customer's message carries that code, the
visitor's attribution (source, UTM fields, click ids) moves onto the customer's real lead,
before any rule sees the message, and the code is used up (DESIGN.md "identity_upgrade";
this project makes it automatic, like the click-to-WhatsApp referral).

No randomness and no clock here: the shell passes random bytes and the time in.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from engine.lead_draft import LeadDraft
from engine.model import Message

# No 0/O, 1/I/L: a code read aloud or retyped from a screenshot cannot be mistaken.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_PREFIX = "K-"
CODE_LENGTH = 4
CODE_SPACE = len(ALPHABET) ** CODE_LENGTH
_ACCEPT_BELOW = 256 - 256 % len(ALPHABET)  # rejection sampling keeps every letter equally likely

# `[K-7QX4]`, `[ k-7qx4 ]`, `[K–7QX4]` (phones turn "-" into a dash): brackets make it unambiguous.
_BRACKETED = re.compile(r"\[\s*K\s*[-\u2010-\u2015]\s*([A-Z0-9]{4})\s*\]", re.IGNORECASE)
_HINT = re.compile(r"K\s*[-\u2010-\u2015]", re.IGNORECASE)  # what both patterns need
# `K-7QX4` standing alone (not inside a longer word).
_BARE = re.compile(r"(?<![A-Z0-9])K[-\u2010-\u2015]([A-Z0-9]{4})(?![A-Z0-9])", re.IGNORECASE)

ATTRIBUTION_FIELDS: tuple[str, ...] = (
    "source", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "fbclid", "gclid",
)
# A lead with any of these already carries an origin ("earlier attribution").
_ORIGIN_FIELDS: tuple[str, ...] = (*ATTRIBUTION_FIELDS, "ctwa_clid", "ad_source_id")

# Why a code in a message did not upgrade anything (kept in the attribution log).
UNKNOWN = "unknown_code"
USED = "already_used"
EXPIRED = "expired"
OTHER_WORKSPACE = "other_workspace"
OTHER_NUMBER = "other_number"
AMBIGUOUS = "ambiguous"


def code_from_bytes(raw: bytes) -> str:
    """A `K-XXXX` code drawn from random bytes (at least 16 recommended); ValueError if too few."""
    letters: list[str] = []
    for byte in raw:
        if byte < _ACCEPT_BELOW:
            letters.append(ALPHABET[byte % len(ALPHABET)])
            if len(letters) == CODE_LENGTH:
                return CODE_PREFIX + "".join(letters)
    raise ValueError("not enough random bytes for a visitor code")


def normalise_code(text: str) -> str | None:
    """`k-7qx4`, `[K-7QX4]`, `K7QX4` → `K-7QX4`; None when it is not a well-formed code."""
    found = _BRACKETED.fullmatch(text.strip()) or _BARE.fullmatch(text.strip())
    if found is None:
        compact = text.strip().upper()
        if len(compact) == CODE_LENGTH + 1 and compact.startswith("K"):
            return _well_formed(compact[1:])
        return None
    return _well_formed(found.group(1))


def _well_formed(body: str) -> str | None:
    body = body.upper()
    return CODE_PREFIX + body if all(ch in ALPHABET for ch in body) else None


@dataclass(frozen=True, slots=True)
class CodeScan:
    """The codes a message carries: bracketed ones win over bare ones."""

    codes: tuple[str, ...] = ()
    bracketed: bool = False


NO_CODES = CodeScan()


def scan_codes(text: str) -> CodeScan:
    """Find visitor codes in a message text (any case; with brackets, or bare)."""
    if _HINT.search(text) is None:  # most messages: no "K-" anywhere, one quick scan
        return NO_CODES
    for pattern, bracketed in ((_BRACKETED, True), (_BARE, False)):
        found: list[str] = []
        for match in pattern.finditer(text):
            code = _well_formed(match.group(1))
            if code is not None and code not in found:
                found.append(code)
        if found:
            return CodeScan(tuple(found), bracketed)
    return NO_CODES


def message_codes(message: Message) -> CodeScan:
    """Codes that may upgrade: only in a customer's own 1:1 message (never Team/CS, never groups)."""
    if message.from_me or message.is_group:
        return NO_CODES
    return scan_codes(message.text)


@dataclass(frozen=True, slots=True)
class Visitor:
    """What the store knows about one visitor code (the facts the decision needs)."""

    code: str
    workspace: str
    number: str
    state: str  # waiting | upgraded | expired
    expires_at: datetime
    source: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    fbclid: str | None = None
    gclid: str | None = None

    def attribution(self) -> dict[str, str | None]:
        """The fields that move onto the lead."""
        return {name: getattr(self, name) for name in ATTRIBUTION_FIELDS}


@dataclass(frozen=True, slots=True)
class Upgrade:
    """An accepted code: the visitor's attribution, and whether it may replace an earlier one."""

    code: str
    values: Mapping[str, str | None]
    overwrite: bool = False


@dataclass(frozen=True, slots=True)
class Ignored:
    """A code found in a message that upgraded nothing, and why."""

    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The identity-upgrade decision for one message."""

    upgrade: Upgrade | None = None
    ignored: tuple[Ignored, ...] = field(default_factory=tuple)


NO_DECISION = Decision()


def decide(scan: CodeScan, visitors: Mapping[str, Visitor], *, message: Message, now: datetime,
           workspace: str, used: Collection[str] = (), overwrite: bool = False) -> Decision:
    """Which visitor (if any) this message upgrades.

    A code upgrades only if it exists in this workspace, is still waiting (not used by
    anyone, `used` included: codes taken earlier in the same batch), has not expired, and
    is the only usable code of the message. A bare code (no brackets) must also have been
    issued for the number that received the message. Everything else is ignored, with a reason.
    """
    if not scan.codes:
        return NO_DECISION
    usable: list[Visitor] = []
    ignored: list[Ignored] = []
    for code in scan.codes:
        visitor = visitors.get(code)
        reason = _refusal(visitor, scan, message=message, now=now, workspace=workspace, used=used)
        if reason is None and visitor is not None:
            usable.append(visitor)
        else:
            ignored.append(Ignored(code, reason or UNKNOWN))
    if len(usable) > 1:
        # Two live codes in one message: merging either could attach the wrong visitor.
        ignored.extend(Ignored(v.code, AMBIGUOUS) for v in usable)
        return Decision(None, tuple(ignored))
    if not usable:
        return Decision(None, tuple(ignored))
    chosen = usable[0]
    return Decision(Upgrade(chosen.code, chosen.attribution(), overwrite), tuple(ignored))


def _refusal(visitor: Visitor | None, scan: CodeScan, *, message: Message, now: datetime, workspace: str,
             used: Collection[str]) -> str | None:
    if visitor is None:
        return UNKNOWN
    if visitor.workspace != workspace:
        return OTHER_WORKSPACE
    if visitor.state == "upgraded" or visitor.code in used:
        return USED
    if visitor.state == "expired" or now >= visitor.expires_at:
        return EXPIRED
    if not scan.bracketed and visitor.number != message.session:
        return OTHER_NUMBER
    return None


def has_origin(lead: object) -> bool:
    """Whether a lead already carries attribution (source, UTM, click ids, a CTWA ad)."""
    return any(getattr(lead, name) for name in _ORIGIN_FIELDS)


def upgrade_changes(lead: object | None, upgrade: Upgrade) -> dict[str, str | None]:
    """The lead fields an upgrade sets: all of the visitor's attribution, or nothing when the lead
    already has an origin and `overwrite` is off (attribution moves as a whole, never mixed)."""
    if lead is not None and has_origin(lead) and not upgrade.overwrite:
        return {}
    if upgrade.overwrite:
        return dict(upgrade.values)
    return {name: value for name, value in upgrade.values.items() if value is not None}


def apply_upgrade(draft: LeadDraft, upgrade: Upgrade) -> tuple[str, ...]:
    """Move the visitor's attribution onto the lead being processed; returns the changed fields."""
    changed = [name for name, value in upgrade_changes(draft, upgrade).items() if draft.set(name, value)]
    return tuple(changed)
