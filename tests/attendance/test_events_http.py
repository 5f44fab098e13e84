"""The event API and pages over a real server (FakeControl's desk: a real in-memory store)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bridge.http import create_app
from tests.http.conftest import BEARER, TOKEN, WORKSPACE, login
from tests.http.fake_control import ADMIN, FakeControl
from tests.http.fake_events import EVENT, FREE_CODE, USED_CODE

API = f"/api/events/{EVENT}"


@pytest.fixture
def control() -> FakeControl:
    return FakeControl(simulate=True)


@pytest.fixture
async def client(control: FakeControl) -> AsyncIterator[TestClient]:
    app = create_app(control, token=TOKEN, workspace_name=WORKSPACE)
    test_client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await test_client.start_server()
    yield test_client
    await test_client.close()


async def _json(client: TestClient, method: str, path: str, body: Any = None,
                status: int = 200) -> Any:
    response = await client.request(method, path, headers=BEARER, json=body)
    assert response.status == status, (path, await response.text())
    return await response.json()


async def test_events_and_snapshot(client: TestClient) -> None:
    (event,) = await _json(client, "GET", "/api/events")
    assert (event["slug"], event["mode"], event["state"], event["counts"]["checked_in"]) == (EVENT, "ticket", "open", 1)
    snap = await _json(client, "GET", API)
    assert snap["counts"] == {"expected": 2, "checked_in": 1, "duplicates": 0, "invalid": 0, "invalid_by_reason": {}}
    assert [c["code"] for c in snap["latest"]] == [USED_CODE]
    assert (await _json(client, "GET", "/api/events/1"))["event"]["slug"] == EVENT  # by id too


async def test_create_event_and_bad_input_names_the_field(client: TestClient) -> None:
    good = {"name": "Workshop", "number": ADMIN, "start": "2026-12-01 09:00", "end": "2026-12-01 12:00",
            "mode": "voucher", "uses": 2, "texts": {"welcome": "Voucher {code} ok"}}
    created = await _json(client, "POST", "/api/events", good, status=201)
    assert (created["slug"], created["uses"], created["keyword"]) == ("workshop", 2, "REDEEM")
    for body, field in (({**good, "end": "2026-12-01 08:00"}, "end"), ({**good, "number": "628999"}, "number"),
                        ({**good, "mode": "x"}, "mode"), ({**good, "texts": {"welcome": "{nope}"}}, "texts.welcome"),
                        ({**good, "slug": EVENT}, "slug"), ({**good, "colour": 1}, "colour"),
                        # year 1 or 9999 overflows once moved to another zone: a 500 before
                        ({**good, "start": "0001-01-01T00:00:00+14:00", "end": "0001-01-02T00:00:00+14:00"}, "start"),
                        ({**good, "start": "9999-12-31T00:00:00-12:00", "end": "9999-12-31T23:00:00-12:00"}, "start")):
        error = await _json(client, "POST", "/api/events", body, status=400)
        assert error["error"]["field"] == field, error
    error = await _json(client, "POST", "/api/events", None, status=400)
    assert error["error"]["field"] == "(body)"


async def test_rename_and_move_an_event_and_warn_when_its_end_is_past(client: TestClient) -> None:
    moved = await _json(client, "PATCH", API, {"name": "Launch Party 2", "start": "2099-01-01 09:00",
                                               "end": "2099-01-01 17:00"})
    assert (moved["name"], moved["slug"], moved["end_past"]) == ("Launch Party 2", EVENT, False)
    assert moved["start"] == "2099-01-01T09:00:00+07:00"  # workspace time in, ISO with its offset out
    past = await _json(client, "PATCH", API, {"start": "2020-01-01 09:00", "end": "2020-01-01 17:00"})
    assert past["end_past"] is True and past["state"] == "over" and past["name"] == "Launch Party 2"
    for body, field in (({"end": "2019-01-01 09:00"}, "end"), ({"mode": "open"}, "mode"), ({"name": ""}, "name")):
        error = await _json(client, "PATCH", API, body, status=400)
        assert error["error"]["field"] == field, error
    created = await _json(client, "POST", "/api/events", {"name": "Kemarin", "number": ADMIN,
                                                          "start": "2020-01-01 09:00", "end": "2020-01-01 17:00"},
                          status=201)
    assert created["end_past"] is True


async def test_codes_search_generate_and_import(client: TestClient) -> None:
    rows = await _json(client, "GET", f"{API}/codes?q=budi")
    assert [r["code"] for r in rows] == [FREE_CODE] and rows[0]["used"] == 0
    assert rows[0]["link"].startswith(f"https://wa.me/{ADMIN}?text=CHECKIN%20")
    assert [r["code"] for r in await _json(client, "GET", f"{API}/codes?q={USED_CODE.lower()}")] == [USED_CODE]
    new = await _json(client, "POST", f"{API}/codes", {"count": 3}, status=201)
    assert len(new) == 3 and all(r["code"].startswith("EVT7-") for r in new)
    imported = await _json(client, "POST", f"{API}/codes", {"attendees": [
        {"name": "Ani", "phone": "0812-1111-2222", "email": "ani@example.com"}]}, status=201)
    assert imported[0]["phone"] == "6281211112222"
    error = await _json(client, "POST", f"{API}/codes", {"attendees": [{"name": "A"}, {"email": "x"}]}, status=400)
    assert error["error"]["field"] == "attendees[1].email"
    for body, field in (({"count": "3"}, "count"), ({"count": 3, "attendees": []}, "count"), ({"x": 1}, "x"),
                        ({"count": 0}, "count")):
        assert (await _json(client, "POST", f"{API}/codes", body, status=400))["error"]["field"] == field
    assert (await _json(client, "GET", f"{API}/codes?limit=0", status=400))["error"]["field"] == "limit"
    assert (await _json(client, "GET", f"{API}/codes?page=2", status=400))["error"]["field"] == "page"


async def test_manual_checkin_conflict_and_undo(client: TestClient) -> None:
    done = await _json(client, "POST", f"{API}/checkins", {"code": FREE_CODE.lower().replace("-", " ")}, status=201)
    assert done["checkin"]["code"] == FREE_CODE and done["checkin"]["source"] == "manual"
    again = await _json(client, "POST", f"{API}/checkins", {"code": FREE_CODE}, status=409)
    assert again["error"]["code"] == "already_checked_in" and "already checked in at" in again["error"]["message"]
    assert (await _json(client, "POST", f"{API}/checkins", {"code": "EVT7-ZZZZZZ"}, status=404))["error"]
    assert (await _json(client, "POST", f"{API}/checkins", {}, status=400))["error"]["field"] == "code"
    assert (await _json(client, "POST", f"{API}/checkins", {"code": 5}, status=400))["error"]["field"] == "code"
    assert (await _json(client, "POST", f"{API}/checkins", {"nope": 1}, status=400))["error"]["field"] == "nope"
    undone = await _json(client, "POST", f"{API}/checkins/{done['checkin']['id']}/undo")
    assert undone["undone_at"]
    error = await _json(client, "POST", f"{API}/checkins/{done['checkin']['id']}/undo", status=400)
    assert error["error"]["field"] == "checkin"
    assert (await _json(client, "POST", f"{API}/checkins/999/undo", status=404))["error"]["code"] == "not_found"
    assert (await _json(client, "POST", f"{API}/checkins/x/undo", status=400))["error"]["field"] == "checkin"
    await _json(client, "POST", f"{API}/checkins", {"code": FREE_CODE}, status=201)  # again after the undo
    latest = await _json(client, "GET", f"{API}/checkins?limit=10")
    assert [c["undone_at"] is None for c in latest] == [True, False, True]
    assert [c["code"] for c in await _json(client, "GET", f"{API}/checkins?q=sari")] == [USED_CODE]


async def test_unknown_event_is_404(client: TestClient) -> None:
    for path in ("/api/events/nope", "/api/events/nope/codes", "/api/events/nope/checkins"):
        assert (await _json(client, "GET", path, status=404))["error"]["code"] == "not_found"
    response = await client.get("/events/nope", headers=BEARER)
    assert response.status == 404 and "There is no event" in await response.text()


async def test_export_csv_and_qr_images(client: TestClient) -> None:
    response = await client.get(f"{API}/export.csv", headers=BEARER)
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [(r["code"], r["uses"]) for r in rows] == [(USED_CODE, "1"), (FREE_CODE, "0")]
    png = await client.get(f"/events/{EVENT}/codes/{USED_CODE}/qr.png", headers=BEARER)
    assert png.status == 200 and (await png.read())[:8] == b"\x89PNG\r\n\x1a\n"
    svg = await client.get(f"/events/{EVENT}/codes/{USED_CODE.lower()}/qr.svg", headers=BEARER)
    assert svg.status == 200 and b"<svg" in await svg.read()
    missing = await client.get(f"/events/{EVENT}/codes/EVT7-ZZZZZZ/qr.png", headers=BEARER)
    assert missing.status == 404


async def test_pages_render_for_a_logged_in_browser(client: TestClient) -> None:
    await login(client)
    listing = await (await client.get("/events")).text()
    assert "Launch Party" in listing and f'href="/events/{EVENT}"' in listing
    door = await client.get(f"/events/{EVENT}")
    html = await door.text()
    assert door.status == 200 and 'id="door"' in html and "Checked in" in html
    assert "Content-Security-Policy" in door.headers
    initial = json.loads(html.split('id="initial">', 1)[1].split("</script>", 1)[0])
    assert initial["counts"]["checked_in"] == 1
    badges = await (await client.get(f"/events/{EVENT}/badges")).text()
    assert badges.count('class="badge"') == 2 and f"/codes/{FREE_CODE}/qr.svg" in badges and "Budi" in badges


async def test_stream_pushes_a_change(client: TestClient, control: FakeControl) -> None:
    response = await client.get(f"/events/{EVENT}/stream", headers=BEARER)
    assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"

    async def next_data() -> dict[str, Any]:
        while True:
            line = (await response.content.readline()).decode()
            if line.startswith("data: "):
                return json.loads(line[6:])  # type: ignore[no-any-return]

    first = await asyncio.wait_for(next_data(), 5)
    assert first["counts"]["checked_in"] == 1
    await _json(client, "POST", f"{API}/checkins", {"code": FREE_CODE}, status=201)
    second = await asyncio.wait_for(next_data(), 5)
    assert second["counts"]["checked_in"] == 2 and second["latest"][0]["code"] == FREE_CODE
    response.close()


async def test_cookie_writes_need_the_csrf_header(client: TestClient) -> None:
    await login(client)
    assert (await client.post(f"{API}/checkins", json={"code": FREE_CODE})).status == 403
    ok = await client.post(f"{API}/checkins", json={"code": FREE_CODE}, headers={"X-Requested-With": "wabridge-door"})
    assert ok.status == 201


async def test_open_event_by_phone(client: TestClient) -> None:
    now = datetime.now(UTC)
    body = {"name": "Meetup", "number": ADMIN, "start": (now - timedelta(hours=1)).isoformat(),
            "end": (now + timedelta(hours=8)).isoformat(), "mode": "open", "capacity": 40}
    await _json(client, "POST", "/api/events", body, status=201)
    codes = await _json(client, "GET", "/api/events/meetup/codes")
    assert len(codes) == 1 and codes[0]["max_uses"] is None  # the one shared code
    done = await _json(client, "POST", "/api/events/meetup/checkins", {"phone": "0812-7777-8888", "name": "Ani"},
                       status=201)
    assert (done["checkin"]["phone"], done["checkin"]["name"]) == ("6281277778888", "Ani")
    again = await _json(client, "POST", "/api/events/meetup/checkins", {"phone": "6281277778888"}, status=409)
    assert again["error"]["message"].startswith("+6281277778888 was already checked in at")
    error = await _json(client, "POST", "/api/events/meetup/checkins", {"code": codes[0]["code"]}, status=400)
    assert error["error"]["field"] == "phone"
    assert [c["name"] for c in await _json(client, "GET", "/api/events/meetup/checkins?q=0812 7777")] == ["Ani"]
    error = await _json(client, "POST", "/api/events/meetup/codes", {"count": 2}, status=400)
    assert error["error"]["field"] == "mode"
    snap = await _json(client, "GET", "/api/events/meetup")
    assert (snap["counts"]["expected"], snap["counts"]["checked_in"]) == (40, 1)
