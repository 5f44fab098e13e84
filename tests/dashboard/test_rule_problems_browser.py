"""Headless Chromium on an Indonesian page: the editor puts a rule's problem next to its input in
Indonesian, and the Test panel says it in Indonesian too."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.browser import ARTIFACTS, PHONE, logged_in_page

pytestmark = pytest.mark.browser
READY = "#editor[data-ready=true]"


async def test_the_editor_explains_a_bad_rule_in_indonesian(client: TestClient) -> None:
    base = str(client.make_url(""))
    async with logged_in_page(base, "/rules/new", viewport=PHONE, ready=READY) as page:
        await page.goto(f"{base.rstrip('/')}/language?lang=id&next=/rules/new")
        await page.wait_for_selector(READY)
        await page.click("#save-rule")  # no name yet
        error = page.locator("#editor .field-error").first
        await error.wait_for()
        assert await error.inner_text() == "wajib diisi"
        assert await page.locator("#rule-name.invalid").count() == 1

        await page.fill("#rule-name", "Sapa pelanggan")
        await page.click("#add-action")
        await page.select_option('[data-path="actions[0].type"]', "send_reply")
        await page.fill('[data-path="actions[0].text"]', "Halo {nama}, terima kasih")
        await page.click("#save-rule")
        await page.locator('[data-path="actions[0].text"].invalid').wait_for()
        shown = await page.locator("#editor .field-error").first.inner_text()
        assert shown.startswith("placeholder {nama} tidak dikenal; yang dikenal: {"), shown
        await page.screenshot(path=str(ARTIFACTS / "dash-editor-problem-id.png"), full_page=True)
