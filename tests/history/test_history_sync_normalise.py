"""History sync blobs (real whatsmeow HistorySync protobufs) → normalised messages marked history."""

from __future__ import annotations

from bridge.worker.history import normalise_history_sync
from engine.model import parse_message
from tests.history.protobufs import ADMIN, conversation, history_sync, web

T0 = 1_733_000_000  # seconds, as WebMessageInfo.messageTimestamp


def test_direct_chats_become_history_messages_and_groups_are_skipped() -> None:
    data = history_sync(
        conversation("6281200000002@s.whatsapp.net",
                     web("A1", "6281200000002@s.whatsapp.net", T0, text="halo kak, ada stok?", push_name="Sari"),
                     web("A2", "6281200000002@s.whatsapp.net", T0 + 60, text="ada kak", from_me=True),
                     web("A3", "6281200000002@s.whatsapp.net", T0 + 120, image_caption="bukti transfer"),
                     web("A4", "6281200000002@s.whatsapp.net", T0 + 130, stub=39)),  # E2E_ENCRYPTED notice
        conversation("120363000000000001@g.us",
                     web("G1", "120363000000000001@g.us", T0, text="group talk",
                         participant="6281300000003@s.whatsapp.net")),
        conversation("status@broadcast", web("S1", "status@broadcast", T0, text="story")),
    )
    chunk = normalise_history_sync(data, session=ADMIN)
    assert chunk.sync_type == "initial_bootstrap" and chunk.skipped == 3  # the stub, the group, the status
    first, team, image = chunk.messages
    assert all(m["history"] is True for m in chunk.messages)
    assert (first["id"], first["sender"], first["chat"], first["sender_name"]) == (
        "A1", "6281200000002@s.whatsapp.net", "6281200000002@s.whatsapp.net", "Sari")
    assert first["timestamp"].startswith("2024-11-30T20:53:20")
    assert team["from_me"] is True and team["sender"] == f"{ADMIN}@s.whatsapp.net"
    assert parse_message(team).lead_phone == "6281200000002"  # a Team message on the customer's lead
    assert (image["type"], image["has_media"], image["text"]) == ("image", True, "bukti transfer")


def test_lid_chats_get_their_phone_from_the_conversation_the_mappings_or_the_lid_map() -> None:
    data = history_sync(
        conversation("111111111111111@lid", web("L1", "111111111111111@lid", T0, text="via pnJID"),
                     web("L2", "111111111111111@lid", T0 + 1, text="team", from_me=True),
                     pn="6281200000011@s.whatsapp.net"),
        conversation("222222222222222@lid", web("L3", "222222222222222@lid", T0, text="via mapping")),
        conversation("333333333333333@lid", web("L4", "333333333333333@lid", T0, text="via lookup")),
        conversation("444444444444444@lid", web("L5", "444444444444444@lid", T0, text="LID only")),
        lid_to_pn={"222222222222222@lid": "6281200000022@s.whatsapp.net"},
        pushnames={"444444444444444@lid": "Dewi"},
        sync_type=3,
    )
    lookups: list[str] = []

    def resolve(lid: str) -> str | None:
        lookups.append(lid)
        return "6281200000033@s.whatsapp.net" if lid.startswith("333") else None

    chunk = normalise_history_sync(data, session=ADMIN, resolve_pn=resolve)
    by_id = {m["id"]: m for m in chunk.messages}
    assert chunk.sync_type == "recent"
    assert by_id["L1"]["sender"] == "6281200000011@s.whatsapp.net"
    assert by_id["L1"]["sender_lid"] == "111111111111111@lid"
    assert by_id["L2"]["chat"] == "6281200000011@s.whatsapp.net" and by_id["L2"]["from_me"] is True
    assert by_id["L3"]["sender"] == "6281200000022@s.whatsapp.net"
    assert by_id["L4"]["sender"] == "6281200000033@s.whatsapp.net"
    # Nothing knows the phone: the LID stays the key (as live messages do), never its digits as a phone.
    assert by_id["L5"]["sender"] == "444444444444444@lid" and by_id["L5"]["sender_name"] == "Dewi"
    assert "111111111111111@lid" not in lookups  # the conversation's own pnJID needs no lookup


def test_push_name_and_status_blobs_carry_no_messages() -> None:
    for sync_type in (1, 4):
        data = history_sync(conversation("6281200000002@s.whatsapp.net",
                                         web("P1", "6281200000002@s.whatsapp.net", T0, text="x")),
                            sync_type=sync_type)
        assert normalise_history_sync(data, session=ADMIN).messages == []
