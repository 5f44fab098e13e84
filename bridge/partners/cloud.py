"""The WhatsApp Cloud API webhook format → DESIGN's normalised messages.

One POST carries `entry[].changes[].value` objects. A `messages` change's `messages[]` are
what customers sent: text, media with captions, replies via `context`, template
quick-reply `button`s, `interactive` button, list and Flow (`nfm_reply`) replies, `order`s,
`location`, `contacts`, click-to-WhatsApp `referral`s, `edit`s (the new content, `is_edit`,
`original_id`) and `revoke`s (a deletion of `original_id`). An `smb_message_echoes` change's
`message_echoes[]` are what staff typed in the WhatsApp Business app on the same number
(coexistence): Team/CS messages (`from_me`). Delivery `statuses[]`, reactions and system
notices are not lead messages and are skipped, as the linked-device normalisation skips
reactions and protocol messages.

The sender: `from` (phone digits) when Meta shares it; a user who adopted a username may
come with only a business-scoped user id (`from_user_id` on the message, `user_id` on its
`contacts[]` entry), and then the lead is keyed by that id (`<id>@bsuid`). A message with
both carries both (`user_id`), so the store can merge the two leads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge.partners.errors import PayloadError, UnreadableMessage
from engine.model import phone_to_jid, user_id_to_jid

SOURCE = "whatsapp_cloud"
_MEDIA_TYPES = {"image": "image", "video": "video", "audio": "audio", "document": "document", "sticker": "sticker"}
_SKIPPED_TYPES = frozenset({"reaction", "system", "ephemeral", "request_welcome"})
# `unsupported` kinds that are changes to other messages, not messages: no content to read.
_UNSUPPORTED_CHANGES = frozenset({"edit", "revoke", "reaction", "poll_vote", "keep_in_chat", "pin"})
_MAX_ORDER_ITEMS_SHOWN = 20


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _amount(value: object) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def order_text(order: Mapping[str, Any]) -> str:
    """"Order: 3 items, ILS 30.00 — A × 1, B × 2" (+ the customer's note): text a rule can match."""
    items = [_obj(i) for i in _list(order.get("product_items"))]
    count = 0
    total = Decimal(0)
    currencies = set()
    parts: list[str] = []
    for item in items:
        quantity = _amount(item.get("quantity")) or Decimal(0)
        count += int(quantity)
        price = _amount(item.get("item_price"))
        if price is not None:
            total += price * quantity
        if item.get("currency"):
            currencies.add(str(item["currency"]))
        if len(parts) < _MAX_ORDER_ITEMS_SHOWN:
            parts.append(f"{item.get('product_retailer_id') or '?'} × {quantity.normalize():f}")
    head = f"Order: {count} item{'s' if count != 1 else ''}"
    if len(currencies) == 1:
        head += f", {currencies.pop()} {total.quantize(Decimal('0.01')):f}"
    text = head + (" — " + ", ".join(parts) if parts else "")
    if len(items) > _MAX_ORDER_ITEMS_SHOWN:
        text += f", … ({len(items) - _MAX_ORDER_ITEMS_SHOWN} more)"
    note = str(order.get("text") or "").strip()
    return f"{text}\n{note}" if note else text


def flow_text(reply: Mapping[str, Any]) -> str:
    """A Flow answer (`nfm_reply.response_json`) as `key: value` lines (the flow token left out)."""
    try:
        answers = json.loads(str(reply.get("response_json") or ""))
    except (json.JSONDecodeError, RecursionError):
        answers = None
    if not isinstance(answers, Mapping):
        return str(reply.get("body") or "")
    lines = []
    for key, value in answers.items():
        if key == "flow_token":
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        lines.append(f"{key}: {shown if not isinstance(shown, Mapping) else json.dumps(shown)}")
    return "\n".join(lines) or str(reply.get("body") or "")


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
        if interactive.get("nfm_reply"):
            return "text", flow_text(_obj(interactive.get("nfm_reply"))), False
        reply = _obj(interactive.get("button_reply") or interactive.get("list_reply"))
        return "text", str(reply.get("title") or reply.get("body") or ""), False
    if kind == "order":
        return "text", order_text(_obj(message.get("order"))), False
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


def _timestamp(raw: object, received_at: datetime) -> object:
    """ISO time of Meta's epoch seconds; when absent, the arrival time. An unreadable value is
    passed on as it is, so validation keeps the message as unreadable, naming the timestamp."""
    if raw is None or raw == "":
        return received_at.isoformat()
    try:
        return datetime.fromtimestamp(int(str(raw)), tz=UTC).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return raw


def normalise(payload: object, *, url_channel: str,
              received_at: datetime) -> Iterator[dict[str, Any] | UnreadableMessage]:
    """Yield one normalised message dict per message in a Cloud API webhook body (or why one is unreadable).

    The channel is the value's `metadata.phone_number_id` (falling back to the URL's channel),
    so one Meta app callback serves every number of the account.
    """
    if not isinstance(payload, Mapping) or payload.get("object") != "whatsapp_business_account":
        raise PayloadError("object", 'expected a WhatsApp Cloud API webhook ("object": "whatsapp_business_account")')
    for entry in _list(payload.get("entry")):
        for change in _list(_obj(entry).get("changes")):
            change = _obj(change)
            field = change.get("field")
            if field not in ("messages", "smb_message_echoes"):
                continue
            value = _obj(change.get("value"))
            metadata = _obj(value.get("metadata"))
            channel = str(metadata.get("phone_number_id") or url_channel)
            if field == "smb_message_echoes":
                business = str(metadata.get("display_phone_number") or "")
                for echo in map(_obj, _list(value.get("message_echoes"))):
                    item = _echo(echo, channel, business, received_at)
                    if item is not None:
                        yield item
                continue
            contacts = [_obj(c) for c in _list(value.get("contacts"))]
            for message in map(_obj, _list(value.get("messages"))):
                item = _message(message, channel, contacts, received_at)
                if item is not None:
                    yield item


def _contact_of(message: Mapping[str, Any], contacts: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    sender, user_id = str(message.get("from") or ""), str(message.get("from_user_id") or "")
    for contact in contacts:
        if (sender and str(contact.get("wa_id") or "") == sender) or (
                user_id and str(contact.get("user_id") or "") == user_id):
            return contact
    return contacts[0] if len(contacts) == 1 else {}


def _content(message: Mapping[str, Any], kind: str) -> dict[str, Any] | UnreadableMessage | None:
    """The content fields of a message (edits and revokes resolved), None to skip it."""
    reference = str(message.get("id") or "")
    if kind in _SKIPPED_TYPES:
        return None
    if kind == "edit":
        edit = _obj(message.get("edit"))
        inner = _obj(edit.get("message"))
        original = str(edit.get("original_message_id") or "")
        content = _content(inner, str(inner.get("type") or "")) if inner else None
        if not original or not isinstance(content, dict):
            return UnreadableMessage(reference, "edit without the original message id or its new content",
                                     json.dumps(message)[:65536])
        return {**content, "is_edit": True, "original_id": original}
    if kind == "revoke":
        original = str(_obj(message.get("revoke")).get("original_message_id") or "")
        if not original:
            return UnreadableMessage(reference, "revoke without the original message id", json.dumps(message)[:65536])
        return {"type": "other", "text": "", "has_media": False, "is_deletion": True, "original_id": original,
                "reply_to": None}
    if kind == "unsupported":
        what = str(_obj(message.get("unsupported")).get("type") or "unknown")
        if what in _UNSUPPORTED_CHANGES:  # a change to another message whose content Meta does not send
            return UnreadableMessage(reference, f"unsupported {what}: Meta sent no content",
                                     json.dumps(message)[:65536])
    msg_type, text, has_media = _text_of(message, kind)
    context = _obj(message.get("context"))
    reply_to = str(context["id"]) if context.get("id") else None
    return {"type": msg_type, "text": text, "has_media": has_media, "reply_to": reply_to}


def _message(message: Mapping[str, Any], channel: str, contacts: list[Mapping[str, Any]],
             received_at: datetime) -> dict[str, Any] | UnreadableMessage | None:
    content = _content(message, str(message.get("type") or ""))
    if not isinstance(content, dict):
        return content
    contact = _contact_of(message, contacts)
    sender = str(message.get("from") or contact.get("wa_id") or "")
    user_id = str(message.get("from_user_id") or contact.get("user_id") or "") or None
    # Phone digits when Meta shares them, else the business-scoped user id; with neither the
    # message fails validation and is kept as unreadable.
    jid = phone_to_jid(sender) if sender.isdigit() else (user_id_to_jid(user_id) if user_id else "")
    name = _obj(contact.get("profile")).get("name")
    reply_to = content.pop("reply_to", None)
    return {
        "id": str(message.get("id") or ""),
        "session": f"{SOURCE}:{channel}",
        "chat": jid,
        "sender": jid,
        "from_me": False,
        "is_group": False,
        "sender_name": str(name) if name else None,
        "timestamp": _timestamp(message.get("timestamp"), received_at),
        **content,
        "is_reply": reply_to is not None,
        "reply_to": reply_to,
        "partner_source": SOURCE,
        "channel_id": channel,
        "room_tags": [],
        "referral": _referral(message.get("referral")),
        "user_id": user_id,
    }


def _echo(echo: Mapping[str, Any], channel: str, business: str,
          received_at: datetime) -> dict[str, Any] | UnreadableMessage | None:
    """What staff typed in the WhatsApp Business app (coexistence): a Team/CS message to `to`."""
    content = _content(echo, str(echo.get("type") or ""))
    if not isinstance(content, dict):
        return content
    customer = str(echo.get("to") or "")
    user_id = str(echo.get("to_user_id") or "") or None
    chat = phone_to_jid(customer) if customer.isdigit() else (user_id_to_jid(user_id) if user_id else "")
    reply_to = content.pop("reply_to", None)
    return {
        "id": str(echo.get("id") or ""),
        "session": f"{SOURCE}:{channel}",
        "chat": chat,
        "sender": phone_to_jid(business) if business.isdigit() else f"{SOURCE}:{channel}",
        "from_me": True,
        "is_group": False,
        "sender_name": None,
        "timestamp": _timestamp(echo.get("timestamp"), received_at),
        **content,
        "is_reply": reply_to is not None,
        "reply_to": reply_to,
        "partner_source": SOURCE,
        "channel_id": channel,
        "room_tags": [],
        "referral": None,
        "user_id": user_id,
    }
