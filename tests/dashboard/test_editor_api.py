"""The editor's vocabulary and Test a rule: labels from the engine, a trace, clear 400s."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from engine.actions import PRESET_LABELS
from engine.fields import FIELDS
from tests.http.conftest import BEARER, login

HOT: dict[str, Any] = {
    "name": "Identify Hot Lead", "sender": "customer",
    "conditions": [{"field": "message.text", "op": "contains", "value": "order, buy, booking"},
                   {"field": "lead.status", "op": "equal", "value": "responded"}],
    "actions": [{"type": "set_status", "status": "hot"}],
}


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/rules/vocabulary"), ("POST", "/api/rules/test")])
async def test_editor_api_needs_the_token(client: TestClient, method: str, path: str) -> None:
    response = await client.request(method, path, json={"text": "x"} if method == "POST" else None)
    assert response.status == 401


@pytest.mark.parametrize("path", ["/rules/new", "/rules/1/edit"])
async def test_editor_pages_send_strangers_to_login(client: TestClient, path: str) -> None:
    response = await client.get(path, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login?next=")


async def test_vocabulary_uses_the_engine_labels(client: TestClient) -> None:
    vocab = await (await client.get("/api/rules/vocabulary", headers=BEARER)).json()
    labels = {f["name"]: f["label"] for f in vocab["fields"]}
    assert labels == {name: spec.label for name, spec in FIELDS.items()}
    assert labels["message.text"] == "Message" and labels["lead.utm_content"] == "UTM Content"
    kinds = {o["name"]: o["kinds"] for o in vocab["operators"]}
    assert kinds["gt"] == ["number"] and kinds["between"] == ["time"]
    assert [p["label"] for p in vocab["presets"]] == list(PRESET_LABELS.values())
    assert "Custom" in [p["label"] for p in vocab["presets"]]
    assert {a["type"]: a["label"] for a in vocab["actions"]}["update_value"] == "Update Lead Value"
    assert vocab["statuses"] == ["new", "responded", "hot", "purchase", "won", "lost"]


async def test_test_a_draft_rule_shows_the_trace(client: TestClient) -> None:
    response = await client.post("/api/rules/test", headers=BEARER,
                                 json={"rule": HOT, "text": "Kak saya mau order 2", "status": "responded"})
    body = await response.json()
    assert response.status == 200, body
    (item,) = body["rules"]
    assert item["fired"] is True
    assert [leaf["passed"] for leaf in item["conditions"]["children"]] == [True, True]
    assert body["lead_after"]["status"] == "hot"

    body = await (await client.post("/api/rules/test", headers=BEARER,
                                    json={"rule": HOT, "text": "Kak saya mau order", "status": "new"})).json()
    (item,) = body["rules"]
    assert item["fired"] is False
    failed = [leaf for leaf in item["conditions"]["children"] if not leaf["passed"]]
    assert [leaf["field"] for leaf in failed] == ["lead.status"]  # the condition that stopped it


async def test_the_test_panel_speaks_the_page_language(client: TestClient) -> None:
    """The verdict, the condition labels and the sender words come in the page's language;
    `reason` and `verdict` stay the stable English and key an integrator reads."""
    await login(client)
    await client.get("/language?lang=id&next=/rules")
    team_rule = {**HOT, "sender": "team"}
    for rule, text, status, reason, shown in [
        (HOT, "Kak saya mau order 2", "responded", "conditions passed", "syarat terpenuhi"),
        (HOT, "Kak saya mau order", "new", "a condition failed", "ada syarat yang tidak terpenuhi"),
        (team_rule, "order", "responded", "sender is team, this message is from the customer",
         "pengirim aturan ini Tim/CS, pesan ini dari Pelanggan"),
    ]:
        body = await (await client.post("/api/rules/test", headers=BEARER,
                                        json={"rule": rule, "text": text, "status": status})).json()
        (item,) = body["rules"]
        assert (item["reason"], item["reason_text"]) == (reason, shown)
        if item["conditions"]:
            leaves = item["conditions"]["children"]
            assert [(leaf["label"], leaf["op_label"]) for leaf in leaves][0] == ("Pesan", "Mengandung")
    await client.get("/language?lang=en&next=/rules")
    body = await (await client.post("/api/rules/test", headers=BEARER,
                                    json={"rule": HOT, "text": "order", "status": "new"})).json()
    assert body["rules"][0]["reason_text"] == "a condition failed"
    assert body["rules"][0]["conditions"]["children"][0]["op_label"] == "Contains"


async def test_test_without_a_draft_runs_the_stored_rules(client: TestClient) -> None:
    await client.post("/api/rules/templates/install", headers=BEARER,
                      json={"slugs": ["identify-hot-lead", "auto-closing"]})
    body = await (await client.post("/api/rules/test", headers=BEARER,
                                    json={"text": "Payment received Rp 1.500.000", "status": "hot"})).json()
    assert [r["fired"] for r in body["rules"]] == [False, True]
    assert body["lead_after"]["value_actual"] == 1500000


@pytest.mark.parametrize(("body", "field"), [
    ({"text": 5}, "text"), ({"status": "famous"}, "status"), ({"sender_type": "boss"}, "sender_type"),
    ({"chat_count": -1}, "chat_count"), ({"type": "hologram"}, "type"), ({"colour": "red"}, "colour"),
    ({"rule": {**HOT, "conditions": [{"field": "chat.count", "op": "contains", "value": 2}]}}, "rule.conditions[0].op"),
    ({"rule": {**HOT, "actions": [{"type": "update_value", "preset": "nope"}]}}, "rule.actions[0].preset"),
])
async def test_test_bad_input_names_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    response = await client.post("/api/rules/test", headers=BEARER, json=body)
    assert response.status == 400, await response.text()
    error = (await response.json())["error"]
    assert error["field"] == field and error["message"].startswith(f"{field}:")


async def test_editor_pages(client: TestClient) -> None:
    await client.post("/api/rules/templates/install", headers=BEARER, json={"slugs": ["identify-hot-lead"]})
    await login(client)
    html = await (await client.get("/rules/1/edit")).text()
    assert "Edit rule" in html and "Identify Hot Lead (Keyword)" in html and "dash_editor.js" in html
    assert "New rule" in await (await client.get("/rules/new")).text()
    missing = await client.get("/rules/99/edit")
    assert missing.status == 404 and "There is no rule 99" in await missing.text()
