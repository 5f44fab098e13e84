"""Messages people send: POST /api/messages, `wabridge send`, the reply box of a lead's page.

This only checks the request and picks the number; the message then goes through the
outbox like an automatic reply (bridge.outbox.service: pacing, CONNECTED only, max_wait,
never handed to WhatsApp twice), ahead of the number's queued automatic replies. When
WhatsApp accepts it, the delivery records it in the inbox as a Team message, so it shows
on the lead's page and the rules see it once (store.outbox_delivery.record_results).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.outbox.settings import SendingSettings
from engine.model import LID_SERVER, PN_SERVER
from store.events import phone_digits
from store.sending import (
    IdempotencyConflict,
    Outgoing,
    last_session,
    message_status,
    messages_to_lead,
    queue_message,
    quoted_message,
)

MAX_TEXT = 65536  # characters: WhatsApp's limit for one text message
MAX_KEY = 255  # Idempotency-Key characters
MAX_REPLY_TO = 128
FIELDS = ("to", "text", "number", "reply_to")
ORIGINS = ("api", "cli", "dashboard")
_PHONE = re.compile(r"^[1-9][0-9]{6,14}$")
_GROUP = re.compile(r"^[0-9]{6,20}(-[0-9]{6,12})?@g\.us$")
_LID = re.compile(r"^[1-9][0-9]{6,19}$")
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


class SendRefused(Exception):
    """The request cannot be queued: an HTTP status, a code, and the field to blame."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a message goes: the JID and the lead (its phone, or a group's id)."""

    jid: str
    lead_phone: str
    is_group: bool


def _bad(field: str, problem: str) -> SendRefused:
    return SendRefused(400, "bad_request", f"{field}: {problem}", field)


def recipient(value: Any, settings: SendingSettings) -> Recipient:
    """A phone (`+62 812-…`, `0812…`, digits), a lead's phone, or a JID; groups only if allowed."""
    if not isinstance(value, str) or not value.strip():
        raise _bad("to", "required: the customer's phone number (or a JID)")
    text = value.strip()
    if len(text) > 64:
        raise _bad("to", "at most 64 characters")
    if text.endswith("@g.us"):
        if not _GROUP.match(text):
            raise _bad("to", f"{text!r} is not a group JID")
        if not settings.allow_groups:
            raise _bad("to", "sending into groups is off (set [sending] allow_groups = true to allow it)")
        return Recipient(text, text.split("@", 1)[0], True)
    if "@" in text:
        user, _, server = text.partition("@")
        user = user.split(":", 1)[0]
        if server == LID_SERVER and _LID.match(user):
            # A customer WhatsApp names only by a LID (their lead is keyed by its digits): answered there.
            return Recipient(f"{user}@{LID_SERVER}", user, False)
        if server != PN_SERVER:
            raise _bad("to", f"{text!r}: only phone JIDs (…@s.whatsapp.net), a customer's LID (…@lid) "
                             "and group JIDs (…@g.us)")
        text = user
    elif any(ch not in "0123456789 +-()." for ch in text):
        raise _bad("to", f"{text!r} is not a phone number")
    digits = phone_digits(text)
    if not _PHONE.match(digits):
        raise _bad("to", f"{value!r} is not a phone number (7 to 15 digits with the country code)")
    return Recipient(f"{digits}@{PN_SERVER}", digits, False)


def message_text(value: Any) -> str:
    """Non-blank text within WhatsApp's limit."""
    if not isinstance(value, str) or not value.strip():
        raise _bad("text", "required: the message text")
    if len(value) > MAX_TEXT:
        raise _bad("text", f"{len(value)} characters; WhatsApp's limit is {MAX_TEXT}")
    return value


def idempotency_key(value: str | None) -> str | None:
    """The Idempotency-Key header: 1-255 visible ASCII characters."""
    if value is None:
        return None
    if not _KEY.match(value):
        raise SendRefused(400, "bad_request", f"Idempotency-Key: 1 to {MAX_KEY} visible ASCII characters",
                          "Idempotency-Key")
    return value


