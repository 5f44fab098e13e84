"""The lead page's reply box in headless Chromium against a real `wabridge run --simulate`:
Enter makes a new line and sends nothing; Send sends once through the number that last
talked with the customer; the simulated phone receives it; the lead shows it as a Team
message with its state; the Team rule fires once. And the Webhooks screen adds, tests and
removes a subscription."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.browser import ARTIFACTS, logged_in_page
from tests.e2e.daemon import RunningDaemon
from tests.outbox.receiver import Receiver
from tests.sending.test_send_e2e import SARI, TEAM_RULE, UNPACED, A, B, lead_detail, received

pytestmark = pytest.mark.slow


async def test_reply_from_the_lead_page(tmp_path: Path) -> None:
    d = RunningDaemon(tmp_path, numbers=(A, B), extra_config=UNPACED)
    (tmp_path / "rules.toml").write_text(TEAM_RULE, encoding="utf-8")
    assert d.cli("rules", "import", str(tmp_path / "rules.toml")).returncode == 0
    d.start()
    try:
        d.pair(A)
        d.pair(B)
        assert d.send(B, sender=SARI, sender_name="Sari", text="sudah transfer kak")[0] == 201
        d.wait(lambda: bool(d.leads()), what="Sari's lead")
        base = f"http://127.0.0.1:{d.port}"
        async with logged_in_page(base, f"/leads/{SARI}", ready="#reply-form", token=d.token) as page:
            assert await page.input_value("#reply-number") == B  # the number Sari last talked with
            await page.fill("#reply-text", "Payment received Rp 1.500.000")
            await page.press("#reply-text", "Enter")  # a new line, not a send
            await page.type("#reply-text", "Terima kasih kak")
            await asyncio.sleep(0.5)
            assert await asyncio.to_thread(received, d, B) == []
            await page.click("#reply-send")
            await page.wait_for_selector("#reply-sent [data-state=sent]", timeout=20000)
            await page.screenshot(path=str(ARTIFACTS / "lead-reply-box.png"), full_page=True)
            row = await page.text_content("#reply-sent tbody tr")
            assert "Payment received Rp 1.500.000" in (row or "") and f"+{B}" in (row or "")
            assert "Payment received Rp 1.500.000" in (await page.text_content("#messages") or "")
            assert page.problems == [] and page.console == []
        (got,) = await asyncio.to_thread(received, d, B)
        assert got["text"] == "Payment received Rp 1.500.000\nTerima kasih kak"
        d.wait(lambda: d.leads()[0]["status"] == "purchase", what="the Team rule")
        await asyncio.sleep(1.0)
        assert d.leads()[0]["score"] == 1  # fired once
        sent = [m for m in lead_detail(d)["messages"] if m["from_me"]]
        assert [m["id"] for m in sent] == [got["id"]]
        status, message = d.request("GET", "/api/messages/1")
        assert status == 200 and message["origin"] == "dashboard"
    finally:
        d.stop()


async def test_webhooks_screen_adds_tests_and_removes(tmp_path: Path) -> None:
    receiver = Receiver()
    url = await asyncio.to_thread(receiver.start_in_thread)
    d = RunningDaemon(tmp_path, numbers=(A,))
    d.start()
    try:
        base = f"http://127.0.0.1:{d.port}"
        async with logged_in_page(base, "/webhooks", ready="#add-subscription", token=d.token) as page:
            await page.fill("input[name=name]", "sheet")
            await page.fill("input[name=url]", url)
            await page.uncheck("input[value='session.state_changed']")
            await page.click("#add-subscription button[type=submit]")
            await page.wait_for_selector("[data-subscription=sheet]")
            async with page.expect_navigation():  # the page reloads itself once the event is queued
                await page.click("[data-subscription=sheet] button[data-post]")  # Send test event
            for _ in range(100):
                if receiver.ok():
                    break
                await asyncio.sleep(0.1)
            assert [r.headers["X-Wabridge-Event"] for r in receiver.ok()] == ["webhook.test"]
            await page.reload()
            assert "delivered" in (await page.text_content("[data-subscription=sheet]") or "")
            page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
            await page.click("[data-subscription=sheet] button[data-delete]")
            await page.wait_for_selector("#no-subscriptions")
            assert page.problems == [] and page.console == []
        assert d.request("GET", "/api/subscriptions")[1] == []
    finally:
        d.stop()
