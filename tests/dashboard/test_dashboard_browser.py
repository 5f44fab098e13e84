"""Headless Chromium through the stage-1 screens: Numbers, Leads, a lead, Activity (with retry).

Screenshots land in test-artifacts/dash-*.png (laptop) and dash-*-phone.png for a person to look at.
"""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from bridge.daemon.sessions import SessionState
from tests.browser import ARTIFACTS, PHONE, browser_page, logged_in_page
from tests.dashboard.sample import HOT, fill
from tests.http.fake_control import ADMIN, OTHER_ADMIN, FakeControl

pytestmark = pytest.mark.browser


async def test_dashboard_screens_in_chromium(client: TestClient, control: FakeControl) -> None:
    base = str(client.make_url("")).rstrip("/")
    fill(control)
    control.connect(ADMIN)
    control.set(OTHER_ADMIN, SessionState.LOGGED_OUT, "logged_out")

    async with logged_in_page(base, "/numbers") as page:
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
            " && document.querySelector('tr[data-entry=\"1\"] .pill').dataset.state === 'pending'"
            " && document.querySelector('tr[data-entry=\"1\"] .pill').textContent === 'waiting'")  # in words
        assert ("retry", 1) in control.outbox.calls
        await page.screenshot(path=str(ARTIFACTS / "dash-activity.png"), full_page=True)
        logged_in = await page.context.storage_state()

    async with browser_page(PHONE, is_mobile=True, storage_state=logged_in) as small:
        for name, path in (("numbers", "/numbers"), ("leads", "/leads"), ("lead", f"/leads/{HOT}"),
                           ("activity", "/activity")):
            await small.goto(f"{base}{path}")
            width = await small.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, (path, width)  # nothing sticks out sideways on a phone
            await small.screenshot(path=str(ARTIFACTS / f"dash-{name}-phone.png"), full_page=True)
    assert page.problems + page.console + small.problems == []
