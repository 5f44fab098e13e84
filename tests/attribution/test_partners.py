"""Partner channels: Cloud API samples normalise, signatures are checked, the generic mapping
works, and a partner message plus a linked-device message from one phone make one lead."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bridge.partners import cloud
from bridge.partners.errors import PartnerError
from bridge.partners.signatures import CLOUD_HEADER, sign
from engine.model import parse_message
from store.inbox import count_by_state, ingest, messages_of_lead
from store.leads import get_lead
from store.partners import partner_channels
from tests.attribution.services import (
    CLOUD_SECRET,
    NUMBERS,
    PANCAKE_TOKEN,
    QONTAK_SECRET,
    VERIFY_TOKEN,
    Services,
    make_services,
)
from tests.conftest import message

CUSTOMER = "6281234567890"
PNID = "106540352242922"
RECEIVED = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def cloud_body(*messages: dict[str, Any], statuses: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A Cloud API webhook body as Meta sends it (one entry, one change)."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PNID},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Sari"}, "wa_id": CUSTOMER}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}]}


def cloud_message(kind: str, mid: str = "wamid.HBgLNjI4MTIzNDU2Nzg5MBUCABIYFDNBMDI=", **body: Any) -> dict[str, Any]:
    return {"from": CUSTOMER, "id": mid, "timestamp": "1763866800", "type": kind, **body}


TEXT = cloud_message("text", text={"body": "Halo kak, saya mau tanya [K-7QX4]"})
IMAGE = cloud_message("image", "wamid.IMG", image={"caption": "ini buktinya", "mime_type": "image/jpeg",
                                                    "sha256": "abc", "id": "1003383421387256"})
REPLY = cloud_message("text", "wamid.REPLY", text={"body": "yang ini kak"},
                      context={"from": "15550783881", "id": "wamid.ORIGINAL"})
BUTTON = cloud_message("button", "wamid.BUTTON", button={"payload": "ORDER_NOW", "text": "Order sekarang"},
                       context={"from": "15550783881", "id": "wamid.TEMPLATE"})
INTERACTIVE = cloud_message("interactive", "wamid.IBTN", interactive={
    "type": "button_reply", "button_reply": {"id": "yes-1", "title": "Ya, mau"}})
LIST_REPLY = cloud_message("interactive", "wamid.LIST", interactive={
    "type": "list_reply", "list_reply": {"id": "size-39", "title": "Ukuran 39", "description": "Hitam"}})
AD = cloud_message("text", "wamid.AD", text={"body": "info promo"}, referral={
    "source_url": "https://fb.me/3cr4Wqqkv", "source_id": "120210000000001", "source_type": "ad",
    "headline": "Promo", "body": "Diskon", "media_type": "image", "image_url": "https://x", "ctwa_clid": "ARAkLk"})
REACTION = cloud_message("reaction", "wamid.REACT", reaction={"message_id": "wamid.X", "emoji": "\U0001f44d"})


def normalised(*messages: dict[str, Any]) -> list[dict[str, Any]]:
    return [parse_message(m).to_dict() for m in cloud.normalise(cloud_body(*messages), url_channel="default",
                                                                received_at=RECEIVED)]


def test_cloud_text_message() -> None:
    (m,) = normalised(TEXT)
    assert m["session"] == f"whatsapp_cloud:{PNID}" and m["channel_id"] == PNID
    assert m["partner_source"] == "whatsapp_cloud"
    assert (m["chat"], m["sender"], m["sender_name"]) == (f"{CUSTOMER}@s.whatsapp.net",) * 2 + ("Sari",)
    assert (m["type"], m["text"], m["has_media"], m["is_reply"], m["from_me"]) == (
        "text", "Halo kak, saya mau tanya [K-7QX4]", False, False, False)
    assert m["timestamp"] == "2025-11-23T03:00:00+00:00"


@pytest.mark.parametrize(("sample", "expected"), [
    (IMAGE, {"type": "image", "text": "ini buktinya", "has_media": True, "is_reply": False}),
    (REPLY, {"type": "text", "text": "yang ini kak", "is_reply": True, "reply_to": "wamid.ORIGINAL"}),
    (BUTTON, {"type": "text", "text": "Order sekarang", "is_reply": True, "reply_to": "wamid.TEMPLATE"}),
    (INTERACTIVE, {"type": "text", "text": "Ya, mau", "has_media": False}),
    (LIST_REPLY, {"type": "text", "text": "Ukuran 39"}),
])
def test_cloud_message_kinds(sample: dict[str, Any], expected: dict[str, Any]) -> None:
    (m,) = normalised(sample)
    assert {k: m[k] for k in expected} == expected
    assert m["id"] == sample["id"]


def test_cloud_referral_statuses_and_reactions() -> None:
    (m,) = normalised(AD, REACTION)
    assert m["referral"] == {"source_id": "120210000000001", "source_type": "ad",
                             "source_url": "https://fb.me/3cr4Wqqkv", "ctwa_clid": "ARAkLk", "conversion_source": None}
    statuses = cloud_body(statuses=[{"id": "wamid.X", "status": "delivered", "timestamp": "1763866800",
                                     "recipient_id": CUSTOMER}])
    assert list(cloud.normalise(statuses, url_channel="default", received_at=RECEIVED)) == []


def test_cloud_rejects_other_objects() -> None:
    with pytest.raises(ValueError, match="object"):
        list(cloud.normalise({"object": "page", "entry": []}, url_channel="x", received_at=RECEIVED))


@pytest.fixture
def services(tmp_path: Path) -> Services:
    return make_services(tmp_path / "w.db")


def raw(body: Any) -> bytes:
    return json.dumps(body).encode()


async def test_signed_cloud_request_lands_in_the_inbox_and_verifies_the_channel(services: Services) -> None:
    body = raw(cloud_body(TEXT, IMAGE))
    result = await services.partners.receive("whatsapp_cloud", "main", {CLOUD_HEADER: sign(CLOUD_SECRET, body)}, body)
    assert result == {"ok": True, "accepted": 2, "duplicates": 0, "unreadable": 0}
    again = await services.partners.receive("whatsapp_cloud", "main", {CLOUD_HEADER: sign(CLOUD_SECRET, body)}, body)
    assert again["accepted"] == 0 and again["duplicates"] == 2  # Meta retries: the inbox drops copies
    (channel,) = partner_channels(services.db)
    assert (channel["source"], channel["channel"], channel["requests"], channel["messages"]) == (
        "whatsapp_cloud", "main", 2, 2)
    assert channel["last_signed_at"] is not None
    assert services.wakes == [1]


@pytest.mark.parametrize("headers", [
    {}, {CLOUD_HEADER: "sha256=" + "0" * 64}, {CLOUD_HEADER: sign("another-app-secret-xxxxx", b"{}")},
    {CLOUD_HEADER: sign(CLOUD_SECRET, b"a different body")}, {CLOUD_HEADER: "garbage"},
])
async def test_bad_cloud_signatures_are_refused_and_change_nothing(services: Services,
                                                                  headers: dict[str, str]) -> None:
    body = raw(cloud_body(TEXT))
    with pytest.raises(PartnerError) as refused:
        await services.partners.receive("whatsapp_cloud", "main", headers, body)
    assert refused.value.status == 401
    assert count_by_state(services.db) == {} and partner_channels(services.db) == []
    report = await services.partners.channels()
    assert [(r["channel"], r["active"], r["refused"]) for r in report] == [("main", False, 1)] + [
        (None, False, 0)] * 2  # qontak and pancake: configured, never heard from


async def test_cloud_verification_handshake(services: Services) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    assert await services.partners.handshake("whatsapp_cloud", "main", query) == "1158201444"
    assert partner_channels(services.db)[0]["verified_at"] is not None
    for bad in ({**query, "hub.verify_token": "nope"}, {**query, "hub.mode": "unsubscribe"}):
        with pytest.raises(PartnerError) as refused:
            await services.partners.handshake("whatsapp_cloud", "main", bad)
        assert refused.value.status == 403
    with pytest.raises(PartnerError) as no_handshake:
        await services.partners.handshake("qontak", "main", query)
    assert no_handshake.value.status == 405


async def test_unknown_source_is_404(services: Services) -> None:
    with pytest.raises(PartnerError) as unknown:
        await services.partners.receive("nobody", "x", {}, b"{}")
    assert unknown.value.status == 404


QONTAK = {"data": [
    {"message_id": "q-1", "text": "halo dari qontak", "is_agent": False, "sender": {"name": "Sari"},
     "room": {"account_uniq_id": "+62 812-3456-7890", "tags": [{"name": "vip"}, {"name": "repeat"}]}},
    {"message_id": "q-2", "text": "baik kak", "is_agent": True, "sender": {"name": "CS Qontak"},
     "room": {"account_uniq_id": CUSTOMER, "tags": "vip"}},
]}


async def test_generic_mapping_hmac_source(services: Services) -> None:
    body = raw(QONTAK)
    result = await services.partners.receive("qontak", "acc-1", {"X-Qontak-Signature": sign(QONTAK_SECRET, body)},
                                             body)
    assert result["accepted"] == 2
    rows = services.db.conn.execute("SELECT payload FROM inbox ORDER BY id").fetchall()
    first, second = (json.loads(r[0]) for r in rows)
    assert (first["session"], first["chat"], first["from_me"], first["room_tags"], first["sender_name"]) == (
        "qontak:acc-1", f"{CUSTOMER}@s.whatsapp.net", False, ["vip", "repeat"], "Sari")
    assert (second["from_me"], second["sender"], second["chat"], second["sender_name"]) == (
        True, "qontak:acc-1", f"{CUSTOMER}@s.whatsapp.net", None)
    assert first["partner_source"] == "qontak" and first["channel_id"] == "acc-1"
    with pytest.raises(PartnerError):
        await services.partners.receive("qontak", "acc-1", {"X-Qontak-Signature": sign(PANCAKE_TOKEN, body)}, body)


async def test_generic_shape_token_source_and_unreadable_items(services: Services) -> None:
    body = raw({"id": "p-1", "customer": CUSTOMER, "name": "Sari", "text": "halo dari pancake",
                "timestamp": "2026-11-23T10:00:00+07:00"})
    ok = await services.partners.receive("pancake", "page-9", {"X-Pancake-Token": PANCAKE_TOKEN}, body)
    assert ok["accepted"] == 1
    with pytest.raises(PartnerError):
        await services.partners.receive("pancake", "page-9", {"X-Pancake-Token": "wrong"}, body)
    broken = raw({"id": "p-2", "text": "no customer"})
    result = await services.partners.receive("pancake", "page-9", {"X-Pancake-Token": PANCAKE_TOKEN}, broken)
    assert result["unreadable"] == 1 and result["accepted"] == 0
    assert count_by_state(services.db) == {"pending": 1, "error": 1}  # kept, never silently dropped


async def test_a_generic_edit_and_deletion_behave_like_the_linked_device_ones(services: Services) -> None:
    """`edit_of` is the new content of a message, `delete_of` its deletion; partners often send them
    under the original's own id, and a repeated update is still one."""
    body = raw([
        {"id": "p-1", "customer": CUSTOMER, "text": "mau 1 pcs"},
        {"id": "p-1", "customer": CUSTOMER, "text": "mau 2 pcs", "edit_of": "p-1"},
        {"id": "p-2", "customer": CUSTOMER, "text": "salah kirim"},
        {"id": "p-2", "customer": CUSTOMER, "delete_of": "p-2"},
        {"id": "p-3", "customer": CUSTOMER, "text": "x", "edit_of": "p-1", "delete_of": "p-2"},
    ])
    result = await services.partners.receive("pancake", "page-9", {"X-Pancake-Token": PANCAKE_TOKEN}, body)
    assert (result["accepted"], result["duplicates"], result["unreadable"]) == (4, 0, 1)
    again = await services.partners.receive("pancake", "page-9", {"X-Pancake-Token": PANCAKE_TOKEN}, body)
    assert (again["accepted"], again["duplicates"]) == (0, 4)
    services.process()
    lead = get_lead(services.db, CUSTOMER)
    assert lead is not None and lead.chat_count == 2  # the two originals; neither the edit nor the deletion
    shown = {m["id"]: m for m in messages_of_lead(services.db, CUSTOMER)}
    (edit_id,) = [i for i in shown if i.startswith("p-1:edit:")]
    assert set(shown) == {"p-1", edit_id, "p-2"}
    assert (shown[edit_id]["text"], shown[edit_id]["is_edit"], shown[edit_id]["original_id"]) == (
        "mau 2 pcs", True, "p-1")
    assert shown["p-2"]["deleted_at"] is not None and "deleted_at" not in shown["p-1"]
    # The unreadable item is kept once, as it came, though the body was delivered twice.
    ((reason, payload),) = services.db.conn.execute("SELECT error, payload FROM inbox WHERE state = 'error'")
    assert "messages[4].delete_of: an item edits a message or deletes one, not both" in reason
    assert json.loads(payload)["id"] == "p-3"


