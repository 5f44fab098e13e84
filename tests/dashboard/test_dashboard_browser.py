"""Headless Chromium through the stage-1 screens: Numbers, Leads, a lead, Activity (with retry).

Screenshots land in test-artifacts/dash-*.png (laptop) and dash-*-phone.png for a person to look at.
"""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from bridge.sessions import SessionState
from tests.dashboard.sample import HOT, fill
from tests.http.conftest import TOKEN
from tests.http.fake_control import ADMIN, OTHER_ADMIN, FakeControl
from tests.http.test_pair_page_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, _playwright

pytestmark = pytest.mark.browser


async def test_dashboard_screens_in_chromium(client: TestClient, control: FakeControl) -> None:
    async_playwright = _playwright()
    ARTIFACTS.mkdir(exist_ok=True)
    base = str(client.make_url("")).rstrip("/")
    fill(control)
    control.connect(ADMIN)
    control.set(OTHER_ADMIN, SessionState.LOGGED_OUT, "logged_out")
    problems: list[str] = []

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

            await page.goto(f"{base}/numbers")
            assert "/login" in page.url
            await page.fill("#token", TOKEN)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/numbers")
            assert await page.locator(f'[data-number="{ADMIN}"] .state-words').inner_text() == "Connected"
            await page.screenshot(path=str(ARTIFACTS / "dash-numbers.png"), full_page=True)

            # Log out asks first, then calls the API and the page shows the new state.
            page.once("dialog", lambda dialog: dialog.accept())
            await page.click(f'[data-number="{ADMIN}"] button.danger')
            await page.wait_for_function(
                f"() => document.querySelector('[data-number=\"{ADMIN}\"] .state-words')"
                ".textContent.startsWith('Logged out')")
            assert ("logout", ADMIN) in control.calls

            await page.click("nav.dash-nav >> text=Leads")
            await page.wait_for_url(f"{base}/leads")
            assert await page.locator(".leads-table tbody tr").count() == 2
            await page.select_option("select[name=status]", "hot")
            await page.click("form.filters button[type=submit]")
            await page.wait_for_url(f"{base}/leads?*status=hot*")
            assert await page.locator(".leads-table tbody tr").count() == 1
            href = await page.locator("#csv-export").get_attribute("href")
            assert href is not None and "status=hot" in href
            await page.screenshot(path=str(ARTIFACTS / "dash-leads.png"), full_page=True)

            await page.click(f'a[href="/leads/{HOT}"]')
            await page.wait_for_url(f"{base}/leads/{HOT}")
            assert "responded → hot" in await page.locator("#changes").inner_text()
            assert "mau order 2 ya kak" in await page.locator("#messages").inner_text()
            await page.screenshot(path=str(ARTIFACTS / "dash-lead.png"), full_page=True)

            await page.click("nav.dash-nav >> text=Activity")
            await page.wait_for_url(f"{base}/activity")
            await page.click('tr[data-entry="1"] button')
            await page.wait_for_function(
                "() => !document.querySelector('tr[data-entry=\"1\"] button')"
                " && document.querySelector('tr[data-entry=\"1\"] .pill').textContent === 'pending'")
            assert ("retry", 1) in control.outbox.calls
            await page.screenshot(path=str(ARTIFACTS / "dash-activity.png"), full_page=True)

            phone = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                              storage_state=await context.storage_state())
            small = await phone.new_page()
            small.on("pageerror", lambda e: problems.append(str(e)))
            for name, path in (("numbers", "/numbers"), ("leads", "/leads"), ("lead", f"/leads/{HOT}"),
                               ("activity", "/activity")):
                await small.goto(f"{base}{path}")
                width = await small.evaluate("() => document.documentElement.scrollWidth")
                assert width <= 390, (path, width)  # nothing sticks out sideways on a phone
                await small.screenshot(path=str(ARTIFACTS / f"dash-{name}-phone.png"), full_page=True)
        finally:
            await browser.close()
    assert problems == []
