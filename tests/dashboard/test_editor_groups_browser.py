"""Headless Chromium: a nested OR group built by clicking is saved as {"any": [...]}, and an error
inside the group lands next to the input that caused it."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.http.conftest import BEARER, TOKEN
from tests.http.fake_control import FakeControl
from tests.http.test_pair_page_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, _playwright

pytestmark = pytest.mark.browser


async def test_or_group_in_chromium(client: TestClient, control: FakeControl) -> None:
    async_playwright = _playwright()
    ARTIFACTS.mkdir(exist_ok=True)
    base = str(client.make_url("")).rstrip("/")
    problems: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda e: problems.append(str(e)))
            await page.goto(f"{base}/rules/new")
            await page.fill("#token", TOKEN)
            await page.click("button[type=submit]")
            await page.wait_for_selector("#editor[data-ready=true]")
            await page.fill("#rule-name", "Paid")
            await page.click(".add-group")
            await page.fill('[data-path="conditions[0].any[0].value"]', "transfer")
            await page.click('[data-node="conditions[0]"] .add-condition')
            await page.select_option('[data-path="conditions[0].any[1].field"]', label="Chat Count")
            await page.select_option('[data-path="conditions[0].any[1].op"]', label="Greater Than")
            ops = await page.locator('[data-path="conditions[0].any[1].op"] option').all_inner_texts()
            assert "Contains" not in ops and "Less Than" in ops  # operators that fit a number
            await page.click("#add-action")
            await page.select_option('[data-path="actions[0].status"]', "purchase")
            await page.click("#save-rule")  # the number is still empty: named at its input
            await page.wait_for_selector('[data-path="conditions[0].any[1].value"].invalid')
            await page.fill('[data-path="conditions[0].any[1].value"]', "5")
            await page.click("#save-rule")
            await page.wait_for_selector("#saved:not([hidden])")
            await page.screenshot(path=str(ARTIFACTS / "dash-editor-or-group.png"), full_page=True)
        finally:
            await browser.close()
    rules = await (await client.get("/api/rules", headers=BEARER)).json()
    (rule,) = rules["rules"]
    assert rule["conditions"] == [{"any": [{"field": "message.text", "op": "contains", "value": "transfer"},
                                           {"field": "chat.count", "op": "gt", "value": 5}]}]
    assert rule["actions"] == [{"type": "set_status", "status": "purchase"}]
    assert problems == []
