"""Turn a neonize `MessageEv` into DESIGN.md's normalised message (a plain dict).

Why duck typing: this module reads protobuf attributes (`Info.MessageSource.Chat.User`,
`Message.imageMessage.caption`, ...) and the generic protobuf API (`ListFields`), but it
never imports neonize, so it is testable and reusable anywhere (field paths per
neonize-notes §4). Only the neonize worker (`neonize_worker`, `neonize_events`) imports neonize.

What it decides:
- which events are user messages at all: reactions, protocol messages other than edits
  and revokes, poll votes, status broadcasts, newsletters and empty payloads return None
  (skipped); an unknown but real user payload becomes type "other";
- edits (`protocolMessage` MESSAGE_EDIT with `editedMessage`, as whatsmeow hands them
  over with `IsEdit`) become a message with the new content, `is_edit` and the edited
  message's id in `original_id`; revokes (`protocolMessage` REVOKE) become a deletion
  (`is_deletion`, `original_id`) that the processor only records;
- phone-number JIDs: a LID sender is replaced by its phone JID (SenderAlt, or the
  optional `resolve_pn` lookup) and kept in `sender_lid`; likewise for a 1:1 chat;
- type / text / has_media / is_reply / reply_to / referral (click-to-WhatsApp ads).
The result is validated by `engine.model.parse_message` and returned as
`Message.to_dict()`, the wire form of the worker protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from engine.model import parse_message

log = structlog.get_logger(__name__)

PN_SERVER = "s.whatsapp.net"
LID_SERVER = "lid"
GROUP_SERVER = "g.us"
_SKIPPED_CHAT_SERVERS = frozenset({"broadcast", "newsletter"})

# Wrappers whatsmeow normally strips already (notes §4.6); unwrap defensively.
_WRAPPERS: tuple[str, ...] = (
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
    "lottieStickerMessage",
    "deviceSentMessage",
    "botInvokeMessage",
)
# Payloads that are not user messages: the whole event is skipped.
_SKIP_FIELDS = frozenset(
    {
        "reactionMessage",
        "encReactionMessage",
        "protocolMessage",
        "editedMessage",
        "pollUpdateMessage",
        "keepInChatMessage",
        "pinInChatMessage",
        "encEventResponseMessage",
        "secretEncryptedMessage",
        "encCommentMessage",
        "placeholderMessage",
        "messageHistoryBundle",
        "messageHistoryNotice",
        "groupRootKeyShare",
        "rootSecretDistributeMessage",
        "stickerSyncRmrMessage",
        "call",
        "chat",
    }
)
# Transport companions that ride along with real content and carry none themselves.
_IGNORED_FIELDS = frozenset(
    {
        "senderKeyDistributionMessage",
        "fastRatchetKeySenderKeyDistributionMessage",
        "messageContextInfo",
    }
)
# Known content kinds, in priority order: (protobuf field, type, has_media).
_CONTENT: tuple[tuple[str, str, bool], ...] = (
    ("conversation", "text", False),
    ("extendedTextMessage", "text", False),
    ("imageMessage", "image", True),
    ("videoMessage", "video", True),
    ("ptvMessage", "video", True),
    ("audioMessage", "audio", True),
    ("documentMessage", "document", True),
    ("stickerMessage", "sticker", True),
    ("locationMessage", "location", False),
    ("liveLocationMessage", "location", False),
    ("contactMessage", "contact", False),
    ("contactsArrayMessage", "contact", False),
)
_CAPTIONED = frozenset({"imageMessage", "videoMessage", "ptvMessage", "documentMessage"})
# Text of "other" kinds a rule may still want to see: (field, attribute path).
_OTHER_TEXT: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("buttonsResponseMessage", ("selectedDisplayText",)),
    ("templateButtonReplyMessage", ("selectedDisplayText",)),
    ("listResponseMessage", ("title",)),
    ("interactiveResponseMessage", ("body", "text")),
    ("pollCreationMessage", ("name",)),
    ("pollCreationMessageV2", ("name",)),
    ("pollCreationMessageV3", ("name",)),
    ("groupInviteMessage", ("caption",)),
    ("eventMessage", ("name",)),
)

PnResolver = Callable[[str], str | None]

_REVOKE, _MESSAGE_EDIT = 0, 14  # ProtocolMessage.Type (WAWebProtobufsE2E)


class NormaliseError(ValueError):
    """A MessageEv that cannot be turned into a normalised message."""


def jid_str(jid: Any) -> str | None:
    """Return "user@server" for a JID protobuf (device dropped), or None if empty."""
    if jid is None:
        return None
    user = str(getattr(jid, "User", "") or "")
    server = str(getattr(jid, "Server", "") or "")
    if not user and not server:
        return None
    if not user:
        return server
    return f"{user.split(':', 1)[0]}@{server}" if server else user


def _server(jid: str | None) -> str:
    return jid.rsplit("@", 1)[1] if jid and "@" in jid else ""


def _set_fields(message: Any) -> list[str]:
    """Names of the fields present on a protobuf message (an empty conversation is absent)."""
    names: list[str] = []
    for descriptor, value in message.ListFields():
        if descriptor.name == "conversation" and not value:
            continue
        names.append(descriptor.name)
    return names


def unwrap(message: Any) -> Any:
    """Strip FutureProof wrappers (ephemeral, view-once, document-with-caption, ...)."""
    for _ in range(5):
        present = set(_set_fields(message))
        for name in _WRAPPERS:
            if name in present:
                inner = getattr(getattr(message, name), "message", None)
                if inner is not None:
                    message = inner
                    break
        else:
            return message
    return message


def _path(obj: Any, attrs: tuple[str, ...]) -> str:
    for attr in attrs:
        obj = getattr(obj, attr, None)
        if obj is None:
            return ""
    return obj if isinstance(obj, str) else ""


def _referral(ctx: Any) -> dict[str, str | None] | None:
    ad = getattr(ctx, "externalAdReply", None)
    values = {
        "source_id": _path(ad, ("sourceID",)),
        "source_type": _path(ad, ("sourceType",)),
        "source_url": _path(ad, ("sourceURL",)),
        "ctwa_clid": _path(ad, ("ctwaClid",)),
        "conversion_source": _path(ctx, ("conversionSource",)),
    }
    if not any(values.values()):
        return None
    return {key: value or None for key, value in values.items()}


def _timestamp(info: Any) -> str:
    raw = getattr(info, "Timestamp", 0) or 0
    try:
        millis = int(raw)
    except (TypeError, ValueError):
        raise NormaliseError(f"Info.Timestamp {raw!r} is not a number") from None
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat()


def _resolve(lid: str | None, resolve_pn: PnResolver | None) -> str | None:
    if not lid or resolve_pn is None:
        return None
    pn = resolve_pn(lid)
    return pn if pn and _server(pn) == PN_SERVER else None


def _participants(
    source: Any, session: str, resolve_pn: PnResolver | None
) -> tuple[str, str | None, str, bool]:
    """Return (sender, sender_lid, chat, is_group) with phone JIDs wherever one exists."""
    from_me = bool(getattr(source, "IsFromMe", False))
    chat = jid_str(getattr(source, "Chat", None))
    sender = jid_str(getattr(source, "Sender", None))
    sender_alt = jid_str(getattr(source, "SenderAlt", None))
    own_pn = f"{session}@{PN_SERVER}"
    is_group = bool(getattr(source, "IsGroup", False)) or _server(chat) == GROUP_SERVER

    sender_lid: str | None = None
    if _server(sender) == LID_SERVER:
        sender_lid = sender
        pn = sender_alt if _server(sender_alt) == PN_SERVER else _resolve(sender, resolve_pn)
        sender = pn or (own_pn if from_me else sender)
    elif _server(sender_alt) == LID_SERVER:
        sender_lid = sender_alt
    if not sender:
        sender = own_pn if from_me else chat

    if not is_group and _server(chat) == LID_SERVER:
        recipient_alt = jid_str(getattr(source, "RecipientAlt", None))
        if not from_me and chat == sender_lid and _server(sender) == PN_SERVER:
            chat = sender
        elif from_me and _server(recipient_alt) == PN_SERVER:
            chat = recipient_alt
        else:
            chat = _resolve(chat, resolve_pn) or chat
    if not chat:
        chat = sender
    if not chat or not sender:
        raise NormaliseError("message has neither chat nor sender JID")
    return sender, sender_lid, chat, is_group


def _classify(message: Any) -> tuple[str, str, bool, Any] | None:
    """Return (type, text, has_media, content submessage) or None for non-user payloads."""
    present = _set_fields(message)
    if any(name in _SKIP_FIELDS for name in present):
        return None
    content = [name for name in present if name not in _IGNORED_FIELDS]
    if not content:
        return None
    for name, msg_type, has_media in _CONTENT:
        if name not in content:
            continue
        if name == "conversation":
            return msg_type, message.conversation, has_media, None
        sub = getattr(message, name)
        if name == "extendedTextMessage":
            text = _path(sub, ("text",))
        elif name in _CAPTIONED:
            text = _path(sub, ("caption",))
        else:
            text = ""
        return msg_type, text, has_media, sub
    for name, attrs in _OTHER_TEXT:
        if name in content:
            sub = getattr(message, name)
            return "other", _path(sub, attrs), False, sub
    return "other", "", False, getattr(message, content[0], None)


def _edit_or_revoke(message: Any) -> tuple[str, str, Any] | None:
    """("edit", original id, new content) or ("deletion", original id, None); None otherwise."""
    if "editedMessage" in _set_fields(message):  # whatsmeow normally unwraps this already
        message = getattr(message.editedMessage, "message", message)
    if "protocolMessage" not in _set_fields(message):
        return None
    protocol = message.protocolMessage
    present = set(_set_fields(protocol))
    original = _path(protocol, ("key", "ID"))
    if "type" not in present or not original:
        return None
    if protocol.type == _REVOKE:
        return "deletion", original, None
    if protocol.type == _MESSAGE_EDIT and "editedMessage" in present:
        return "edit", original, unwrap(protocol.editedMessage)
    return None


def normalise_message_event(
    ev: Any, *, session: str, resolve_pn: PnResolver | None = None
) -> dict[str, Any] | None:
    """Return the normalised message dict for a MessageEv, or None if it is not one.

    `session` is the admin phone (digits) the worker serves. `resolve_pn` maps a LID
    JID string to a phone JID string when the event carries none (neonize's
    `get_pn_from_lid`, only callable while the client is connected).
    Raises `NormaliseError` or `engine.model.MessageFormatError` for malformed events.
    """
    info = ev.Info
    source = info.MessageSource
    if _server(jid_str(getattr(source, "Chat", None))) in _SKIPPED_CHAT_SERVERS:
        return None
    body = unwrap(ev.Message)
    change = _edit_or_revoke(body)
    if change is None and (getattr(ev, "IsEdit", False) or getattr(info, "Edit", "")):
        return None  # pin-in-chat, newsletter admin edits, an edit without its original: not messages
    if change is not None and change[0] == "deletion":
        classified: tuple[str, str, bool, Any] | None = ("other", "", False, None)
    else:
        classified = _classify(change[2] if change is not None else body)
    if classified is None:
        return None
    msg_type, text, has_media, sub = classified
    sender, sender_lid, chat, is_group = _participants(source, session, resolve_pn)

    ctx = getattr(sub, "contextInfo", None) if sub is not None else None
    reply_to = _path(ctx, ("stanzaID",)) if ctx is not None else ""
    raw: dict[str, Any] = {
        "id": getattr(info, "ID", ""),
        "session": session,
        "chat": chat,
        "sender": sender,
        "from_me": bool(getattr(source, "IsFromMe", False)),
        "is_group": is_group,
        "sender_name": getattr(info, "Pushname", "") or None,
        "timestamp": _timestamp(info),
        "type": msg_type,
        "text": text or "",
        "has_media": has_media,
        "is_reply": bool(reply_to),
        "partner_source": "whatsapp_web",
        "channel_id": session,
        "room_tags": [],
        "referral": _referral(ctx) if ctx is not None else None,
        "sender_lid": sender_lid,
        "reply_to": reply_to or None,
    }
    if change is not None:
        raw["is_edit" if change[0] == "edit" else "is_deletion"] = True
        raw["original_id"] = change[1]
    return parse_message(raw).to_dict()


def describe_failure(ev: Any, exc: Exception) -> tuple[str, str, str]:
    """(reference, reason, excerpt) of an event that could not be normalised (never raises)."""
    try:
        reference = str(ev.Info.ID) or "unknown"
    except Exception:
        reference = "unknown"
    try:
        excerpt = str(ev.Message)[:500]
    except Exception:
        excerpt = ""
    return reference, f"unreadable WhatsApp message: {type(exc).__name__}: {str(exc)[:200]}", excerpt


def safe_normalise(
    ev: Any, *, session: str, resolve_pn: PnResolver | None = None
) -> dict[str, Any] | None:
    """Like `normalise_message_event`, but log and return None instead of raising.

    Used inside the neonize event handler: a malformed event must never kill the
    worker. The log names the message id, never its text.
    """
    try:
        return normalise_message_event(ev, session=session, resolve_pn=resolve_pn)
    except Exception as exc:
        try:
            message_id = str(ev.Info.ID)
        except Exception:
            message_id = None
        log.warning(
            "message_normalise_failed",
            message_id=message_id,
            error_type=type(exc).__name__,
            error=str(exc)[:200],
        )
        return None


def recipient_jid(to: str) -> str | None:
    """Return the JID for a `send_text` recipient (a JID or phone digits), or None."""
    value = to.strip()
    if "@" in value:
        user, _, server = value.rpartition("@")
        user = user.split(":", 1)[0]
        if user and server and " " not in value:
            return f"{user}@{server}"
        return None
    digits = value.lstrip("+").replace(" ", "").replace("-", "")
    if digits.isdigit() and 7 <= len(digits) <= 15 and not digits.startswith("0"):
        return f"{digits}@{PN_SERVER}"
    return None
