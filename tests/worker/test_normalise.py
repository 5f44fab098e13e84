"""MessageEv -> normalised message, on real neonize 0.5.2 protobufs.

Events are built like /work/shared/docs/neonize_events_example.py: every proto2
required field is set, and each event is serialised and parsed back (what Go sends),
so the normaliser sees exactly the objects neonize hands to a handler.
"""

from __future__ import annotations

import ctypes
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from neonize.client import NewClient
from neonize.events import MessageEv
from neonize.proto.Neonize_pb2 import JID, MessageInfo, MessageSource
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AudioMessage,
    ButtonsResponseMessage,
    ContactMessage,
    ContactsArrayMessage,
    ContextInfo,
    DeviceSentMessage,
    DocumentMessage,
    ExtendedTextMessage,
    FutureProofMessage,
    GroupInviteMessage,
    ImageMessage,
    LiveLocationMessage,
    LocationMessage,
    Message,
    PollCreationMessage,
    PollUpdateMessage,
    ProtocolMessage,
    ReactionMessage,
    SenderKeyDistributionMessage,
    StickerMessage,
    VideoMessage,
)

from bridge.worker.normalise import (
    NormaliseError,
    normalise_message_event,
    recipient_jid,
    safe_normalise,
)
from engine.model import parse_message

ME = "6281100000001"
TS_MS = 1_795_000_000_123  # 2026-11-18T09:06:40.123Z


def jid(user: str = "", server: str = "", device: int = 0) -> JID:
    return JID(
        User=user,
        Server=server,
        Device=device,
        RawAgent=0,
        Integrator=0,
        IsEmpty=not (user or server),
    )


ME_PN = jid(ME, "s.whatsapp.net")
ME_LID = jid("999888777666555", "lid")
ALICE_PN = jid("6281200000002", "s.whatsapp.net")
ALICE_LID = jid("123456789012345", "lid")
GROUP = jid("120363000000000001", "g.us")


def make_ev(
    body: Message,
    *,
    chat: JID = ALICE_PN,
    sender: JID = ALICE_PN,
    sender_alt: JID | None = None,
    recipient_alt: JID | None = None,
    from_me: bool = False,
    push_name: str = "Alice",
    msg_id: str = "3EB0A1",
    edit: str = "",
    type_: str = "text",
    **flags: bool,
) -> MessageEv:
    source = MessageSource(
        Chat=chat,
        Sender=sender,
        IsFromMe=from_me,
        IsGroup=chat.Server == "g.us",
        AddressingMode=2 if sender.Server == "lid" else 1,
        SenderAlt=sender_alt or jid(),
        RecipientAlt=recipient_alt or jid(),
        BroadcastListOwner=jid(),
    )
    info = MessageInfo(
        MessageSource=source,
        ID=msg_id,
        ServerID=0,
        Type=type_,
        Pushname=push_name,
        Timestamp=TS_MS,
        Category="",
        Multicast=False,
        MediaType="",
        Edit=edit,
    )
    all_flags = dict(
        IsEphemeral=False,
        IsViewOnce=False,
        IsViewOnceV2=False,
        IsViewOnceV2Extension=False,
        IsDocumentWithCaption=False,
        IsLottieSticker=False,
        IsEdit=False,
    )
    all_flags.update(flags)
    ev = MessageEv(
        Info=info, Message=body, Raw=body, UnavailableRequestID="", RetryCount=0, **all_flags
    )
    return MessageEv.FromString(ev.SerializeToString())  # what Go sends, required fields set


def norm(ev: MessageEv, **kwargs: Any) -> dict[str, Any] | None:
    result = normalise_message_event(ev, session=ME, **kwargs)
    if result is not None:
        assert parse_message(result).to_dict() == result  # the wire form, validated
    return result


def test_plain_dm_has_every_field_of_the_format() -> None:
    out = norm(make_ev(Message(conversation="hello")))
    assert out == {
        "id": "3EB0A1",
        "session": ME,
        "chat": "6281200000002@s.whatsapp.net",
        "sender": "6281200000002@s.whatsapp.net",
        "from_me": False,
        "is_group": False,
        "sender_name": "Alice",
        "timestamp": datetime.fromtimestamp(TS_MS / 1000, tz=UTC).isoformat(),
        "type": "text",
        "text": "hello",
        "has_media": False,
        "is_reply": False,
        "partner_source": "whatsapp_web",
        "channel_id": ME,
        "room_tags": [],
        "referral": None,
        "sender_lid": None,
        "reply_to": None,
    }
    assert out["timestamp"].endswith("+00:00")


