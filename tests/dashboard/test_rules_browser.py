"""Headless Chromium on the Rules screen: install the seed templates from the modal, turn a rule
off, mark one "stop here", move one up; screenshots in test-artifacts/dash-rules*.png."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.browser import ARTIFACTS, PHONE, logged_in_page
from tests.http.conftest import TOKEN
from tests.http.fake_control import FakeControl

pytestmark = pytest.mark.browser
SEEDS = ("mark-active-lead", "identify-hot-lead", "auto-closing")
NAMES = "() => Array.from(document.querySelectorAll('#rules .rule-name')).map(e => e.textContent)"


async def test_rules_screen_in_chromium(client: TestClient, control: FakeControl) -> None:
    base = str(client.make_url("")).rstrip("/")

    async with logged_in_page(base, "/rules") as page:
        assert await page.locator("#rules").count() == 0

        await page.click("#open-templates")
        for slug in SEEDS:
            await page.click(f'button[data-install="{slug}"]')
            await page.wait_for_selector(f'button[data-install="{slug}"].installed')
        await page.screenshot(path=str(ARTIFACTS / "dash-rules-templates.png"))
        await page.click("#close-templates")
        await page.wait_for_selector("#rules")
        assert await page.evaluate(NAMES) == [
            "Mark Active Lead (CTWA)", "Identify Hot Lead (Keyword)", "Auto-Closing & Capture Value (Regex)"]

        await page.check('[data-rule-id="2"] input[data-flag="stop_processing"]')
        await page.wait_for_selector('[data-rule-id="2"] .pill.stop')
        await page.uncheck('[data-rule-id="1"] input[data-flag="enabled"]')
        await page.wait_for_selector('[data-rule-id="1"].disabled')
        await page.click('[data-rule-id="3"] button[data-move="up"]')
        await page.wait_for_function(f"() => ({NAMES})()[1].startsWith('Auto-Closing')")
        await page.screenshot(path=str(ARTIFACTS / "dash-rules.png"), full_page=True)

        rules = await (await page.request.get(f"{base}/api/rules")).json()
        flags = {r["id"]: (r["enabled"], r["stop_processing"]) for r in rules["rules"]}
        assert flags == {1: (False, False), 2: (True, True), 3: (True, False)}
        assert [r["id"] for r in rules["rules"]] == [1, 3, 2]

        export = await page.request.get(f"{base}/api/rules/export.toml")
        assert export.ok and "Identify Hot Lead" in await export.text()

        await page.set_viewport_size(PHONE)
        await page.reload()
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, width
        await page.screenshot(path=str(ARTIFACTS / "dash-rules-phone.png"), full_page=True)
    assert page.problems + page.console == []


async def test_test_all_rules_on_the_rules_screen(client: TestClient, control: FakeControl) -> None:
    """Paste a message on the Rules screen: every stored rule says whether it fires and why."""
    installed = await client.post("/api/rules/templates/install", json={"slugs": list(SEEDS)},
                                  headers={"Authorization": f"Bearer {TOKEN}"})
    assert installed.status in (200, 201), await installed.text()
    base = str(client.make_url("")).rstrip("/")
    async with logged_in_page(base, "/rules", ready="#rules") as page:
        await page.fill("#test-text", "Payment received Rp 1.500.000, terima kasih")
        await page.select_option("#test-status", "hot")
        await page.select_option("#test-sender", "team")
        await page.click("#run-test")
        await page.wait_for_selector("#test-result .lead-after")
        verdicts = await page.locator("#test-result .verdict").all_inner_texts()
        by_rule = {text.split(": ", 1)[0]: text.split(": ", 1)[1] for text in verdicts}
        assert by_rule["Auto-Closing & Capture Value (Regex)"].startswith("Fires")
        assert by_rule["Identify Hot Lead (Keyword)"].startswith("Does not fire")
        assert set(by_rule) == {"Mark Active Lead (CTWA)", "Identify Hot Lead (Keyword)",
                                "Auto-Closing & Capture Value (Regex)"}
        lead_after = await page.inner_text("#test-result .lead-after")
        assert "hot → purchase" in lead_after and "Rp 1.500.000" in lead_after
        why_not = by_rule["Identify Hot Lead (Keyword)"]
        assert "sender is Customer, this message is from the Team/CS" in why_not
        assert await page.locator("#test-result .trace li.pass").count() == 1  # Auto-Closing's one condition
        await page.screenshot(path=str(ARTIFACTS / "dash-rules-test.png"), full_page=True)
        # Nothing was saved by the test: no lead exists.
        leads = await (await page.request.get(f"{base}/api/leads")).json()
        assert leads == []
    assert page.problems + page.console == []
