"""AI Suggest: the offline phrase grammar (English + Bahasa Indonesia), its API, and the editor."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bridge.http.dashboard_suggest import suggest
from engine.model import DEFAULT_STATUSES
from engine.rules import default_env, parse_rule
from tests.browser import ARTIFACTS, logged_in_page
from tests.http.conftest import BEARER
from tests.http.fake_control import FakeControl

ISSUE = "kalau customer bilang transfer atau sudah bayar dan status hot, ubah ke purchase dan ambil nominal Rp"


def test_the_issue_sentence_in_bahasa() -> None:
    result = suggest(ISSUE, DEFAULT_STATUSES)
    assert result["ok"] is True and result["not_understood"] == []
    rule = result["rule"]
    assert rule["conditions"] == [{"field": "message.text", "op": "contains", "value": "transfer, sudah bayar"},
                                  {"field": "lead.status", "op": "equal", "value": "hot"}]
    assert rule["actions"] == [{"type": "set_status", "status": "purchase"},
                               {"type": "update_value", "target": "lead.value_actual", "preset": "rupiah_flexible"}]
    assert [span["text"] for span in result["understood"]] == [
        "bilang transfer atau sudah bayar", "status hot", "ubah ke purchase", "ambil nominal Rp"]
    for span in result["understood"]:
        assert ISSUE[span["start"]:span["end"]] == span["text"]
    assert rule["name"] == "Suggested: kalau customer bilang transfer atau sudah bayar dan status…"
    parse_rule(rule, "rule", default_env(DEFAULT_STATUSES))  # a valid rule


@pytest.mark.parametrize(("sentence", "conditions", "actions"), [
    ("if the customer says order or buy and status is responded, change to hot",
     [("message.text", "contains", "order, buy"), ("lead.status", "equal", "responded")], [("set_status", "hot")]),
    ("when customer sends more than 2 messages and status new, move to responded and add tag active",
     [("chat.count", "gt", 2), ("lead.status", "equal", "new")], [("set_status", "responded"), ("add_tag", "active")]),
    ('jika pelanggan menulis "harga" maka balas "Harga mulai Rp 100.000"',
     [("message.text", "contains", "harga")], [("send_reply", "Harga mulai Rp 100.000")]),
])
def test_more_sentences(sentence: str, conditions: list[tuple[str, str, Any]], actions: list[tuple[str, Any]]) -> None:
    result = suggest(sentence, DEFAULT_STATUSES)
    assert result["ok"] is True, result
    rule = result["rule"]
    assert [(c["field"], c["op"], c["value"]) for c in rule["conditions"]] == conditions
    assert [(a["type"], next(v for k, v in a.items() if k != "type")) for a in rule["actions"]] == actions
    parse_rule(rule, "rule", default_env(DEFAULT_STATUSES))


def test_says_clearly_when_it_did_not_understand() -> None:
    nothing = suggest("tolong bikinkan yang bagus", DEFAULT_STATUSES)
    assert nothing["ok"] is False and nothing["rule"] is None
    assert nothing["message"].startswith("I did not understand this sentence")
    assert nothing["not_understood"] == ["bikinkan", "bagus"]
    no_action = suggest("kalau customer bilang halo", DEFAULT_STATUSES)
    assert no_action["ok"] is False and no_action["message"].startswith("I did not understand what to do")
    partial = suggest("if customer says promo, change to hot and call grandma", DEFAULT_STATUSES)
    assert partial["ok"] is True and partial["message"].startswith("Not understood: call, grandma.")


def test_is_deterministic() -> None:
    assert suggest(ISSUE, DEFAULT_STATUSES) == suggest(ISSUE, DEFAULT_STATUSES)


async def test_api_needs_the_token(client: TestClient) -> None:
    assert (await client.post("/api/rules/suggest", json={"text": ISSUE})).status == 401


@pytest.mark.parametrize(("body", "field"), [({}, "text"), ({"text": "  "}, "text"), ({"text": 3}, "text"),
                                             ({"text": "x" * 501}, "text"), ({"text": "x", "lang": "id"}, "lang")])
async def test_api_bad_input(client: TestClient, body: dict[str, Any], field: str) -> None:
    response = await client.post("/api/rules/suggest", json=body, headers=BEARER)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["field"] == field and error["message"].startswith(f"{field}:")


async def test_api_never_saves(client: TestClient, control: FakeControl) -> None:
    body = await (await client.post("/api/rules/suggest", json={"text": ISSUE}, headers=BEARER)).json()
    assert body["ok"] is True and body["rule"]["actions"][0] == {"type": "set_status", "status": "purchase"}
    assert (await (await client.get("/api/rules", headers=BEARER)).json())["rules"] == []
    assert ("reload_rules", "") not in control.calls


@pytest.mark.browser
async def test_suggest_fills_the_editor_in_chromium(client: TestClient) -> None:
    base = str(client.make_url("")).rstrip("/")
    async with logged_in_page(base, "/rules/new", ready="#editor[data-ready=true]") as page:
        await page.fill("#suggest-text", "hello there")
        await page.click("#suggest")
        await page.wait_for_selector("#suggest-message.alert")
        assert "did not understand" in await page.inner_text("#suggest-message")
        await page.fill("#suggest-text", ISSUE)
        await page.click("#suggest")
        await page.wait_for_selector("#suggest-message.saved")
        marks = await page.locator(".suggest-sentence mark").all_inner_texts()
        assert marks == ["bilang transfer atau sudah bayar", "status hot", "ubah ke purchase", "ambil nominal Rp"]
        chips = page.locator('[data-node="conditions[0]"] .chip-text')  # keywords show as chips
        assert await chips.all_inner_texts() == ["transfer", "sudah bayar"]
        assert await page.input_value('[data-path="conditions[1].value"]') == "hot"
        assert await page.input_value('[data-path="actions[0].status"]') == "purchase"
        assert await page.input_value('[data-path="actions[1].preset"]') == "rupiah_flexible"
        await page.screenshot(path=str(ARTIFACTS / "dash-suggest.png"), full_page=True)
        rules = await (await page.request.get(f"{base}/api/rules")).json()
        assert rules["rules"] == []  # not saved by itself
        await page.click("#save-rule")
        await page.wait_for_selector("#saved:not([hidden])")
        assert page.problems == []