def test_lid_dm_uses_the_phone_jid_and_keeps_the_lid() -> None:
    ev = make_ev(Message(conversation="hi"), chat=ALICE_LID, sender=ALICE_LID, sender_alt=ALICE_PN)
    out = norm(ev)
    assert out is not None
    assert out["sender"] == out["chat"] == "6281200000002@s.whatsapp.net"
    assert out["sender_lid"] == "123456789012345@lid"


def test_pn_sender_with_lid_alternative_records_the_lid() -> None:
    out = norm(make_ev(Message(conversation="hi"), sender_alt=ALICE_LID))
    assert out is not None and out["sender_lid"] == "123456789012345@lid"


def test_lid_without_alternative_is_resolved_or_kept() -> None:
    ev = make_ev(Message(conversation="hi"), chat=ALICE_LID, sender=ALICE_LID)
    kept = norm(ev)
    assert kept is not None and kept["sender"] == kept["chat"] == "123456789012345@lid"
    lookups: list[str] = []

    def resolve(lid: str) -> str | None:
        lookups.append(lid)
        return "6281200000002@s.whatsapp.net"

    resolved = norm(ev, resolve_pn=resolve)
    assert resolved is not None
    assert resolved["sender"] == resolved["chat"] == "6281200000002@s.whatsapp.net"
    assert resolved["sender_lid"] == "123456789012345@lid"
    assert lookups and set(lookups) == {"123456789012345@lid"}
    unknown = norm(ev, resolve_pn=lambda lid: None)
    assert unknown is not None and unknown["sender"] == "123456789012345@lid"


def test_from_me_dm_in_lid_chat_uses_recipient_alt_and_own_number() -> None:
    ev = make_ev(
        Message(conversation="sent from phone"),
        chat=ALICE_LID,
        sender=ME_LID,
        recipient_alt=ALICE_PN,
        from_me=True,
        push_name="CS Budi",
    )
    out = norm(ev)
    assert out is not None
    assert out["from_me"] is True
    assert out["chat"] == "6281200000002@s.whatsapp.net"
    assert out["sender"] == f"{ME}@s.whatsapp.net"
    assert out["sender_lid"] == "999888777666555@lid"
    assert parse_message(out).lead_phone == "6281200000002"


def test_from_me_with_phone_sender() -> None:
    out = norm(make_ev(Message(conversation="ok"), sender=ME_PN, from_me=True))
    assert out is not None and out["sender"] == f"{ME}@s.whatsapp.net" and out["from_me"]


def test_group_reply_from_lid_participant_with_device() -> None:
    body = Message(
        extendedTextMessage=ExtendedTextMessage(
            text="yes please",
            contextInfo=ContextInfo(
                stanzaID="ABCDEF0123",
                participant=f"{ME}@s.whatsapp.net",
                quotedMessage=Message(conversation="want a code?"),
            ),
        )
    )
    ev = make_ev(body, chat=GROUP, sender=jid("123456789012345", "lid", 12), sender_alt=ALICE_PN)
    out = norm(ev)
    assert out is not None
    assert out["chat"] == "120363000000000001@g.us"
    assert out["is_group"] is True
    assert out["sender"] == "6281200000002@s.whatsapp.net"
    assert out["sender_lid"] == "123456789012345@lid"
    assert (out["type"], out["text"]) == ("text", "yes please")
    assert out["is_reply"] is True and out["reply_to"] == "ABCDEF0123"


def test_phone_sender_device_suffix_is_dropped() -> None:
    out = norm(make_ev(Message(conversation="x"), sender=jid("6281200000002", "s.whatsapp.net", 3)))
    assert out is not None and out["sender"] == "6281200000002@s.whatsapp.net"


