"""POST /api/leads/{phone}/import-chat (the lead page's Import chat history): preview, import,
twice = no-op, and the refusals (too large, group, unknown lead, which author is the business)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from aiohttp.test_utils import TestClient

from bridge.http.dashboard.chat_import import MAX_UPLOAD_BYTES
from engine.model import parse_message
from store.inbox import ingest, messages_of_lead
from tests.conftest import message
from tests.http.conftest import BEARER
from tests.http.fake_control import ADMIN, FakeControl

EXPORTS = Path(__file__).parent / "exports"
LEAD = "6281234567890"
URL = f"/api/leads/{LEAD}/import-chat"


def export(name: str) -> bytes:
    return (EXPORTS / name).read_bytes()


async def post(client: TestClient, body: bytes, **params: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = await client.post(URL, data=body, headers=BEARER, params={"number": ADMIN, **params})
    return response.status, await response.json()


async def test_preview_then_import_then_again(client: TestClient, control: FakeControl) -> None:
    control.leads.append({"phone": LEAD, "status": "new", "tags": []})
    status, preview = await post(client, export("android_id_dmy_24h.txt"), me="Toko Budi", dry_run="1")
    assert status == 200, preview
    assert (preview["dry_run"], preview["messages"], preview["team_messages"]) == (True, 4, 1)
    assert preview["system_lines_skipped"] == 3 and preview["first"].startswith("2024-03-12T09:00:00")
    assert messages_of_lead(control.db, LEAD) == []  # a preview stores nothing
    status, done = await post(client, export("android_id_dmy_24h.txt"), me="Toko Budi")
    assert status == 200 and (done["new"], done["duplicates_skipped"], done["rules_fired"]) == (4, 0, 0)
    stored = messages_of_lead(control.db, LEAD)
    assert [m["text"] for m in stored][0] == "Sudah transfer ya kak"  # newest first
    assert all(m["history"] for m in stored)
    status, again = await post(client, export("android_id_dmy_24h.txt"), me="Toko Budi")
    assert status == 200 and (again["new"], again["duplicates_skipped"]) == (0, 4)


async def test_history_imported_after_live_messages_is_listed_by_when_it_was_written(
        client: TestClient, control: FakeControl) -> None:
    """The lead page shows a lead's messages newest first by their time: a chat export of
    2024 imported after this week's live messages goes below them, not on top."""
    control.leads.append({"phone": LEAD, "status": "new", "tags": []})
    live = message(id="LIVE1", text="kak, masih ada stoknya?", timestamp="2026-11-23T10:00:00+07:00",
                   chat=f"{LEAD}@s.whatsapp.net", sender=f"{LEAD}@s.whatsapp.net", session=ADMIN)
    ingest(control.db, parse_message(live), datetime(2026, 11, 23, 3, 1, tzinfo=UTC))
    status, done = await post(client, export("android_id_dmy_24h.txt"), me="Toko Budi")
    assert status == 200 and done["new"] == 4
    stored = messages_of_lead(control.db, LEAD)
    assert [m["text"] for m in stored][:2] == ["kak, masih ada stoknya?", "Sudah transfer ya kak"]
    times = [datetime.fromisoformat(str(m["timestamp"])) for m in stored]
    assert times == sorted(times, reverse=True)


async def test_the_business_author_is_asked_for_when_the_file_cannot_tell(client: TestClient,
                                                                         control: FakeControl) -> None:
    control.leads.append({"phone": LEAD, "status": "new", "tags": []})
    status, body = await post(client, export("ios_en_mdy_seconds.txt"), dry_run="1")
    assert status == 400 and body["error"]["code"] == "choose_business_author"
    assert body["authors"] == ["Sari", "Toko Budi"]
    status, body = await post(client, export("ios_en_mdy_seconds.txt"), dry_run="1", me="Toko Budi")
    assert status == 200 and body["customer_phone"] == LEAD and body["customer_name"] == "Sari"


async def test_refusals(client: TestClient, control: FakeControl) -> None:
    status, body = await post(client, export("android_id_dmy_24h.txt"))
    assert status == 404  # no such lead
    control.leads.append({"phone": LEAD, "status": "new", "tags": []})
    status, body = await post(client, export("group.txt"))
    assert status == 400 and body["error"]["field"] == "file" and "group export" in body["error"]["message"]
    status, body = await post(client, export("ambiguous.txt"), me="Toko Budi")
    assert status == 400 and "--date-order" in body["error"]["message"]
    status, body = await post(client, export("ambiguous.txt"), me="Toko Budi", date_order="dmy", dry_run="1")
    assert status == 200
    status, body = await post(client, b"")
    assert status == 400 and "empty" in body["error"]["message"]
    status, body = await post(client, b"x" * (MAX_UPLOAD_BYTES + 1))
    assert status == 413 and body["error"]["code"] == "too_large"
    status, body = await post(client, b"PK\x03\x04 not really a zip")
    assert status == 400 and "zip" in body["error"]["message"]
