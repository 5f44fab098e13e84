"""Headless Chromium: on a lead's page, choose a WhatsApp export, pick the business's author,
see the preview (counts, times, lines not understood), import, and see the messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from tests.browser import ARTIFACTS, PHONE, logged_in_page
from tests.http.fake_control import ADMIN, FakeControl

pytestmark = pytest.mark.browser
EXPORTS = Path(__file__).parent / "exports"
LEAD = "6281234567890"


async def test_import_chat_history_on_the_lead_page(client: TestClient, control: FakeControl, tmp_path: Path) -> None:
    base = str(client.make_url("")).rstrip("/")
    control.leads.append({"phone": LEAD, "status": "new", "tags": [], "name": "Sari", "chat_count": 0})
    control.lead_history[LEAD] = {"messages": [{"session": ADMIN, "from_me": False, "text": "halo",
                                                "timestamp": "2026-11-20T09:00:00+07:00", "type": "text",
                                                "fired": 0, "state": "done", "error": None}]}
    upload = tmp_path / "WhatsApp Chat with Sari.txt"
    upload.write_text("not a header line\n" + (EXPORTS / "ios_en_mdy_seconds.txt").read_text(encoding="utf-8"),
                      encoding="utf-8")
    async with logged_in_page(base, f"/leads/{LEAD}", viewport=PHONE) as page:
        await page.set_input_files("#chat-import-form input[type=file]", str(upload))
        await page.click("#chat-import-preview")
        # The export names two people and neither is known: the page asks which one is the business.
        await page.wait_for_selector("#chat-import-authors:not([hidden])")
        page.console.clear()  # that question is a 400 answer: expected
        await page.check('#chat-import-authors input[value="Toko Budi"]')
        await page.wait_for_selector("#chat-import-summary:not([hidden])")
        summary = await page.locator("#chat-import-summary").inner_text()
        assert "6" in await page.locator('[data-field="messages"]').inner_text()
        assert "20 Jan 2019 11:23" in summary and "line 1: not a header line" in summary
        await page.screenshot(path=str(ARTIFACTS / "dash-chat-import-phone.png"), full_page=True)
        await page.click("#chat-import-go")
        await page.wait_for_selector("#chat-import-done:not([hidden])")
        assert "Imported 6 new messages" in await page.locator("#chat-import-done").inner_text()
        assert page.problems == [] and page.console == []
    assert ("import_history", (6, False)) in control.calls
