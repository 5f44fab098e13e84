"""Domain values shared by every layer: the normalised message and the lead.

Plain frozen dataclasses (the lead a named tuple), no I/O. `store` persists them and
`bridge` produces them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Any, NamedTuple, NewType

from engine.memo import iso_text, sorted_tags
from engine.text import readable

Jid = NewType("Jid", str)
SessionId = NewType("SessionId", str)
RuleId = NewType("RuleId", int)

MESSAGE_TYPES: tuple[str, ...] = ("text", "image", "video", "audio", "document", "sticker", "location", "contact",
                                  "other")
SENDER_TYPES: tuple[str, ...] = ("customer", "team")
# A WhatsApp user known only by a business-scoped user id (Cloud API usernames, e.g.
# "US.13491208655302741918"): JID "<id>@bsuid", and the lead is keyed by that id.
USER_ID_SERVER = "bsuid"
PN_SERVER = "s.whatsapp.net"  # a phone number's JID
LID_SERVER = "lid"  # a sender known by a LID only: the lead's key is its digits until a phone is (store.identities)
# The longest text a WhatsApp user can send; a longer one is cut here and `text_truncated`.
MAX_TEXT_CHARS = 65_536
DEFAULT_STATUSES: tuple[str, ...] = ("new", "responded", "hot", "purchase", "won", "lost")


class MessageFormatError(ValueError):
    """A normalised message that is missing a field or has a value of the wrong kind."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Referral:
    """Click-to-WhatsApp ad referral carried by a customer's first message."""

    source_id: str | None = None
    source_type: str | None = None
    source_url: str | None = None
    ctwa_clid: str | None = None
    conversion_source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (DESIGN's `referral` object)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class Message:
    """DESIGN.md's normalised message: one WhatsApp (or partner) message, either direction."""

    id: str
    session: str
    chat: str
    sender: str
    timestamp: datetime
    from_me: bool = False
    is_group: bool = False
    sender_name: str | None = None
    type: str = "text"
    text: str = ""
    has_media: bool = False
    is_reply: bool = False
    partner_source: str = "whatsapp_web"
    channel_id: str | None = None
    room_tags: tuple[str, ...] = ()
    referral: Referral | None = None
    sender_lid: str | None = None
    reply_to: str | None = None
    text_truncated: bool = False
    history: bool = False  # from the phone's history sync or a chat export, not received live
    # An edit carries the new text of `original_id`; a deletion only says it is gone.
    is_edit: bool = False
    is_deletion: bool = False
    original_id: str | None = None
    # The sender's business-scoped user id (Cloud API), with or without a phone number.
    user_id: str | None = None

    @property
    def sender_type(self) -> str:
        """`team` for messages the admin phone sent, `customer` otherwise."""
        return "team" if self.from_me else "customer"

    @property
    def lead_jid(self) -> str:
        """The customer side of the chat: the sender, or the chat for Team/CS messages."""
        if self.is_group:
            return self.sender if not self.from_me else self.chat
        return self.chat if self.from_me else self.sender

    @property
    def lead_phone(self) -> str:
        """Digits of the lead's JID (`6281…@s.whatsapp.net` → `6281…`)."""
        return jid_to_phone(self.lead_jid)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (one line of `wabridge replay`); rarer flags only when set."""
        out: dict[str, Any] = {
            "id": self.id,
            "session": self.session,
            "chat": self.chat,
            "sender": self.sender,
            "from_me": self.from_me,
            "is_group": self.is_group,
            "sender_name": self.sender_name,
            "timestamp": self.timestamp.isoformat(),
            "type": self.type,
            "text": self.text,
            "has_media": self.has_media,
            "is_reply": self.is_reply,
            "partner_source": self.partner_source,
            "channel_id": self.channel_id,
            "room_tags": list(self.room_tags),
            "referral": self.referral.to_dict() if self.referral else None,
            "sender_lid": self.sender_lid,
            "reply_to": self.reply_to,
        }
        # Flags of rarer messages appear only when set, so ordinary payloads stay as they were.
        if self.text_truncated:
            out["text_truncated"] = True
        if self.history:
            out["history"] = True
        if self.is_edit:
            out["is_edit"] = True
        if self.is_deletion:
            out["is_deletion"] = True
        if self.original_id is not None:
            out["original_id"] = self.original_id
        if self.user_id is not None:
            out["user_id"] = self.user_id
        return out


@lru_cache(maxsize=16_384)  # a message's lead phone is read ~3 times: 80 against 260 ns (a pure function)
def jid_to_phone(jid: str) -> str:
    """Return the user part of a JID without device suffix; digits stay digits.

    A user-id JID (`US.134…@bsuid`) keeps its whole id: it is the lead's key until a phone is known.
    """
    user, _, server = jid.partition("@")
    if server == USER_ID_SERVER:
        return user
    return user.split(":", 1)[0].split(".", 1)[0]


def user_id_to_jid(user_id: str) -> str:
    """The JID of a user known only by a business-scoped user id."""
    return f"{user_id}@{USER_ID_SERVER}"


def is_user_id_key(key: str) -> bool:
    """Whether a lead key is a business-scoped user id rather than phone digits."""
    return not key.isdigit()


def phone_to_jid(phone: str) -> str:
    """Return the user JID of a phone number (digits)."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"{digits}@{PN_SERVER}"


_BOOL_FIELDS = ("from_me", "is_group", "has_media", "is_reply", "text_truncated", "history", "is_edit",
                "is_deletion")
_OPT_STR_FIELDS = ("sender_name", "channel_id", "sender_lid", "reply_to", "original_id", "user_id")
_KNOWN_FIELDS = frozenset(f.name for f in fields(Message))


def _require_str(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        raise MessageFormatError(name, "is required and must be a non-empty string")
    return readable(value.strip())


def parse_timestamp(value: object, field_name: str = "timestamp") -> datetime:
    """Parse an ISO 8601 timestamp with offset (or epoch ms/s as a number), years 1900 to 2999."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MessageFormatError(field_name, "must be an ISO 8601 string with offset")
    if isinstance(value, int | float):
        try:
            parsed = datetime.fromtimestamp(value / 1000 if value > 10**11 else value, tz=UTC)
        except (OverflowError, ValueError, OSError):  # 1e20, Infinity, NaN: no such moment
            raise MessageFormatError(field_name, f"{value!r} is out of range for a time") from None
    else:
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise MessageFormatError(field_name,
                                     f"{value!r} is not ISO 8601 (e.g. 2026-11-23T10:15:00+07:00)") from None
        if parsed.tzinfo is None:
            raise MessageFormatError(field_name, f"{value!r} has no UTC offset (add +07:00 or Z)")
    if not 1900 <= parsed.year <= 2999:  # year 1 or 9999 overflows once shown in the workspace zone
        raise MessageFormatError(field_name, f"{value!r} is out of range for a time (years 1900 to 2999)")
    return parsed


def _parse_referral(value: object) -> Referral | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise MessageFormatError("referral", "must be an object or null")
    known = {f.name for f in fields(Referral)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise MessageFormatError(f"referral.{unknown[0]}", "is not a known referral field")
    kwargs: dict[str, str | None] = {}
    for name in known:
        item = value.get(name)
        if item is not None and not isinstance(item, str):
            raise MessageFormatError(f"referral.{name}", "must be a string or null")
        kwargs[name] = readable(item) if item else None
    referral = Referral(**kwargs)
    return referral if any(kwargs.values()) else None


def parse_message(raw: Mapping[str, Any]) -> Message:
    """Validate one normalised message (a JSON object) and return it typed.

    Raises `MessageFormatError` naming the field and the problem.
    """
    if not isinstance(raw, Mapping):
        raise MessageFormatError("(message)", "must be a JSON object")
    unknown = sorted(set(raw) - _KNOWN_FIELDS)
    if unknown:
        raise MessageFormatError(unknown[0], "is not a field of the message format")
    values: dict[str, Any] = {
        "id": _require_str(raw, "id"),
        "session": _require_str(raw, "session"),
        "chat": _require_str(raw, "chat"),
        "sender": _require_str(raw, "sender"),
        "timestamp": parse_timestamp(raw.get("timestamp")),
    }
    for name in _BOOL_FIELDS:
        if name in raw and raw[name] is not None:
            if not isinstance(raw[name], bool):
                raise MessageFormatError(name, f"must be true or false, not {raw[name]!r}")
            values[name] = raw[name]
    for name in _OPT_STR_FIELDS:
        if raw.get(name) is not None:
            if not isinstance(raw[name], str):
                raise MessageFormatError(name, "must be a string or null")
            values[name] = readable(raw[name])
    msg_type = raw.get("type", "text") or "text"
    if msg_type not in MESSAGE_TYPES:
        raise MessageFormatError("type", f"{msg_type!r} is not one of {', '.join(MESSAGE_TYPES)}")
    values["type"] = msg_type
    text = raw.get("text", "")
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise MessageFormatError("text", "must be a string")
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        values["text_truncated"] = True
    values["text"] = readable(text)
    partner = raw.get("partner_source") or "whatsapp_web"
    if not isinstance(partner, str):
        raise MessageFormatError("partner_source", "must be a string")
    values["partner_source"] = partner
    tags = raw.get("room_tags") or ()
    if isinstance(tags, str):
        tags = [t for t in (part.strip() for part in tags.split(",")) if t]
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        raise MessageFormatError("room_tags", "must be a list of strings")
    values["room_tags"] = tuple(map(readable, tags))
    values["referral"] = _parse_referral(raw.get("referral"))
    if values.get("is_edit") or values.get("is_deletion"):
        if values.get("is_edit") and values.get("is_deletion"):
            raise MessageFormatError("is_deletion", "a message is an edit or a deletion, not both")
        if not values.get("original_id"):
            raise MessageFormatError("original_id", "an edit or a deletion needs the id of the original message")
    message: Message = object.__new__(Message)
    # The slot setters directly: the frozen dataclass __init__ costs twice as much, per message.
    for name, set_slot in _MESSAGE_SLOT_SETTERS:
        set_slot(message, values[name] if name in values else _MESSAGE_DEFAULTS[name])
    return message


_MESSAGE_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Message) if f.default is not MISSING}
_MESSAGE_SLOT_SETTERS = tuple((f.name, getattr(Message, f.name).__set__) for f in fields(Message))


LEAD_TEXT_FIELDS: tuple[str, ...] = (
    "name",
    "priority",
    "source",
    "notes",
    "city",
    "region",
    "country",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "ctwa_clid",
    "ad_source_id",
    "ad_source_url",
    "fbclid",
    "gclid",
)
LEAD_NUMBER_FIELDS: tuple[str, ...] = ("score", "value_actual", "value_potential")


class Lead(NamedTuple):
    """A lead: the customer side of a chat, with its CRM fields.

    Immutable like the other domain values, but a named tuple rather than a frozen dataclass:
    every message makes a new one from its draft (engine.lead_draft), and a tuple is built from
    the draft's values in one C call where a frozen dataclass sets its 27 fields one call each
    (2.3 µs a message, scripts/bench.py). Compare leads with leads only: as a tuple, a lead also
    equals a plain tuple of its values.
    """

    phone: str
    jid: str
    status: str
    name: str | None = None
    priority: str | None = None
    score: float = 0
    source: str | None = None
    notes: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    ctwa_clid: str | None = None
    ad_source_id: str | None = None
    ad_source_url: str | None = None
    fbclid: str | None = None  # click ids of a rotator-link visit (engine.attribution)
    gclid: str | None = None
    value_actual: float | None = None
    value_potential: float | None = None
    tags: frozenset[str] = frozenset()
    chat_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def with_changes(self, **changes: Any) -> Lead:
        """Return a copy with some fields replaced."""
        return self._replace(**changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the lead export format (DESIGN.md): every field in its order, unset is None,
        tags sorted, times as ISO text, whole numbers as integers."""
        # One dict display from the lead unpacked in field order: built for every webhook a
        # message queues. Reading 27 fields by name cost half of it (an attribute of a named
        # tuple is a descriptor call, which Python 3.11 does not specialise). whole_number
        # changes floats only: not called for the usual whole score or missing value.
        (phone, jid, status, name, priority, score, source, notes, city, region, country, utm_source, utm_medium,
         utm_campaign, utm_term, utm_content, ctwa_clid, ad_source_id, ad_source_url, fbclid, gclid, value_actual,
         value_potential, tags, chat_count, created, updated) = self
        return {
            "phone": phone,
            "jid": jid,
            "status": status,
            "name": name,
            "priority": priority,
            "score": score if type(score) is int else whole_number(score),
            "source": source,
            "notes": notes,
            "city": city,
            "region": region,
            "country": country,
            "utm_source": utm_source,
            "utm_medium": utm_medium,
            "utm_campaign": utm_campaign,
            "utm_term": utm_term,
            "utm_content": utm_content,
            "ctwa_clid": ctwa_clid,
            "ad_source_id": ad_source_id,
            "ad_source_url": ad_source_url,
            "fbclid": fbclid,
            "gclid": gclid,
            "value_actual": value_actual if value_actual is None else whole_number(value_actual),
            "value_potential": value_potential if value_potential is None else whole_number(value_potential),
            "tags": sorted_tags(tags),
            "chat_count": chat_count,
            "created_at": iso_text(created) if created is not None else None,
            "updated_at": iso_text(updated) if updated is not None else None,
        }


def whole_number(value: float | None) -> float | int | None:
    """1500000.0 → 1500000: a whole amount reads as one (lead exports, conversion values)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


@dataclass(frozen=True, slots=True)
class Workspace:
    """The workspace settings evaluation needs: its name, timezone and status list."""

    name: str
    tz: tzinfo
    statuses: tuple[str, ...] = DEFAULT_STATUSES


LEAD_FIELDS: tuple[str, ...] = Lead._fields  # in order: the export form's, the leads table's columns
