"""The rule editor's rough edges (issue #15), in headless Chromium on a real server.

AI Suggest shows what it did not read as a warning (never the success colour); Enter in a one-line
input never saves the rule; after saving, the heading says the rule is being edited.
"""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.browser import ARTIFACTS, logged_in_page

pytestmark = pytest.mark.browser
UNREAD = "when a customer asks about the price and the lead is still new, move it to responded"


async def test_suggest_warns_about_a_condition_it_did_not_read(client: TestClient) -> None:
    base = str(client.make_url("")).rstrip("/")
    async with logged_in_page(base, "/rules/new", ready="#editor[data-ready=true]") as page:
        await page.fill("#suggest-text", UNREAD)
        await page.click("#suggest")
        warning = page.locator('#suggest-result [data-warning="unread_condition"]')
        await warning.wait_for()
        assert "check the conditions before saving" in (await warning.inner_text()).lower()
        assert "“still”" in await warning.inner_text()
        assert await page.locator("#suggest-message.saved").count() == 0  # not the success colour
        colour = await warning.evaluate("node => getComputedStyle(node).backgroundColor")
        assert colour == "rgb(255, 247, 230)"  # the amber warning background
        await page.screenshot(path=str(ARTIFACTS / "dash-suggest-warning.png"), full_page=True)
        # The same in Bahasa Indonesia: the page writes the warning from data, in its language.
        await page.click('.lang-switch a[lang="id"]')
        await page.wait_for_selector('html[lang="id"] #editor[data-ready=true]')
        await page.fill("#suggest-text", UNREAD)
        await page.click("#suggest")
        await warning.wait_for()
        assert "Periksa syaratnya sebelum menyimpan" in await warning.inner_text()
        assert page.problems == []


async def test_enter_never_saves_and_the_heading_follows_the_save(client: TestClient) -> None:
    base = str(client.make_url("")).rstrip("/")
    async with logged_in_page(base, "/rules/new", ready="#editor[data-ready=true]") as page:
        await page.fill("#suggest-text", "kalau customer bilang order, tambah tag vip")
        await page.click("#suggest")
        await page.wait_for_selector("#suggest-message")
        inputs = page.locator("#editor input[type=text]:visible, #editor input:not([type]):visible")
        assert await inputs.count() >= 2
        for index in range(await inputs.count()):
            await inputs.nth(index).press("Enter")
        await page.wait_for_timeout(500)
        rules = await (await page.request.get(f"{base}/api/rules")).json()
        assert rules["rules"] == [] and page.url.endswith("/rules/new")  # nothing was saved
        assert (await page.inner_text("#editor-heading")).strip() == "New rule"
        await page.click("#save-rule")
        await page.wait_for_selector("#saved:not([hidden])")
        assert (await page.inner_text("#editor-heading")).strip() == "Edit rule"
        assert (await page.title()).startswith("Edit rule") and "/edit" in page.url
        assert page.problems == []