async def test_a_lone_surrogate_from_a_partner_is_kept_readably_not_a_500(services: Services) -> None:
    """A partner's JSON may escape half of a UTF-16 pair; its messages are still kept (the half as
    U+FFFD), an edit of one still gets its own id, and an unreadable item is still recorded."""
    body = (b'[{"id": "p-1", "customer": "' + CUSTOMER.encode() + b'", "name": "Sari \\udfff", "text": "a\\ud800b"},'
            b' {"id": "p-1", "customer": "' + CUSTOMER.encode() + b'", "text": "x\\ud800", "edit_of": "p-1"},'
            b' {"customer": "' + CUSTOMER.encode() + b'", "text": "\\ud800", "edit_of": "p-1", "delete_of": "p-2"}]')
    result = await services.partners.receive("pancake", "page-9", {"X-Pancake-Token": PANCAKE_TOKEN}, body)
    assert (result["accepted"], result["unreadable"]) == (2, 1)
    services.process()
    lead = get_lead(services.db, CUSTOMER)
    assert lead is not None and lead.name == "Sari \ufffd"
    shown = sorted((m["id"].split(":")[1] if ":" in m["id"] else "", m["text"])
                   for m in messages_of_lead(services.db, CUSTOMER))
    assert shown == [("", "a\ufffdb"), ("edit", "x\ufffd")]


