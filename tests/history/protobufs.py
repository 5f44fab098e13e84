"""Real whatsmeow HistorySync protobufs (neonize's generated classes), built for tests."""

from __future__ import annotations

from neonize.events import HistorySyncEv
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ExtendedTextMessage, ImageMessage, Message
from neonize.proto.waHistorySync.WAWebProtobufsHistorySync_pb2 import (
    Conversation,
    HistorySync,
    HistorySyncMsg,
    PhoneNumberToLIDMapping,
    Pushname,
)
from neonize.proto.waWeb.WAWebProtobufsWeb_pb2 import WebMessageInfo

ADMIN = "6281100000001"
PN = "s.whatsapp.net"


def web(msg_id: str, chat: str, seconds: int, *, text: str | None = None, from_me: bool = False,
        push_name: str = "", image_caption: str | None = None, stub: int = 0,
        participant: str = "") -> HistorySyncMsg:
    """One history message (WebMessageInfo) with a text, an image, or only a system stub."""
    body = None
    if text is not None:
        body = Message(conversation=text) if len(text) < 40 else Message(
            extendedTextMessage=ExtendedTextMessage(text=text))
    elif image_caption is not None:
        body = Message(imageMessage=ImageMessage(caption=image_caption, mimetype="image/jpeg"))
    info = WebMessageInfo(key=MessageKey(remoteJID=chat, fromMe=from_me, ID=msg_id, participant=participant),
                          messageTimestamp=seconds, pushName=push_name)
    if body is not None:
        info.message.CopyFrom(body)
    if stub:
        info.messageStubType = stub  # type: ignore[assignment]
    return HistorySyncMsg(message=info, msgOrderID=seconds)


def conversation(chat: str, *messages: HistorySyncMsg, pn: str = "", name: str = "") -> Conversation:
    return Conversation(ID=chat, messages=list(messages), pnJID=pn, name=name)


def history_sync(*conversations: Conversation, sync_type: int = 0, pushnames: dict[str, str] | None = None,
                 lid_to_pn: dict[str, str] | None = None, progress: int = 0) -> HistorySync:
    return HistorySync(
        syncType=sync_type,  # type: ignore[arg-type]
        conversations=list(conversations),
        pushnames=[Pushname(ID=k, pushname=v) for k, v in (pushnames or {}).items()],
        phoneNumberToLidMappings=[PhoneNumberToLIDMapping(lidJID=k, pnJID=v) for k, v in (lid_to_pn or {}).items()],
        chunkOrder=1,
        progress=progress,
    )


def event(data: HistorySync) -> HistorySyncEv:
    return HistorySyncEv(Data=data)
