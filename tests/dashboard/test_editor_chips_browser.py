"""Headless Chromium: list values (In List, Not In List, Contains …) are edited as chips. Enter or
a comma adds a word, ✕ or Backspace removes one; the rule saves the value in the shape the API
takes (comma-separated text, or the list it came as), and an opened rule saves back unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.browser import ARTIFACTS, PHONE, logged_in_page
from tests.http.conftest import BEARER
from tests.http.fake_control import FakeControl

pytestmark = pytest.mark.browser
READY = "#editor[data-ready=true]"


async def chips(page: Any, node: str) -> list[str]:
    return [text.strip() for text in await page.locator(f'[data-node="{node}"] .chip-text').all_inner_texts()]


async def stored_rules(client: TestClient) -> list[dict[str, Any]]:
    return list((await (await client.get("/api/rules", headers=BEARER)).json())["rules"])


async def test_build_a_rule_with_chips_on_a_phone(client: TestClient, control: FakeControl) -> None:
    base = str(client.make_url(""))
    async with logged_in_page(base, "/rules/new", viewport=PHONE, ready=READY) as page:
        await page.fill("#rule-name", "Hot from ads")
        add_condition = '[data-node="conditions"] > .group-foot > .add-condition'

        # Message contains: three keywords, by Enter and by comma; ✕ removes the middle one.
        await page.click(add_condition)
        keywords = '[data-path="conditions[0].value"]'
        await page.click(keywords)
        await page.keyboard.type("order")
        await page.keyboard.press("Enter")  # adds a chip; does not submit the form
        await page.keyboard.type("buy,booking")
        await page.keyboard.press("Enter")
        assert await chips(page, "conditions[0]") == ["order", "buy", "booking"]
        assert await page.input_value(keywords) == ""
        assert await page.locator("#saved").is_hidden() and await stored_rules(client) == []
        await page.click('[data-node="conditions[0]"] .chip-x[aria-label="Remove buy"]')
        assert await chips(page, "conditions[0]") == ["order", "booking"]

        # Lead Source in list: a pasted list, Backspace in the empty box takes the last chip back
        # out, and a word left in the box counts without Enter.
        await page.click(add_condition)
        await page.select_option('[data-path="conditions[1].field"]', label="Lead Source")
        await page.select_option('[data-path="conditions[1].op"]', label="In List")
        sources = '[data-path="conditions[1].value"]'
        await page.fill(sources, "meta_ads, whatsapp, ")
        assert await chips(page, "conditions[1]") == ["meta_ads", "whatsapp"]
        await page.focus(sources)
        await page.keyboard.press("Backspace")
        assert await chips(page, "conditions[1]") == ["meta_ads"]
        await page.keyboard.type("META_ADS,")  # the same word twice is one chip
        assert await chips(page, "conditions[1]") == ["meta_ads"]
        await page.keyboard.type("website")

        # Chat Count in list: a word that is no number is named at its own chip by the server.
        await page.click(add_condition)
        await page.select_option('[data-path="conditions[2].field"]', label="Chat Count")
        await page.select_option('[data-path="conditions[2].op"]', label="In List")
        await page.fill('[data-path="conditions[2].value"]', "1, dua,")
        await page.click("#add-action")
        await page.select_option('[data-path="actions[0].status"]', "hot")
        await page.click("#save-rule")
        await page.wait_for_selector('[data-path="conditions[2].value[1]"].invalid')
        error = page.locator('[data-node="conditions[2]"] + .field-error')
        assert "must be a number" in await error.inner_text()
        await page.click('[data-node="conditions[2]"] .chip-x[aria-label="Remove dua"]')
        await page.fill('[data-path="conditions[2].value"]', "3,")
        assert await chips(page, "conditions[2]") == ["1", "3"]

        assert await page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        box = await page.locator('[data-node="conditions[0]"] .chip-x').first.bounding_box()
        assert box is not None and box["width"] >= 28 and box["height"] >= 28  # a finger can hit it
        await page.screenshot(path=str(ARTIFACTS / "dash-editor-chips-phone.png"), full_page=True)
        await page.click("#save-rule")
        await page.wait_for_selector("#saved:not([hidden])")
        assert page.problems == []
    (rule,) = await stored_rules(client)
    assert rule["conditions"] == [
        {"field": "message.text", "op": "contains", "value": "order, booking"},
        {"field": "lead.source", "op": "in_list", "value": "meta_ads, website"},
        {"field": "chat.count", "op": "in_list", "value": "1, 3"},
    ]


ORIGINAL: list[Any] = [
    {"field": "message.text", "op": "in_list", "value": ["halo", "hai kak"]},
    {"field": "lead.source", "op": "not_in_list", "value": "ads,whatsapp"},
    {"field": "lead.status", "op": "not_in_list", "value": ["won", "lost"]},
    {"field": "chat.count", "op": "in_list", "value": [1, 2, 3]},
    {"field": "message.text", "op": "contains", "value": "order, buy, booking"},
    {"any": [{"field": "lead.tags", "op": "contains", "value": ["vip"]},
             {"field": "message.text", "op": "not_contains", "value": "promo"}]},
]


async def test_an_opened_rule_with_lists_saves_back_unchanged(client: TestClient, control: FakeControl) -> None:
    created = await client.post("/api/rules", headers=BEARER, json={
        "name": "Greetings", "trigger": "message.received", "sender": "customer",
        "conditions": ORIGINAL, "actions": [{"type": "add_tag", "tag": "greeted"}]})
    assert created.status == 201, await created.text()
    rule_id = (await created.json())["rule"]["id"]
    base = str(client.make_url(""))
    async with logged_in_page(base, f"/rules/{rule_id}/edit", ready=READY) as page:
        assert await chips(page, "conditions[0]") == ["halo", "hai kak"]
        assert await chips(page, "conditions[1]") == ["ads", "whatsapp"]
        assert await chips(page, "conditions[2]") == ["won", "lost"]
        assert await chips(page, "conditions[3]") == ["1", "2", "3"]
        assert await chips(page, "conditions[4]") == ["order", "buy", "booking"]
        assert await chips(page, "conditions[5].any[0]") == ["vip"]
        assert await chips(page, "conditions[5].any[1]") == ["promo"]
        for path in ("conditions[0].value", "conditions[3].value", "conditions[5].any[1].value"):
            assert await page.locator(f'input[data-path="{path}"]').count() == 1
        await page.screenshot(path=str(ARTIFACTS / "dash-editor-chips-open.png"), full_page=True)
        await page.click("#save-rule")
        await page.wait_for_selector("#saved:not([hidden])")
        (saved,) = await stored_rules(client)
        assert saved["conditions"] == ORIGINAL  # every value in its stored shape, untouched

        # Editing keeps each value's shape: lists stay lists (numbers stay numbers), text stays text.
        await page.fill('[data-path="conditions[0].value"]', "selamat pagi,")
        await page.click('[data-node="conditions[1]"] .chip-x[aria-label="Remove ads"]')
        await page.fill('[data-path="conditions[3].value"]', "4,")
        await page.fill('[data-path="conditions[4].value"]', "transfer")
        async with page.expect_response(lambda r: r.request.method == "PUT") as answer:
            await page.click("#save-rule")
        assert (await answer.value).ok
        assert page.problems == []
    (saved,) = await stored_rules(client)
    assert saved["conditions"][:5] == [
        {"field": "message.text", "op": "in_list", "value": ["halo", "hai kak", "selamat pagi"]},
        {"field": "lead.source", "op": "not_in_list", "value": "whatsapp"},
        ORIGINAL[2],
        {"field": "chat.count", "op": "in_list", "value": [1, 2, 3, 4]},
        {"field": "message.text", "op": "contains", "value": "order, buy, booking, transfer"},
    ]
    assert saved["conditions"][5] == ORIGINAL[5]