class OutgoingMessages:
    """Queue people's messages and tell their state (the daemon's `messages`)."""

    def __init__(self, settings: SendingSettings, numbers: Collection[str], db_call: Callable[..., Awaitable[Any]],
                 wake: Callable[[], None], clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.numbers = tuple(numbers)
        self.db_call = db_call
        self.wake = wake
        self.clock = clock

    async def send(self, body: Mapping[str, Any], *, key: str | None = None,
                   origin: str = "api") -> tuple[dict[str, Any], bool]:
        """Check and queue one message; (its status, whether it answers an earlier request)."""
        unknown = sorted(set(body) - set(FIELDS))
        if unknown:
            raise _bad(unknown[0], f"not a field of a message (known: {', '.join(FIELDS)})")
        to = recipient(body.get("to"), self.settings)
        text = message_text(body.get("text"))
        key = idempotency_key(key)
        number = await self._number(body.get("number"), to)
        quoted = await self._quoted(body.get("reply_to"), to)
        outgoing = Outgoing(number=number, to=to.jid, lead_phone=to.lead_phone, text=text,
                            origin=origin if origin in ORIGINS else "api",
                            reply_to=quoted.get("id") if quoted else None,
                            quoted_sender=quoted.get("sender") if quoted else None,
                            quoted_text=quoted.get("text") if quoted else None)
        fingerprint = hashlib.sha256(json.dumps([to.jid, text, number, outgoing.reply_to]).encode()).hexdigest()
        try:
            status, replayed = await self.db_call(queue_message, outgoing, self.clock(), key=key,
                                                  fingerprint=fingerprint)
        except IdempotencyConflict as exc:
            raise SendRefused(409, "idempotency_key_reused", str(exc), "Idempotency-Key") from None
        if not replayed:
            self.wake()
        return status, replayed

    async def status(self, entry_id: int) -> dict[str, Any] | None:
        """queued / sent / failed of one message, None if there is no such message."""
        return await self.db_call(message_status, entry_id)  # type: ignore[no-any-return]

    async def of_lead(self, phone: str, limit: int = 50) -> list[dict[str, Any]]:
        """The messages sent to a lead through the bridge, newest first."""
        return await self.db_call(messages_to_lead, phone, limit)  # type: ignore[no-any-return]

    async def last_session(self, lead_phone: str) -> str | None:
        """The admin number or partner channel of the lead's latest message."""
        return await self.db_call(last_session, lead_phone)  # type: ignore[no-any-return]

    async def default_number(self, lead_phone: str) -> str | None:
        """The number a message to this lead goes through without `number` (None: none fits)."""
        last = await self.db_call(last_session, lead_phone)
        if last in self.numbers:
            return str(last)
        if last is None and len(self.numbers) == 1:
            return self.numbers[0]
        return None

    async def _number(self, value: Any, to: Recipient) -> str:
        if value is not None:
            if not isinstance(value, str) or phone_digits(value) not in self.numbers:
                raise _bad("number", f"{value!r} is not an admin number in config.toml "
                                     f"({', '.join(self.numbers) or 'none configured'})")
            return phone_digits(value)
        last = await self.db_call(last_session, to.lead_phone)
        if last is not None and last not in self.numbers:
            if ":" in last:
                source = last.split(":", 1)[0]
                raise SendRefused(409, "partner_channel", f"{to.lead_phone} writes to you through the partner "
                                  f"channel {last}: replies go through {source} (its inbox or chatbot), not a "
                                  "linked number; pass `number` to write from a linked number anyway", "number")
            raise _bad("number", f"{last} (the last number this customer talked with) is no longer in config.toml: "
                                 "say which number sends")
        if last is None:
            if len(self.numbers) == 1:
                return self.numbers[0]
            raise _bad("number", "this customer has not talked with any admin number yet: say which number sends")
        return last

    async def _quoted(self, value: Any, to: Recipient) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_REPLY_TO:
            raise _bad("reply_to", f"the WhatsApp id of a message in this conversation (1 to {MAX_REPLY_TO} "
                                   "characters)")
        found = await self.db_call(quoted_message, to.lead_phone, value)
        if found is None:
            raise _bad("reply_to", f"no message {value!r} in the conversation with {to.lead_phone}")
        return found  # type: ignore[no-any-return]