@pytest.mark.parametrize(
    ("body", "flags", "expected"),
    [
        (
            Message(imageMessage=ImageMessage(caption="receipt", mimetype="image/jpeg")),
            {},
            ("image", "receipt", True),
        ),
        (Message(videoMessage=VideoMessage(caption="clip")), {}, ("video", "clip", True)),
        (Message(ptvMessage=VideoMessage(seconds=4)), {}, ("video", "", True)),
        (
            Message(videoMessage=VideoMessage(caption="vo", viewOnce=True)),
            {"IsViewOnce": True, "IsViewOnceV2": True},
            ("video", "vo", True),
        ),
        (
            Message(documentMessage=DocumentMessage(fileName="a.pdf", caption="invoice")),
            {"IsDocumentWithCaption": True},
            ("document", "invoice", True),
        ),
        (Message(audioMessage=AudioMessage(PTT=True, seconds=3)), {}, ("audio", "", True)),
        (Message(audioMessage=AudioMessage(PTT=False, seconds=90)), {}, ("audio", "", True)),
        (Message(stickerMessage=StickerMessage(mimetype="image/webp")), {}, ("sticker", "", True)),
        (
            Message(locationMessage=LocationMessage(degreesLatitude=-6.2, degreesLongitude=106.8)),
            {},
            ("location", "", False),
        ),
        (
            Message(liveLocationMessage=LiveLocationMessage(degreesLatitude=-6.2)),
            {},
            ("location", "", False),
        ),
        (
            Message(contactMessage=ContactMessage(displayName="Bob", vcard="BEGIN:VCARD")),
            {},
            ("contact", "", False),
        ),
        (
            Message(contactsArrayMessage=ContactsArrayMessage(displayName="2 contacts")),
            {},
            ("contact", "", False),
        ),
        (
            Message(extendedTextMessage=ExtendedTextMessage(text="see https://x.test")),
            {},
            ("text", "see https://x.test", False),
        ),
    ],
)
def test_message_kinds(
    body: Message, flags: dict[str, bool], expected: tuple[str, str, bool]
) -> None:
    out = norm(make_ev(body, type_="media", **flags))
    assert out is not None
    assert (out["type"], out["text"], out["has_media"]) == expected


@pytest.mark.parametrize(
    "wrapper",
    ["ephemeralMessage", "viewOnceMessage", "viewOnceMessageV2", "documentWithCaptionMessage"],
)
def test_still_wrapped_messages_are_unwrapped(wrapper: str) -> None:
    inner = Message(imageMessage=ImageMessage(caption="inside"))
    body = Message(**{wrapper: FutureProofMessage(message=inner)})
    out = norm(make_ev(body))
    assert out is not None and (out["type"], out["text"]) == ("image", "inside")


def test_nested_wrappers_and_device_sent_are_unwrapped() -> None:
    text = Message(extendedTextMessage=ExtendedTextMessage(text="disappearing"))
    ephemeral = Message(ephemeralMessage=FutureProofMessage(message=text))
    body = Message(deviceSentMessage=DeviceSentMessage(destinationJID="x", message=ephemeral))
    out = norm(make_ev(body, sender=ME_PN, from_me=True))
    assert out is not None and out["text"] == "disappearing"


def test_sender_key_distribution_next_to_text_is_ignored() -> None:
    body = Message(
        senderKeyDistributionMessage=SenderKeyDistributionMessage(groupID="g"),
        conversation="hi group",
    )
    out = norm(make_ev(body, chat=GROUP))
    assert out is not None and (out["type"], out["text"], out["is_group"]) == (
        "text",
        "hi group",
        True,
    )


def test_click_to_whatsapp_referral() -> None:
    ad = ContextInfo.ExternalAdReplyInfo(
        title="Promo",
        sourceType="ad",
        sourceID="120210000000000",
        sourceURL="https://fb.me/abc",
        ctwaClid="ARAkLkA8rmlFeiCktEJQ",
    )
    body = Message(
        extendedTextMessage=ExtendedTextMessage(
            text="Halo, saya mau tanya promo",
            contextInfo=ContextInfo(externalAdReply=ad, conversionSource="FB_Ads"),
        )
    )
    out = norm(make_ev(body))
    assert out is not None
    assert out["referral"] == {
        "source_id": "120210000000000",
        "source_type": "ad",
        "source_url": "https://fb.me/abc",
        "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ",
        "conversion_source": "FB_Ads",
    }
    assert out["is_reply"] is False


