"""The generic partner format (qontak, qiscus, pancake, wa_api, ...) → DESIGN's normalised messages.

A source's JSON is read through a field mapping: each generic field (README "Partner
channels") is found at a dotted path (`data.sender.phone`, `messages.0.text`). Without a
mapping the body must already be the generic shape:

    {"id": "msg-1", "customer": "6281234567890", "name": "Sari", "text": "halo",
     "from_me": false, "timestamp": "2026-11-23T10:00:00+07:00", "room_tags": ["vip"]}

An item with `edit_of` is the new content of that message (an edit); one with `delete_of` is its
deletion. Partners often send such an update under the original's own id: then the update gets an
id of its own (the deletion `<original>:deleted`, an edit `<original>:edit:<hash of its text>`), so
the inbox does not take it for the original delivered twice, and a repeat of it still is one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from bridge.attribution.settings import GENERIC_FIELDS, PartnerConfig
from bridge.partners.errors import PayloadError, UnreadableMessage
from engine.model import MESSAGE_TYPES, phone_to_jid

_MEDIA = frozenset({"image", "video", "audio", "document", "sticker"})
_TRUE = frozenset({"true", "1", "yes", "y", "agent", "outbound", "outgoing"})
_FALSE = frozenset({"false", "0", "no", "n", "customer", "inbound", "incoming", ""})


def lookup(document: object, path: str) -> Any:
    """The value at a dotted path (`a.b.0.c`); None when any step is missing."""
    current = document
    for part in path.split(".") if path else ():
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def _flag(value: object, name: str) -> bool:
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, int | str) and str(value).strip().lower() in _TRUE | _FALSE:
        return str(value).strip().lower() in _TRUE
    raise PayloadError(name, f"{value!r} is not true or false")


def _string(value: object) -> str | None:
    if value is None or isinstance(value, Mapping | list):
        return None
    text = str(value).strip()
    return text or None


def _jid(customer: str) -> str:
    if "@" in customer:
        return customer
    digits = "".join(ch for ch in customer if ch.isdigit())
    return phone_to_jid(digits) if digits else ""


def _tags(value: object) -> list[str]:
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    if isinstance(value, list):
        return [str(t.get("name") if isinstance(t, Mapping) else t).strip() for t in value if t is not None]
    return []


def normalise(payload: object, partner: PartnerConfig, *, channel: str,
              received_at: datetime) -> Iterator[dict[str, Any] | UnreadableMessage]:
    """Yield one normalised message dict per message in a generic partner body (or why one is
    unreadable, with the item as it came)."""
    items = lookup(payload, partner.messages)
    if isinstance(items, Mapping):
        items = [items]
    if not isinstance(items, list):
        where = partner.messages or "(body)"
        raise PayloadError(where, "expected a message object or a list of them")
    paths = {name: partner.fields.get(name, name) for name in GENERIC_FIELDS}
    session = f"{partner.source}:{channel}"
    for index, item in enumerate(items):
        try:
            yield _message(item, paths, partner.source, channel, session, received_at)
        except PayloadError as exc:
            raw = json.dumps(item, default=str)[:65536]  # ASCII: a lone surrogate is kept escaped, storable
            # No reference: the service names it by its content (a partner's ids may repeat across items).
            yield UnreadableMessage("", f"malformed message: messages[{index}].{exc.field}: {exc.problem}", raw)


def _message(item: object, paths: Mapping[str, str], source: str, channel: str, session: str,
             received_at: datetime) -> dict[str, Any]:
    def get(name: str) -> Any:
        return lookup(item, paths[name])

    from_me = _flag(get("from_me"), "from_me")
    customer = _jid(_string(get("customer")) or "")
    kind = (_string(get("type")) or "text").lower()
    reply_to = _string(get("reply_to"))
    referral = {"source_id": _string(get("ad_id")), "source_url": _string(get("ad_url")),
                "ctwa_clid": _string(get("ctwa_clid"))}
    timestamp = get("timestamp")
    message_id = _string(get("id")) or ""
    edit_of, delete_of = _string(get("edit_of")), _string(get("delete_of"))
    if edit_of and delete_of:
        raise PayloadError("delete_of", "an item edits a message or deletes one, not both")
    text = _string(get("text")) or ""
    if delete_of and message_id in ("", delete_of):
        message_id = f"{delete_of}:deleted"
    elif edit_of and message_id in ("", edit_of):
        # surrogatepass: JSON may carry a lone surrogate ("\ud800"); the hash must not fail on it
        message_id = f"{edit_of}:edit:{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"
    changes: dict[str, Any] = {}
    if edit_of:
        changes = {"is_edit": True, "original_id": edit_of}
    elif delete_of:  # nothing to read: no text, no media, no reply (as a linked device's revoke)
        changes = {"is_deletion": True, "original_id": delete_of, "type": "other", "text": "", "has_media": False,
                   "is_reply": False, "reply_to": None}
    return {
        "id": message_id,
        "session": session,
        "chat": customer,
        "sender": session if from_me else customer,
        "from_me": from_me,
        "is_group": False,
        "sender_name": None if from_me else _string(get("name")),
        "timestamp": timestamp if timestamp not in (None, "") else received_at.isoformat(),
        "type": kind if kind in MESSAGE_TYPES else "other",
        "text": text,
        "has_media": _flag(get("has_media"), "has_media") or kind in _MEDIA,
        "is_reply": reply_to is not None,
        "reply_to": reply_to,
        "partner_source": source,
        "channel_id": channel,
        "room_tags": _tags(get("room_tags")),
        "referral": referral if any(referral.values()) else None,
        **changes,
    }
