"""Nothing unreadable stays invisible: the Activity screen's Unreadable section and
GET /api/inbox?state=error; deleted messages struck through on the lead page; leads known
only by a user id read "WhatsApp user …"; the Prometheus counters."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient

from bridge.http.dashboard.views import contact
from bridge.metrics import Metrics, reason_code
from engine.model import parse_message
from store.db import open_db
from store.inbox import inbox_rows, ingest, record_unreadable
from tests.conftest import Clock, message
from tests.http.conftest import BEARER, login
from tests.http.fake_control import FakeControl

BSUID = "ID.13491208655302741918"
UNREADABLE_ROW = {"inbox_id": 7, "received_at": "2026-11-23T10:00:00+00:00", "source": "whatsapp_cloud",
                  "session": "whatsapp_cloud:106540352242922", "message_id": "wamid.T", "lead_phone": None,
                  "state": "error", "reason": "malformed message: timestamp: 1e+20 is out of range for a time",
                  "excerpt": '{"id": "wamid.T", "text": "halo"}'}


async def test_activity_lists_unreadable_messages_and_the_api_returns_them(
        client: TestClient, control: FakeControl) -> None:
    control.inbox_rows = [UNREADABLE_ROW]
    await login(client)
    html = await (await client.get("/activity")).text()
    assert "<h2>Unreadable</h2>" in html and 'id="unreadable"' in html
    assert "1e+20 is out of range for a time" in html and "whatsapp_cloud" in html
    response = await client.get("/api/inbox?state=error", headers=BEARER)
    assert response.status == 200 and await response.json() == [UNREADABLE_ROW]
    bad = await client.get("/api/inbox?state=lost", headers=BEARER)
    assert bad.status == 400 and (await bad.json())["error"]["field"] == "state"


async def test_activity_says_so_when_nothing_is_unreadable(client: TestClient, control: FakeControl) -> None:
    await login(client)
    assert "Nothing unreadable." in await (await client.get("/activity")).text()


async def test_a_deleted_message_is_struck_through_with_its_time(client: TestClient, control: FakeControl) -> None:
    control.leads = [{"phone": "6281234567890", "name": "Sari", "status": "new", "chat_count": 2, "tags": []}]
    control.lead_history["6281234567890"] = {"messages": [
        {"id": "E1", "text": "jadi 2 ya", "type": "text", "from_me": False, "is_edit": True, "original_id": "C1",
         "timestamp": "2026-11-23T10:02:00+07:00", "state": "done", "fired": 0, "error": None},
        {"id": "C1", "text": "sudah transfer", "type": "text", "from_me": False, "deleted_at":
         "2026-11-23T10:05:00+07:00", "timestamp": "2026-11-23T10:00:00+07:00", "state": "done", "fired": 1,
         "error": None}]}
    await login(client)
    html = await (await client.get("/leads/6281234567890")).text()
    assert "<del>sudah transfer</del>" in html and "deleted 23 Nov 2026 10:05 WIB" in html
    assert "jadi 2 ya" in html and "· edited" in html


async def test_a_user_id_lead_has_a_page_and_reads_whatsapp_user(client: TestClient, control: FakeControl) -> None:
    control.leads = [{"phone": BSUID, "name": None, "status": "new", "chat_count": 1, "tags": []}]
    await login(client)
    response = await client.get(f"/leads/{BSUID}")
    assert response.status == 200
    assert f"WhatsApp user {BSUID}" in await response.text()
    assert (await client.get(f"/api/leads/{BSUID}", headers=BEARER)).status == 200
    assert contact("6281234567890") == "+6281234567890"


def test_inbox_rows_of_state_error_are_the_unreadable_list(tmp_path: Path, clock: Clock) -> None:
    db = open_db(tmp_path / "w.db")
    ingest(db, parse_message(message(id="OK1")), clock())
    record_unreadable(db, "whatsapp_cloud:pn-1", "wamid.T", '{"text": "' + "x" * 500 + '"}',
                      "malformed message: timestamp: inf is out of range for a time", clock())
    record_unreadable(db, "6281100000001", "3EB0", "conversation: \"halo\"",
                      "unreadable WhatsApp message: NormaliseError: no JID", clock())
    rows = inbox_rows(db, "error")
    assert [(r["source"], r["message_id"]) for r in rows] == [("whatsapp_web", "3EB0"),
                                                            ("whatsapp_cloud", "wamid.T")]
    assert rows[1]["excerpt"] == "x" * 200  # the text, cut short
    assert rows[0]["reason"] == "unreadable WhatsApp message: NormaliseError: no JID"
    assert [r["message_id"] for r in inbox_rows(db, "pending")] == ["OK1"]


def test_unreadable_reasons_become_bounded_metric_labels() -> None:
    assert reason_code("malformed message: timestamp: 1e+20 is out of range for a time") == "malformed:timestamp"
    assert reason_code("unsupported edit: Meta sent no content") == "unsupported:edit"
    assert reason_code("unreadable WhatsApp message: NormaliseError: no JID") == "unreadable:whatsapp"
    metrics = Metrics()
    metrics.messages_unreadable.labels(source="whatsapp_cloud", reason=reason_code(
        "malformed message: timestamp: inf is out of range for a time")).inc()
    text = metrics.render().decode()
    assert 'wabridge_messages_unreadable_total{reason="malformed:timestamp",source="whatsapp_cloud"} 1.0' in text
