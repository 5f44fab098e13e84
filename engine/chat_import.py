"""A parsed chat export → normalised history messages of one customer (pure).

An export names senders by contact name or a formatted phone and has no direction flag:
the business side is any author whose digits are the admin number or whose name is one of
the `me` names; the other author is the customer, whose phone is `customer` or the digits
of their name. Group exports (more than two authors, or group events) are refused: leads
are one-to-one.

Ids are deterministic: a hash of the customer, the local time, the author, the text and
the message's position among identical ones in the file, so the same file imported twice
adds nothing and a later, overlapping export adds only the messages that are new.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from engine.chat_export import ExportError, ExportMessage, ParsedExport, phone_digits
from engine.model import Message, phone_to_jid

PARTNER_SOURCE = "whatsapp_export"


@dataclass(frozen=True, slots=True)
class Sides:
    """Who is who in an export."""

    admin: str  # the admin number (digits): the session the messages belong to
    me: tuple[str, ...] = ()  # author names of the business side
    customer: str | None = None  # the customer's phone (digits) when the export shows a name


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """The messages an export becomes, with what a dry run shows."""

    customer_phone: str
    customer_name: str | None
    business_authors: tuple[str, ...]
    messages: tuple[Message, ...]

    def count(self, *, from_me: bool) -> int:
        """Messages of one side."""
        return sum(1 for m in self.messages if m.from_me is from_me)

    @property
    def first(self) -> datetime | None:
        """Time of the first message."""
        return self.messages[0].timestamp if self.messages else None

    @property
    def last(self) -> datetime | None:
        """Time of the last message."""
        return self.messages[-1].timestamp if self.messages else None


def _normal(name: str) -> str:
    return " ".join(name.casefold().split())


def _is_me(author: str, sides: Sides) -> bool:
    if _normal(author) in {_normal(n) for n in sides.me}:
        return True
    return phone_digits(author) == sides.admin


def plan_import(parsed: ParsedExport, sides: Sides, *, tz: tzinfo) -> ImportPlan:
    """Decide the sides and build the history messages (times read in the workspace zone).

    Raises `ExportError` naming the authors when the sides cannot be told apart.
    """
    authors = parsed.authors
    if parsed.group_signals or len(authors) > 2:
        names = ", ".join(authors[:5]) + (" …" if len(authors) > 5 else "")
        raise ExportError(f"this looks like a group export ({len(authors)} authors: {names}); "
                          "leads are one-to-one, so only chats with one customer can be imported")
    business = tuple(a for a in authors if _is_me(a, sides))
    others = [a for a in authors if a not in business]
    if len(others) > 1:
        raise ExportError(f"cannot tell which author is the business: {others[0]!r} or {others[1]!r}; "
                          "pass --me with the business's name as the export writes it")
    customer_name = others[0] if others else None
    phone = sides.customer or (phone_digits(customer_name) if customer_name else None)
    if not phone:
        shown = repr(customer_name) if customer_name else "nobody"
        raise ExportError(f"the customer appears as {shown}, not as a phone number; "
                          "pass --customer with their phone")
    if phone == sides.admin:
        raise ExportError("the customer's phone is the admin number itself")
    name = customer_name if customer_name and phone_digits(customer_name) is None else None
    customer_jid = phone_to_jid(phone)
    own_jid = phone_to_jid(sides.admin)
    seen: Counter[tuple[str, str, str]] = Counter()
    messages = []
    for item in parsed.messages:
        from_me = item.author in business
        key = (item.at.isoformat(), item.author, item.text)
        seen[key] += 1
        messages.append(Message(
            id=_message_id(phone, item, seen[key]),
            session=sides.admin,
            chat=customer_jid,
            sender=own_jid if from_me else customer_jid,
            timestamp=item.at.replace(tzinfo=tz),
            from_me=from_me,
            sender_name=None if from_me else name,
            type=item.type,
            text=item.text,
            has_media=item.has_media,
            partner_source=PARTNER_SOURCE,
            channel_id=sides.admin,
            history=True,
        ))
    messages.sort(key=lambda m: m.timestamp)
    return ImportPlan(phone, name, business, tuple(messages))


def _message_id(phone: str, item: ExportMessage, occurrence: int) -> str:
    digest = hashlib.sha256("\x1f".join(
        (phone, item.at.isoformat(), item.author, item.text, str(occurrence))).encode()).hexdigest()
    return f"export-{digest[:24]}"


def author_choices(parsed: ParsedExport, sides: Sides) -> Sequence[str]:
    """Authors not yet known to be the business (what a form offers as "this is us")."""
    return [a for a in parsed.authors if not _is_me(a, sides)]
