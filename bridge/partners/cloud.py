"""The WhatsApp Cloud API webhook format → DESIGN's normalised messages.

One POST carries `entry[].changes[].value` objects; a value's `messages[]` are what
customers sent (text, media with captions, replies via `context`, template quick-reply
`button`s, `interactive` button and list replies, click-to-WhatsApp `referral`s). Delivery
`statuses[]`, reactions and system notices are not lead messages and are skipped, as the
linked-device normalisation skips reactions and protocol messages.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from bridge.partners.errors import PayloadError
from engine.model import phone_to_jid

SOURCE = "whatsapp_cloud"
_MEDIA_TYPES = {"image": "image", "video": "video", "audio": "audio", "document": "document", "sticker": "sticker"}
_SKIPPED_TYPES = frozenset({"reaction", "system", "ephemeral", "request_welcome"})


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _text_of(message: Mapping[str, Any], kind: str) -> tuple[str, str, bool]:
    """(type, text, has_media) of one Cloud API message."""
    if kind == "text":
        return "text", str(_obj(message.get("text")).get("body") or ""), False
    if kind in _MEDIA_TYPES:
        media = _obj(message.get(kind))
        return _MEDIA_TYPES[kind], str(media.get("caption") or ""), True
    if kind == "button":  # a template's quick-reply button
        return "text", str(_obj(message.get("button")).get("text") or ""), False
    if kind == "interactive":
        interactive = _obj(message.get("interactive"))
        reply = _obj(interactive.get("button_reply") or interactive.get("list_reply") or interactive.get("nfm_reply"))
        return "text", str(reply.get("title") or reply.get("body") or ""), False
    if kind == "location":
        place = _obj(message.get("location"))
        return "location", " ".join(str(place[k]) for k in ("name", "address") if place.get(k)), False
    if kind == "contacts":
        names = [str(_obj(c.get("name")).get("formatted_name") or "") for c in _list(message.get("contacts"))]
        return "contact", ", ".join(n for n in names if n), False
    return "other", "", False


def _referral(raw: object) -> dict[str, str | None] | None:
    referral = _obj(raw)
    if not referral:
        return None
    out = {key: (str(referral[key]) if referral.get(key) else None)
           for key in ("source_id", "source_type", "source_url", "ctwa_clid")}
    return out if any(out.values()) else None


def _timestamp(raw: object, received_at: datetime) -> str:
    try:
        return datetime.fromtimestamp(int(str(raw)), tz=UTC).isoformat()
    except (TypeError, ValueError, OverflowError):
        return received_at.isoformat()


def normalise(payload: object, *, url_channel: str, received_at: datetime) -> Iterator[dict[str, Any]]:
    """Yield one normalised message dict per customer message in a Cloud API webhook body.

    The channel is the value's `metadata.phone_number_id` (falling back to the URL's channel),
    so one Meta app callback serves every number of the account.
    """
    if not isinstance(payload, Mapping) or payload.get("object") != "whatsapp_business_account":
        raise PayloadError("object", 'expected a WhatsApp Cloud API webhook ("object": "whatsapp_business_account")')
    for entry in _list(payload.get("entry")):
        for change in _list(_obj(entry).get("changes")):
            change = _obj(change)
            if change.get("field") != "messages":
                continue
            value = _obj(change.get("value"))
            channel = str(_obj(value.get("metadata")).get("phone_number_id") or url_channel)
            names = {str(c.get("wa_id")): _obj(c.get("profile")).get("name")
                     for c in map(_obj, _list(value.get("contacts")))}
            for message in map(_obj, _list(value.get("messages"))):
                normalised = _message(message, channel, names, received_at)
                if normalised is not None:
                    yield normalised


def _message(message: Mapping[str, Any], channel: str, names: Mapping[str, Any],
             received_at: datetime) -> dict[str, Any] | None:
    kind = str(message.get("type") or "")
    if kind in _SKIPPED_TYPES:
        return None
    sender = str(message.get("from") or "")
    msg_type, text, has_media = _text_of(message, kind)
    context = _obj(message.get("context"))
    reply_to = str(context["id"]) if context.get("id") else None
    # A message without a phone-number sender fails validation later and is kept as unreadable.
    jid = phone_to_jid(sender) if sender.isdigit() else ""
    name = names.get(sender)
    return {
        "id": str(message.get("id") or ""),
        "session": f"{SOURCE}:{channel}",
        "chat": jid,
        "sender": jid,
        "from_me": False,
        "is_group": False,
        "sender_name": str(name) if name else None,
        "timestamp": _timestamp(message.get("timestamp"), received_at),
        "type": msg_type,
        "text": text,
        "has_media": has_media,
        "is_reply": reply_to is not None,
        "reply_to": reply_to,
        "partner_source": SOURCE,
        "channel_id": channel,
        "room_tags": [],
        "referral": _referral(message.get("referral")),
    }
