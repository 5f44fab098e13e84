"""AI Suggest's API and the editor (the grammar itself is tested in tests/engine/test_suggest_grammar.py)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from engine.model import DEFAULT_STATUSES
from engine.suggest import suggest
from tests.browser import ARTIFACTS, logged_in_page
from tests.engine.test_suggest_grammar import ISSUE, c
from tests.http.conftest import BEARER, login
from tests.http.fake_control import FakeControl


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


async def test_a_refusal_speaks_the_page_language(client: TestClient) -> None:
    """Why a sentence gave no draft, with its hint, in the page's language (`message_text`);
    `message` and `notice` stay the English text and the key an integrator reads."""
    await login(client)
    await client.get("/language?lang=id&next=/rules")
    body = await (await client.post("/api/rules/suggest", json={"text": "pesan yang mengandung harga lalu tag"},
                                    headers=BEARER)).json()
    assert body["ok"] is False and body["notice"] == "no_action_words" and body["notice_args"] == {"words": "tag"}
    assert body["message"].startswith("I did not understand what to do (tag).")
    assert body["message"].endswith(" Hint: name the tag: tambah tag vip.")
    assert body["message_text"].startswith("Saya tidak memahami apa yang harus dilakukan (tag).")
    assert body["message_text"].endswith(" Petunjuk: sebutkan tag-nya: tambah tag vip.")
    await client.get("/language?lang=en&next=/rules")
    body = await (await client.post("/api/rules/suggest", json={"text": "bikinkan bagus"}, headers=BEARER)).json()
    assert body["message_text"] == body["message"] and body["notice"] == "no_rule_words"


async def test_what_was_understood_is_said_in_the_page_language(client: TestClient) -> None:
    """Each highlighted span's meaning (the tooltip and the list under the sentence) in the page's
    language, `meaning_text`; `meaning` stays English."""
    await login(client)
    await client.get("/language?lang=id&next=/rules")
    sentence = "kalau customer bilang promo atau kirim gambar di luar jam kantor, ubah ke hot dan tambah tag minat"
    body = await (await client.post("/api/rules/suggest", json={"text": sentence}, headers=BEARER)).json()
    assert body["ok"] is True, body
    said = {s["text"]: (s["meaning"], s["meaning_text"]) for s in body["understood"]}
    assert said["bilang promo"] == ("Message contains “promo”", "Pesan mengandung “promo”")
    assert said["atau"][1] == "ATAU: salah satu syarat sudah cukup (grup ANY)"
    assert said["ubah ke hot"] == ("Change Status to hot", "Ubah Status ke hot")
    assert said["di luar jam kantor"][1].endswith("(jam kantor dibaca sebagai 09:00-17:00)")
    await client.get("/language?lang=en&next=/rules")
    body = await (await client.post("/api/rules/suggest", json={"text": sentence}, headers=BEARER)).json()
    assert all(s["meaning_text"] == s["meaning"] for s in body["understood"])


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


@pytest.mark.parametrize(("sentence", "probe", "fired"), [
    ('kalau CS/admin kirim "pembayaran diterima", ubah ke purchase dan ambil nominal Rp',
     {"text": "Pembayaran diterima Rp 1.500.000", "sender_type": "team", "status": "hot"}, True),
    ('kalau CS/admin kirim "pembayaran diterima", ubah ke purchase dan ambil nominal Rp',
     {"text": "Pembayaran diterima Rp 1.500.000", "sender_type": "customer", "status": "hot"}, False),
    ("if customer sends a photo and status is hot, change to purchase", {"type": "image", "status": "hot"}, True),
    ("kalau sudah lebih dari 3 pesan dan status masih new, pindahkan ke responded",
     {"chat_count": 4, "status": "new"}, True),
    ("kalau sudah lebih dari 3 pesan dan status masih new, pindahkan ke responded",
     {"chat_count": 3, "status": "new"}, False),
])
async def test_the_api_draft_runs_in_test_a_rule(client: TestClient, sentence: str, probe: dict[str, Any],
                                                 fired: bool) -> None:
    suggested = await (await client.post("/api/rules/suggest", json={"text": sentence}, headers=BEARER)).json()
    assert suggested["ok"] is True, suggested
    response = await client.post("/api/rules/test", json={"rule": suggested["rule"], **probe}, headers=BEARER)
    body = await response.json()
    assert response.status == 200, body
    (item,) = body["rules"]
    assert item["fired"] is fired
    assert (await (await client.get("/api/rules", headers=BEARER)).json())["rules"] == []  # never saved


@pytest.mark.browser
async def test_a_draft_with_groups_fills_the_editor_and_saves_as_suggested(client: TestClient) -> None:
    sentence = ("kalau customer bilang promo atau kirim gambar di luar jam kerja dan bukan grup, "
                "tambah tag minat dan balas 'Halo kak, promo ada di katalog'")
    suggested = suggest(sentence, DEFAULT_STATUSES)["rule"]
    assert suggested["conditions"] == [
        {"any": [c("message.text", "contains", "promo"), c("message.type", "equal", "image")]},
        c("time.local", "between", "17:00-09:00"), c("message.is_group", "equal", False)]
    base = str(client.make_url(""))
    async with logged_in_page(base, "/rules/new", ready="#editor[data-ready=true]") as page:
        await page.fill("#suggest-text", sentence)
        await page.click("#suggest")
        await page.wait_for_selector("#suggest-message.saved")
        marks = await page.locator(".suggest-sentence mark").all_inner_texts()
        assert marks == ["bilang promo", "atau", "kirim gambar", "di luar jam kerja", "bukan grup", "tambah tag minat",
                         "balas 'Halo kak, promo ada di katalog'"]
        assert await page.input_value('[data-path="conditions[0].any[1].field"]') == "message.type"
        await page.screenshot(path=str(ARTIFACTS / "dash-suggest-groups.png"), full_page=True)
        await page.click("#save-rule")
        await page.wait_for_selector("#saved:not([hidden])")
        assert page.problems == []
    (saved,) = (await (await client.get("/api/rules", headers=BEARER)).json())["rules"]
    assert saved["conditions"] == suggested["conditions"]
    assert saved["actions"] == suggested["actions"]