def test_referral_on_an_image_with_partial_fields() -> None:
    ctx = ContextInfo(externalAdReply=ContextInfo.ExternalAdReplyInfo(ctwaClid="CLID"))
    out = norm(make_ev(Message(imageMessage=ImageMessage(caption="c", contextInfo=ctx))))
    assert out is not None and out["referral"] == {
        "source_id": None,
        "source_type": None,
        "source_url": None,
        "ctwa_clid": "CLID",
        "conversion_source": None,
    }


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (Message(pollCreationMessage=PollCreationMessage(name="Which size?")), "Which size?"),
        (
            Message(buttonsResponseMessage=ButtonsResponseMessage(selectedDisplayText="Order")),
            "Order",
        ),
        (Message(groupInviteMessage=GroupInviteMessage(groupName="VIP", caption="join")), "join"),
    ],
)
def test_other_real_user_messages(body: Message, text: str) -> None:
    out = norm(make_ev(body))
    assert out is not None and (out["type"], out["text"], out["has_media"]) == (
        "other",
        text,
        False,
    )


REACTION = Message(
    reactionMessage=ReactionMessage(
        key=MessageKey(remoteJID="6281200000002@s.whatsapp.net", fromMe=True, ID="X1"),
        text="👍",
    )
)
REVOKE = Message(
    protocolMessage=ProtocolMessage(
        key=MessageKey(remoteJID="6281200000002@s.whatsapp.net", ID="X1"),
        type=ProtocolMessage.Type.REVOKE,
    )
)


@pytest.mark.parametrize(
    ("name", "ev"),
    [
        ("reaction", make_ev(REACTION, type_="reaction")),
        ("protocol message", make_ev(Message(protocolMessage=ProtocolMessage(
            type=ProtocolMessage.Type.EPHEMERAL_SETTING, ephemeralExpiration=86400)))),
        ("revoke without the original's id", make_ev(Message(protocolMessage=ProtocolMessage(
            type=ProtocolMessage.Type.REVOKE)), edit="7")),
        ("edit flag", make_ev(Message(conversation="fixed typo"), IsEdit=True)),
        ("edit attribute", make_ev(Message(conversation="fixed typo"), edit="1")),
        (
            "edited wrapper",
            make_ev(
                Message(
                    editedMessage=FutureProofMessage(message=Message(conversation="fixed typo"))
                )
            ),
        ),
        ("poll vote", make_ev(Message(pollUpdateMessage=PollUpdateMessage()))),
        (
            "status broadcast",
            make_ev(Message(conversation="my status"), chat=jid("status", "broadcast")),
        ),
        (
            "newsletter",
            make_ev(Message(conversation="news"), chat=jid("120363000000000002", "newsletter")),
        ),
        ("empty", make_ev(Message())),
        ("empty conversation", make_ev(Message(conversation=""))),
        (
            "sender key only",
            make_ev(
                Message(senderKeyDistributionMessage=SenderKeyDistributionMessage(groupID="g")),
                chat=GROUP,
            ),
        ),
    ],
)
def test_non_user_messages_are_skipped(name: str, ev: MessageEv) -> None:
    assert norm(ev) is None, name


def test_malformed_event_raises_and_safe_normalise_logs_without_text() -> None:
    ev = make_ev(Message(conversation="secret text"), msg_id="")
    with pytest.raises(ValueError, match="id"):
        normalise_message_event(ev, session=ME)
    with structlog.testing.capture_logs() as logs:
        assert safe_normalise(ev, session=ME) is None
        assert safe_normalise(object(), session=ME) is None
    assert [entry["event"] for entry in logs] == ["message_normalise_failed"] * 2
    assert logs[0]["message_id"] == "" and logs[1]["message_id"] is None
    assert "secret text" not in repr(logs)


def test_event_without_any_jid_is_an_error() -> None:
    ev = make_ev(Message(conversation="x"), chat=jid(), sender=jid())
    with pytest.raises(NormaliseError):
        normalise_message_event(ev, session=ME)


def test_through_neonizes_own_dispatch_path(tmp_path: Path) -> None:
    # neonize decodes the wire bytes Go hands over and calls the registered handler.
    client = NewClient(str(tmp_path / "fake.sqlite3"), uuid="normalise-test")  # no Go call
    seen: list[dict[str, Any] | None] = []
    client.event(MessageEv)(lambda _c, ev: seen.append(safe_normalise(ev, session=ME)))
    for ev in (make_ev(Message(conversation="hello")), make_ev(REACTION)):
        wire = ev.SerializeToString()
        buf = ctypes.create_string_buffer(wire, len(wire))
        client.event.execute(0, ctypes.addressof(buf), len(wire), 17)  # 17 == MessageEv
    assert seen[1] is None
    assert seen[0] is not None and seen[0]["text"] == "hello"


