"""Events created and edited from the dashboard (issue #15): workspace times in, a warning for a past end."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.browser import ARTIFACTS, logged_in_page
from tests.http.fake_control import ADMIN

pytestmark = pytest.mark.browser


async def test_create_an_event_then_move_it_into_the_past_with_a_warning(client: TestClient) -> None:
    base = str(client.make_url("")).rstrip("/")
    async with logged_in_page(base, "/events", ready="h1") as page:
        await page.click("#new-event summary")
        await page.fill('#event-form [name="name"]', "Grand Opening")
        await page.select_option('#event-form [name="number"]', ADMIN)
        await page.fill('#event-form [name="start"]', "2099-11-23T08:00")
        await page.fill('#event-form [name="end"]', "2099-11-23T17:00")
        await page.press('#event-form [name="name"]', "Enter")  # the form submits like its button
        await page.wait_for_url(f"{base}/events/grand-opening")
        sub = await page.inner_text(".door-head .sub")
        assert "23 Nov 2099 08:00 WIB – 23 Nov 2099 17:00 WIB" in sub  # what was typed, in workspace time
        await page.click("#edit-event summary")
        assert await page.input_value('#event-form [name="start"]') == "2099-11-23T08:00"
        await page.fill('#event-form [name="end"]', "2020-01-01T17:00")
        await page.fill('#event-form [name="start"]', "2020-01-01T08:00")
        await page.click('#event-form button[type="submit"]')
        warning = page.locator("#event-form [data-warning]")
        await warning.wait_for()
        assert "is already past" in await warning.inner_text() and "1 Jan 2020 17:00 WIB" in await warning.inner_text()
        await page.screenshot(path=str(ARTIFACTS / "events-edit-past.png"), full_page=True)
        await page.reload()
        assert await page.locator("#end-past").is_visible()
        await page.click("#edit-event summary")  # closed again after the reload
        await page.fill('#event-form [name="end"]', "2019-01-01T17:00")
        await page.click('#event-form button[type="submit"]')
        error = page.locator("#event-form [data-error]")
        await error.wait_for()
        assert "end" in (await error.inner_text()).lower()
        assert page.problems == []
