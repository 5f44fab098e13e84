"""Cloud API traffic beyond the basic kinds, through the real PartnerHooks, inbox and Processor:
edits, revokes, username-only senders and their merge, staff echoes, orders, Flow replies,
unsupported payloads and out-of-range timestamps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bridge.partners import cloud
from bridge.partners.signatures import CLOUD_HEADER, sign
from store.inbox import messages_of_lead
from store.leads import get_lead
from tests.attribution.services import CLOUD_SECRET, Services, make_services
from tests.attribution.test_partners import CUSTOMER, PNID, RECEIVED, cloud_body, cloud_message

BSUID = "ID.13491208655302741918"
BUSINESS = "15550783881"


@pytest.fixture
def services(tmp_path: Path) -> Services:
    return make_services(tmp_path / "w.db")


async def post(services: Services, body: dict[str, Any]) -> dict[str, Any]:
    data = json.dumps(body).encode()
    return await services.partners.receive("whatsapp_cloud", "main", {CLOUD_HEADER: sign(CLOUD_SECRET, data)}, data)


def body_with(messages: list[dict[str, Any]], contacts: list[dict[str, Any]]) -> dict[str, Any]:
    body = cloud_body(*messages)
    body["entry"][0]["changes"][0]["value"]["contacts"] = contacts
    return body


def echo_body(*echoes: dict[str, Any]) -> dict[str, Any]:
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": BUSINESS, "phone_number_id": PNID},
             "message_echoes": list(echoes)}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "smb_message_echoes"}]}]}


def errors(services: Services) -> list[tuple[str, str]]:
    return list(services.db.conn.execute("SELECT message_id, error FROM inbox WHERE state = 'error' ORDER BY id"))


async def test_a_customer_edit_and_revoke_behave_like_the_linked_device_ones(services: Services) -> None:
    await post(services, cloud_body(
        cloud_message("text", "wamid.O1", text={"body": "mau 1 pcs"}),
        cloud_message("edit", "wamid.E1", edit={"original_message_id": "wamid.O1", "message": {
            "type": "text", "text": {"body": "mau 2 pcs"}}}),
        cloud_message("text", "wamid.O2", text={"body": "salah kirim"}),
        cloud_message("revoke", "wamid.R2", revoke={"original_message_id": "wamid.O2"}),
    ))
    services.process()
    lead = get_lead(services.db, CUSTOMER)
    assert lead is not None and lead.chat_count == 2  # the two originals; neither the edit nor the revoke
    shown = {m["id"]: m for m in messages_of_lead(services.db, CUSTOMER)}
    assert set(shown) == {"wamid.O1", "wamid.E1", "wamid.O2"}
    assert (shown["wamid.E1"]["text"], shown["wamid.E1"]["is_edit"], shown["wamid.E1"]["original_id"]) == (
        "mau 2 pcs", True, "wamid.O1")
    assert shown["wamid.O2"]["deleted_at"] == "2025-11-23T03:00:00+00:00"


async def test_a_revoke_alone_creates_no_lead(services: Services) -> None:
    result = await post(services, cloud_body(cloud_message("revoke", "wamid.R9", revoke={
        "original_message_id": "wamid.BEFORE"})))
    assert result["accepted"] == 1
    services.process()
    assert get_lead(services.db, CUSTOMER) is None


async def test_a_username_only_sender_gets_a_lead_that_merges_with_the_phone_later(services: Services) -> None:
    first = {"id": "wamid.U1", "timestamp": "1763866800", "type": "text", "from_user_id": BSUID,
             "text": {"body": "halo, saya mau order"}}
    await post(services, body_with([first], [{"profile": {"name": "Sari", "username": "@sari"},
                                              "user_id": BSUID}]))
    services.process()
    lead = get_lead(services.db, BSUID)
    assert lead is not None and lead.chat_count == 1 and lead.name == "Sari"
    assert lead.jid == f"{BSUID}@bsuid"
    assert errors(services) == []
    # Later Meta shares the phone too: one lead, the phone's, with the history of both.
    second = {"id": "wamid.U2", "timestamp": "1763866900", "type": "text", "from": CUSTOMER,
              "from_user_id": BSUID, "text": {"body": "sudah transfer"}}
    await post(services, body_with([second], [{"profile": {"name": "Sari"}, "wa_id": CUSTOMER, "user_id": BSUID}]))
    services.process()
    assert get_lead(services.db, BSUID) is None
    merged = get_lead(services.db, CUSTOMER)
    assert merged is not None and merged.chat_count == 2 and merged.name == "Sari"
    assert [m["id"] for m in messages_of_lead(services.db, CUSTOMER)] == ["wamid.U2", "wamid.U1"]
    # And a later id-only message lands on the phone's lead.
    third = {**first, "id": "wamid.U3", "timestamp": "1763867000", "text": {"body": "kapan dikirim?"}}
    await post(services, body_with([third], [{"profile": {"name": "Sari"}, "user_id": BSUID}]))
    services.process()
    assert get_lead(services.db, BSUID) is None
    merged = get_lead(services.db, CUSTOMER)
    assert merged is not None and merged.chat_count == 3
    assert [m["id"] for m in messages_of_lead(services.db, CUSTOMER)][0] == "wamid.U3"


async def test_staff_echoes_are_team_messages_that_team_rules_see(services: Services) -> None:
    await post(services, cloud_body(cloud_message("text", "wamid.C1", text={"body": "sudah saya transfer"})))
    await post(services, echo_body({"from": BUSINESS, "to": CUSTOMER, "id": "wamid.ECHO1",
                                    "timestamp": "1763867000", "type": "text",
                                    "text": {"body": "Payment received Rp 1.500.000"}}))
    services.process()
    shown = {m["id"]: m for m in messages_of_lead(services.db, CUSTOMER)}
    assert shown["wamid.ECHO1"]["from_me"] is True
    assert shown["wamid.ECHO1"]["chat"] == f"{CUSTOMER}@s.whatsapp.net"
    lead = get_lead(services.db, CUSTOMER)
    assert lead is not None and lead.chat_count == 1  # team messages do not count


def test_an_order_becomes_text_a_rule_can_match() -> None:
    order = cloud_message("order", "wamid.ORD", order={"catalog_id": "c1", "text": "kirim besok ya", "product_items": [
        {"product_retailer_id": "kaos-hitam", "quantity": 1, "item_price": 10, "currency": "ILS"},
        {"product_retailer_id": "topi", "quantity": 2, "item_price": 10, "currency": "ILS"}]})
    (m,) = list(cloud.normalise(cloud_body(order), url_channel="x", received_at=RECEIVED))
    assert isinstance(m, dict)
    assert m["type"] == "text"
    assert m["text"] == "Order: 3 items, ILS 30.00 — kaos-hitam × 1, topi × 2\nkirim besok ya"


def test_a_flow_reply_carries_its_answers_as_lines() -> None:
    reply = cloud_message("interactive", "wamid.FLOW", interactive={"type": "nfm_reply", "nfm_reply": {
        "name": "flow", "body": "Sent",
        "response_json": json.dumps({"flow_token": "secret", "nama": "Sari", "kota": "Bandung",
                                     "ukuran": ["39", "40"]})}})
    (m,) = list(cloud.normalise(cloud_body(reply), url_channel="x", received_at=RECEIVED))
    assert isinstance(m, dict)
    assert m["text"] == "nama: Sari\nkota: Bandung\nukuran: 39, 40"


async def test_unsupported_payloads(services: Services) -> None:
    real = cloud_message("unsupported", "wamid.UNS1", unsupported={"type": "video_note"},
                         errors=[{"code": 131051, "title": "Message type unknown"}])
    change = cloud_message("unsupported", "wamid.UNS2", unsupported={"type": "edit"},
                           errors=[{"code": 131051, "title": "Message type unknown"}])
    result = await post(services, cloud_body(real, change))
    assert (result["accepted"], result["unreadable"]) == (1, 1)
    services.process()
    lead = get_lead(services.db, CUSTOMER)
    assert lead is not None and lead.chat_count == 1  # a real user message we cannot see: a chat
    assert errors(services) == [("wamid.UNS2", "unsupported edit: Meta sent no content")]


@pytest.mark.parametrize("timestamp", [1e20, "1e20", "Infinity", 10**20])
async def test_an_out_of_range_timestamp_is_kept_as_unreadable(services: Services, timestamp: Any) -> None:
    for source, message in (("cloud", cloud_message("text", "wamid.T", text={"body": "halo"}, timestamp=timestamp)),):
        body = cloud_body(message)
        result = await post(services, body)
        assert result["unreadable"] == 1, source
    ((reference, error),) = errors(services)
    assert reference == "wamid.T" and error.startswith("malformed message: timestamp")


@pytest.mark.parametrize("timestamp", [1e20, float("inf"), -1e20])
async def test_a_generic_partner_timestamp_out_of_range_is_unreadable_not_a_500(services: Services,
                                                                                 timestamp: float) -> None:
    body = json.dumps({"id": "g-1", "customer": CUSTOMER, "text": "halo", "timestamp": timestamp}).encode()
    from tests.attribution.services import PANCAKE_TOKEN

    result = await services.partners.receive("pancake", "page-9", {"X-Pancake-Token": PANCAKE_TOKEN}, body)
    assert result["unreadable"] == 1
    ((reference, error),) = errors(services)
    assert reference == "g-1" and "out of range" in error