async def test_partner_and_linked_device_messages_make_one_lead(services: Services) -> None:
    ingest(services.db, parse_message(message(id="LD-1", session=NUMBERS[0], text="halo dari HP",
                                              sender=f"{CUSTOMER}@s.whatsapp.net",
                                              chat=f"{CUSTOMER}@s.whatsapp.net")), services.clock())
    body = raw(cloud_body(TEXT))
    await services.partners.receive("whatsapp_cloud", "main", {CLOUD_HEADER: sign(CLOUD_SECRET, body)}, body)
    body = raw(QONTAK)
    await services.partners.receive("qontak", "acc-1", {"X-Qontak-Signature": sign(QONTAK_SECRET, body)}, body)
    assert services.process() == 4
    lead = get_lead(services.db, CUSTOMER)
    assert lead is not None and lead.chat_count == 3  # two customer messages + one via qontak; agent excluded
    assert services.db.conn.execute("SELECT COUNT(*) FROM leads").fetchone()[0] == 1


async def test_cloud_ad_referral_attributes_the_new_lead_to_ads(services: Services) -> None:
    body = raw(cloud_body(AD))
    await services.partners.receive("whatsapp_cloud", "main", {CLOUD_HEADER: sign(CLOUD_SECRET, body)}, body)
    services.process()
    lead = get_lead(services.db, CUSTOMER)
    assert lead is not None
    assert (lead.source, lead.ad_source_id, lead.ctwa_clid, lead.ad_source_url) == (
        "ads", "120210000000001", "ARAkLk", "https://fb.me/3cr4Wqqkv")
