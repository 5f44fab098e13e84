"""Headless Chromium: a nested OR group built by clicking is saved as {"any": [...]}, and an error
inside the group lands next to the input that caused it."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.browser import ARTIFACTS, logged_in_page
from tests.http.conftest import BEARER
from tests.http.fake_control import FakeControl

pytestmark = pytest.mark.browser


async def test_or_group_in_chromium(client: TestClient, control: FakeControl) -> None:
    base = str(client.make_url(""))
    async with logged_in_page(base, "/rules/new", ready="#editor[data-ready=true]") as page:
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
    rules = await (await client.get("/api/rules", headers=BEARER)).json()
    (rule,) = rules["rules"]
    assert rule["conditions"] == [{"any": [{"field": "message.text", "op": "contains", "value": "transfer"},
                                           {"field": "chat.count", "op": "gt", "value": 5}]}]
    assert rule["actions"] == [{"type": "set_status", "status": "purchase"}]
    assert page.problems == []


async def test_not_groups_load_edit_and_save_with_their_meaning(client: TestClient, control: FakeControl) -> None:
    """A rule with NOT in three shapes (a single condition, NOT ANY, NOT ALL) opens as NONE /
    NOT ALL groups; after editing one value and saving, the rule means exactly what it meant before."""
    original = {
        "name": "Not spam", "trigger": "message.received", "sender": "customer",
        "conditions": [
            {"field": "message.text", "op": "contains", "value": "order"},
            {"not": {"field": "message.text", "op": "contains", "value": "promo"}},
            {"not": {"any": [{"field": "lead.status", "op": "equal", "value": "purchase"},
                             {"field": "message.is_group", "op": "equal", "value": True}]}},
            {"not": {"all": [{"field": "chat.count", "op": "gt", "value": 10},
                             {"field": "message.type", "op": "equal", "value": "image"}]}},
        ],
        "actions": [{"type": "set_status", "status": "hot"}],
    }
    created = await client.post("/api/rules", json=original, headers=BEARER)
    assert created.status == 201, await created.text()
    rule_id = (await created.json())["rule"]["id"]
    base = str(client.make_url(""))
    async with logged_in_page(base, f"/rules/{rule_id}/edit", ready="#editor[data-ready=true]") as page:
        # Each NOT is shown as a group with its kind, and its conditions inside it.
        assert await page.input_value('[data-path="conditions[1].kind"]') == "none"
        chips = page.locator('[data-node="conditions[1].not.any[0]"] .chip-text')  # keywords show as chips
        assert await chips.all_inner_texts() == ["promo"]
        assert await page.input_value('[data-path="conditions[2].kind"]') == "none"
        assert await page.input_value('[data-path="conditions[2].not.any[1].field"]') == "message.is_group"
        assert await page.input_value('[data-path="conditions[3].kind"]') == "not_all"
        assert await page.input_value('[data-path="conditions[3].not.all[0].value"]') == "10"
        await page.fill('[data-path="conditions[1].not.any[0].value"]', "promo, diskon")
        # Add a NONE group at the root and fill it in.
        await page.click('[data-node="conditions"] > .group-foot > .add-none')
        await page.fill('[data-path="conditions[4].not.any[0].value"]', "unsubscribe")
        await page.screenshot(path=str(ARTIFACTS / "dash-editor-not-groups.png"), full_page=True)
        await page.click("#save-rule")
        await page.wait_for_selector("#saved:not([hidden])")
    (saved,) = (await (await client.get("/api/rules", headers=BEARER)).json())["rules"]
    assert saved["conditions"] == [
        original["conditions"][0],
        {"not": {"any": [{"field": "message.text", "op": "contains", "value": "promo, diskon"}]}},
        original["conditions"][2],
        original["conditions"][3],
        {"not": {"any": [{"field": "message.text", "op": "contains", "value": "unsubscribe"}]}},
    ]
    assert page.problems == []


async def test_switching_a_group_to_none_negates_it(client: TestClient, control: FakeControl) -> None:
    base = str(client.make_url(""))
    async with logged_in_page(base, "/rules/new", ready="#editor[data-ready=true]") as page:
        await page.fill("#rule-name", "No promo talk")
        await page.click(".add-group")
        await page.fill('[data-path="conditions[0].any[0].value"]', "promo")
        await page.select_option('[data-path="conditions[0].kind"]', "none")
        assert await page.locator('[data-node="conditions[0].not.any[0]"] .chip-text').all_inner_texts() == ["promo"]
        await page.click("#add-action")
        await page.click("#save-rule")
        await page.wait_for_selector("#saved:not([hidden])")
        # The trace of the saved rule shows the NOT group stopping it on a promo message.
        await page.fill("#test-text", "ada promo?")
        await page.click("#run-test")
        await page.wait_for_selector(".verdict")
        assert (await page.inner_text(".verdict")).startswith("Does not fire")
        assert "✗ Not this" in await page.inner_text("#test-result")
        assert page.problems == []
    (rule,) = (await (await client.get("/api/rules", headers=BEARER)).json())["rules"]
    assert rule["conditions"] == [{"not": {"any": [{"field": "message.text", "op": "contains", "value": "promo"}]}}]
