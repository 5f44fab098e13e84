"""Headless Chromium against the real server: the door page follows check-ins live, finds
people, checks one in by hand, undoes; the QR sheet prints. Screenshots land in
test-artifacts/door-*.png for a person to look at.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bridge.http import create_app
from engine.actions import OutboxRequest
from engine.attendance import scan
from engine.model import Message
from store.checkins import resolve_check_ins
from store.events import generate_codes, get_event, import_attendees
from tests.browser import ARTIFACTS, PHONE, logged_in_page
from tests.http.conftest import TOKEN, WORKSPACE
from tests.http.fake_control import ADMIN, FakeControl
from tests.http.fake_events import EVENT, FREE_CODE, TZ

pytestmark = pytest.mark.browser


@pytest.fixture
def control() -> FakeControl:
    control = FakeControl(simulate=True)
    db = control.events.db  # type: ignore[attr-defined]
    event = get_event(db, EVENT)
    now = datetime.now(UTC)
    import_attendees(db, event, [{"name": "Dewi Lestari", "phone": "6281311112222", "email": "dewi@example.com"},
                                 {"name": "Rudi Hartono", "phone": "6281322223333"},
                                 {"name": "Siti Nurhaliza", "phone": "6281333334444"}], now)
    generate_codes(db, event, 3, now)
    return control


@pytest.fixture
async def client(control: FakeControl) -> AsyncIterator[TestClient]:
    app = create_app(control, token=TOKEN, workspace_name=WORKSPACE)
    test_client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await test_client.start_server()
    yield test_client
    await test_client.close()


def _whatsapp_checkin(control: FakeControl, code: str, phone: str, name: str) -> None:
    """What the processor does with "CHECKIN <code>" from a phone, then the daemon's poke."""
    db = control.events.db  # type: ignore[attr-defined]
    found = scan(f"CHECKIN {code}")
    now = datetime.now(UTC)
    message = Message(id=f"W{phone}", session=ADMIN, chat=f"{phone}@s.whatsapp.net",
                      sender=f"{phone}@s.whatsapp.net", timestamp=now, text=f"CHECKIN {code}", sender_name=name)
    request = OutboxRequest("check_in", 1, "Event Check-in", {"event": "*", "codes": list(found.codes),
                                                              "near": list(found.near), "overflow": False})
    with db.atomic():
        resolve_check_ins(db, [request], message=message, inbox_id=None, now=now, tz=TZ)
    control.events.changed()


async def test_door_page_in_chromium(client: TestClient, control: FakeControl) -> None:
    base = str(client.make_url("")).rstrip("/")
    async with logged_in_page(base, f"/events/{EVENT}") as page:
        await page.evaluate("() => { window.__sameDocument = true; }")
        assert await page.locator("#n-checked").inner_text() == "1"
        assert await page.locator("#n-expected").inner_text() == "8"
        await page.wait_for_function("() => document.getElementById('live').dataset.on === '1'", timeout=5000)

        # Someone sends the QR's text: the page shows it without a reload.
        codes = await (await client.get(f"/api/events/{EVENT}/codes?q=Dewi",
                                        headers={"Authorization": f"Bearer {TOKEN}"})).json()
        _whatsapp_checkin(control, codes[0]["code"], "6281311112222", "Dewi")
        await page.wait_for_function("() => document.getElementById('n-checked').textContent === '2'",
                                     timeout=3000)
        first = page.locator("#latest li").first
        assert "Dewi Lestari" in await first.inner_text() and "WhatsApp" in await first.inner_text()

        # The same code again: the duplicate is counted.
        _whatsapp_checkin(control, codes[0]["code"], "6281399990000", "Someone")
        await page.wait_for_function("() => document.getElementById('n-duplicates').textContent === '1'",
                                     timeout=3000)

        # A phone died: search by name, check in by hand.
        await page.fill("#search", "budi")
        await page.wait_for_selector("#results li")
        row = page.locator("#results li").first
        assert FREE_CODE in await row.inner_text()
        await row.get_by_role("button", name="Check in").click()
        await page.wait_for_function("() => document.getElementById('n-checked').textContent === '3'",
                                     timeout=3000)
        assert (await page.locator("#flash").inner_text()).startswith("Checked in: Budi")
        await page.wait_for_selector("#results li .done")
        await page.fill("#search", "")
        await page.screenshot(path=str(ARTIFACTS / "door-live.png"), full_page=True)

        # Undo the last one from the live list.
        await page.locator("#latest li").first.get_by_role("button", name="Undo").click()
        await page.wait_for_function("() => document.getElementById('n-checked').textContent === '2'",
                                     timeout=3000)
        assert "undone" in await page.locator("#latest li").first.inner_text()
        assert await page.evaluate("() => window.__sameDocument === true")
        await page.screenshot(path=str(ARTIFACTS / "door-undo.png"), full_page=True)

        # Search by phone as staff type it.
        await page.fill("#search", "0813 2222")
        await page.wait_for_selector("#results li")
        assert "Rudi Hartono" in await page.locator("#results li").first.inner_text()

        # The printable QR sheet: every code with its name, the images load.
        await page.goto(f"{base}/events/{EVENT}/badges")
        await page.wait_for_function(
            "() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)", timeout=10000)
        assert await page.locator(".badge").count() == 8
        assert "Dewi Lestari" in await page.locator(".badges").inner_text()
        await page.screenshot(path=str(ARTIFACTS / "door-badges.png"), full_page=True)
        await page.emulate_media(media="print")
        assert not await page.locator("header.top").is_visible()
        await page.screenshot(path=str(ARTIFACTS / "door-badges-print.png"), full_page=True)
        await page.emulate_media(media="screen")
        await page.goto(f"{base}/events")
        assert "Launch Party" in await page.locator(".event-list").inner_text()
        await page.screenshot(path=str(ARTIFACTS / "door-events.png"), full_page=True)

    # On a phone at the door.
    async with logged_in_page(base, f"/events/{EVENT}", viewport=PHONE, device_scale_factor=2,
                              is_mobile=True) as phone:
        width = await phone.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the door page scrolls sideways on a phone ({width}px)"
        await phone.screenshot(path=str(ARTIFACTS / "door-phone.png"), full_page=True)
    problems = page.problems + page.console + phone.problems
    assert not problems, problems