def test_timestamp_is_utc_iso_with_offset() -> None:
    now_ms = int(time.time() * 1000)
    ev = make_ev(Message(conversation="x"))
    ev.Info.Timestamp = now_ms
    out = norm(ev)
    assert out is not None
    parsed = datetime.fromisoformat(out["timestamp"])
    assert parsed.utcoffset() is not None and abs(parsed.timestamp() * 1000 - now_ms) < 1


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("6281200000002", "6281200000002@s.whatsapp.net"),
        ("+62 812-0000-0002", "6281200000002@s.whatsapp.net"),
        ("6281200000002@s.whatsapp.net", "6281200000002@s.whatsapp.net"),
        ("6281200000002:7@s.whatsapp.net", "6281200000002@s.whatsapp.net"),
        ("120363000000000001@g.us", "120363000000000001@g.us"),
        ("123456789012345@lid", "123456789012345@lid"),
        ("0812", None),
        ("hello", None),
        ("", None),
        ("@s.whatsapp.net", None),
    ],
)
def test_recipient_jid(to: str, expected: str | None) -> None:
    assert recipient_jid(to) == expected


# ------------------------------------------------------------------ edits and deletions


def edit_of(original: str, content: Message) -> Message:
    """A MESSAGE_EDIT protocol message as whatsmeow hands it over (editedMessage unwrapped)."""
    return Message(protocolMessage=ProtocolMessage(
        key=MessageKey(remoteJID="6281200000002@s.whatsapp.net", fromMe=False, ID=original),
        type=ProtocolMessage.Type.MESSAGE_EDIT, editedMessage=content))


def test_an_edit_carries_the_new_text_and_the_original_id() -> None:
    ev = make_ev(edit_of("ORIG1", Message(conversation="Payment received Rp 1.600.000")),
                 msg_id="EDIT1", edit="1", IsEdit=True)
    out = norm(ev)
    assert out is not None
    assert (out["id"], out["type"], out["text"]) == ("EDIT1", "text", "Payment received Rp 1.600.000")
    assert out["is_edit"] is True and out["original_id"] == "ORIG1"
    assert "is_deletion" not in out


def test_an_edit_still_in_its_wrapper_is_unwrapped() -> None:
    wrapped = Message(editedMessage=FutureProofMessage(
        message=edit_of("ORIG2", Message(extendedTextMessage=ExtendedTextMessage(text="jadi 2 ya")))))
    out = norm(make_ev(wrapped, msg_id="EDIT2", edit="1"))
    assert out is not None and out["is_edit"] is True
    assert (out["original_id"], out["text"]) == ("ORIG2", "jadi 2 ya")


def test_an_edited_caption_keeps_the_media_kind() -> None:
    ev = make_ev(edit_of("ORIG3", Message(imageMessage=ImageMessage(caption="bukti transfer 2"))),
                 msg_id="EDIT3", edit="1", IsEdit=True)
    out = norm(ev)
    assert out is not None
    assert (out["type"], out["has_media"], out["text"]) == ("image", True, "bukti transfer 2")


def test_a_team_edit_is_from_me_on_the_customer_chat() -> None:
    ev = make_ev(edit_of("ORIG4", Message(conversation="Pembayaran diterima Rp 1.600.000")),
                 sender=ME_PN, from_me=True, msg_id="EDIT4", edit="1", IsEdit=True)
    out = norm(ev)
    assert out is not None and out["from_me"] is True and out["is_edit"] is True
    assert out["chat"] == "6281200000002@s.whatsapp.net"


@pytest.mark.parametrize("edit", ["7", "8", ""])
def test_a_revoke_is_a_deletion_of_the_original(edit: str) -> None:
    out = norm(make_ev(REVOKE, msg_id="DEL1", edit=edit))
    assert out is not None
    assert out["is_deletion"] is True and out["original_id"] == "X1"
    assert (out["type"], out["text"]) == ("other", "")
    assert "is_edit" not in out
