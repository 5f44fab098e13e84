"""A customer WhatsApp names only by a LID (their lead is keyed by the LID's digits until a
phone is known, store.identities) reads as such on the pages and is answered at that LID: the
lead page's reply box sends to the LID JID, and POST /api/messages takes a LID JID; its digits
are never taken for a phone number."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from bridge.outbox.messages import Recipient, SendRefused, recipient
from bridge.outbox.settings import SendingSettings
from tests.http.conftest import BEARER, login
from tests.http.fake_control import ADMIN, FakeControl

LID = "123456789012345"


@pytest.mark.parametrize(("to", "expected"), [
    (f"{LID}@lid", Recipient(f"{LID}@lid", LID, False)),
    (f"{LID}:12@lid", Recipient(f"{LID}@lid", LID, False)),  # a device JID: the user is what counts
    ("6281200000002@s.whatsapp.net", Recipient("6281200000002@s.whatsapp.net", "6281200000002", False)),
])
def test_a_lid_jid_is_a_recipient(to: str, expected: Recipient) -> None:
    assert recipient(to, SendingSettings()) == expected


@pytest.mark.parametrize("to", ["abc@lid", "@lid", "0123@lid", "6281200000002@broadcast"])
def test_what_is_not_a_lid_or_phone_jid_is_refused(to: str) -> None:
    with pytest.raises(SendRefused) as refused:
        recipient(to, SendingSettings())
    assert refused.value.field == "to"


async def test_activity_names_a_lid_lead_as_a_lid(client: TestClient, control: FakeControl) -> None:
    run = {"id": 1, "at": "2026-12-06T03:00:00+00:00", "rule_id": 1, "rule_name": "Tag", "trigger": "message.received",
           "inbox_id": 1, "fired": True, "error": None, "notes": []}
    control.runs.extend([{**run, "id": 2, "lead_phone": LID, "lead_jid": f"{LID}@lid"},
                         {**run, "lead_phone": "6281200000002", "lead_jid": "6281200000002@s.whatsapp.net"}])
    await login(client)
    page = await (await client.get("/activity")).text()
    assert f'<a href="/leads/{LID}">WhatsApp LID {LID}</a>' in page and f"+{LID}" not in page
    assert '<a href="/leads/6281200000002">+6281200000002</a>' in page


async def test_the_lead_page_answers_a_lid_lead_at_its_lid(client: TestClient, control: FakeControl) -> None:
    control.leads.append({"phone": LID, "jid": f"{LID}@lid", "status": "new", "tags": []})
    control.leads.append({"phone": "6281200000002", "jid": "6281200000002@s.whatsapp.net", "status": "new",
                          "tags": []})
    await login(client)
    page = await (await client.get(f"/leads/{LID}")).text()
    assert f'id="reply" data-phone="{LID}@lid"' in page
    assert f"<h1>WhatsApp LID {LID}</h1>" in page and f"+{LID}" not in page
    listed = await (await client.get("/leads")).text()
    assert f"WhatsApp LID {LID}" in listed and f"+{LID}" not in listed and "+6281200000002" in listed
    await client.get("/language?lang=id&next=/leads")
    assert f"<h1>LID WhatsApp {LID}</h1>" in await (await client.get(f"/leads/{LID}")).text()
    await client.get("/language?lang=en&next=/leads")
    assert 'id="reply" data-phone="6281200000002"' in await (await client.get("/leads/6281200000002")).text()
    response = await client.post("/api/messages", headers=BEARER,
                                 json={"to": f"{LID}@lid", "text": "halo kak", "number": ADMIN})
    assert response.status == 202, await response.text()
    (to, lead) = control.messages.db.conn.execute(  # type: ignore[attr-defined]
        "SELECT json_extract(payload, '$.to'), lead_phone FROM outbox WHERE kind = 'message' "
        "ORDER BY id DESC LIMIT 1").fetchone()
    assert (to, lead) == (f"{LID}@lid", LID)
