"""The rules API behind the Rules screen: CRUD, order, templates, TOML, validation errors naming the field."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
import tomli_w
from aiohttp.test_utils import TestClient

from tests.http.conftest import BEARER, login
from tests.http.fake_control import FakeControl

RULE: dict[str, Any] = {
    "name": "Tag buyers", "sender": "customer",
    "conditions": [{"field": "message.text", "op": "contains", "value": "beli"}],
    "actions": [{"type": "add_tag", "tag": "buyer"}],
}
SEEDS = ["mark-active-lead", "identify-hot-lead", "auto-closing"]
ROUTES = [("GET", "/api/rules"), ("POST", "/api/rules"), ("PUT", "/api/rules/1"), ("DELETE", "/api/rules/1"),
          ("POST", "/api/rules/validate"), ("POST", "/api/rules/order"), ("GET", "/api/rules/templates"),
          ("POST", "/api/rules/templates/install"), ("GET", "/api/rules/export.toml"),
          ("POST", "/api/rules/import")]


async def install(client: TestClient, *slugs: str) -> dict[str, Any]:
    response = await client.post("/api/rules/templates/install", json={"slugs": list(slugs)}, headers=BEARER)
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_rules_routes_need_the_token(client: TestClient, method: str, path: str) -> None:
    response = await client.request(method, path, json=RULE if method in ("POST", "PUT") else None)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"


async def test_rules_page_sends_strangers_to_login(client: TestClient) -> None:
    response = await client.get("/rules", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/login?next=/rules"


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", "/api/rules", {**RULE, "name": ""}, "name"),
    ("POST", "/api/rules", {**RULE, "sender": "boss"}, "sender"),
    ("POST", "/api/rules", {**RULE, "conditions": [{"field": "message.colour", "op": "equal", "value": 1}]},
     "conditions[0].field"),
    ("POST", "/api/rules", {**RULE, "conditions": [{"field": "message.text", "op": "gt", "value": 1}]},
     "conditions[0].op"),
    ("POST", "/api/rules", {**RULE, "actions": []}, "actions"),
    ("POST", "/api/rules", {**RULE, "actions": [{"type": "set_status", "status": "famous"}]}, "actions[0].status"),
    ("POST", "/api/rules/validate", {**RULE, "priority": "high"}, "priority"),
    ("PUT", "/api/rules/1", {**RULE, "stop_processing": "yes"}, "stop_processing"),
    ("PUT", "/api/rules/99999999999999999999", RULE, "id"),
    ("DELETE", "/api/rules/99999999999999999999", None, "id"),
    ("POST", "/api/rules/order", {"ids": "1,2"}, "ids"),
    ("POST", "/api/rules/order", {"ids": [1, 99]}, "ids"),
    ("POST", "/api/rules/templates/install", {"slugs": []}, "slugs"),
    ("POST", "/api/rules/templates/install", {"slugs": ["identify-hot-lead", "nope"]}, "slugs[1]"),
])
async def test_bad_input_is_a_400_naming_the_field(client: TestClient, method: str, path: str, body: Any,
                                                   field: str) -> None:
    await install(client, "identify-hot-lead")
    response = await client.request(method, path, json=body, headers=BEARER)
    assert response.status == 400, await response.text()
    error = (await response.json())["error"]
    assert error["field"] == field, error
    assert error["message"].startswith(f"{field}:")


@pytest.mark.parametrize(("text", "field"), [
    ("rules = [", "file"),
    ('[[rules]]\nname = "x"\nactions = [{type = "set_status", status = "famous"}]\n', "rules[0].actions[0].status"),
    ('[[rules]]\nname = "x"\nactions = [{type = "add_tag", tag = "a"}]\n[[rules]]\nname = "X"\n'
     'actions = [{type = "add_tag", tag = "b"}]\n', "rules[1].name"),
])
async def test_import_refuses_a_bad_file_naming_the_place(client: TestClient, text: str, field: str) -> None:
    response = await client.post("/api/rules/import", data=text.encode(), headers=BEARER)
    assert response.status == 400
    assert (await response.json())["error"]["field"] == field
    assert (await (await client.get("/api/rules", headers=BEARER)).json())["rules"] == []
    bad = await client.post("/api/rules/import?replace=maybe", data=b"", headers=BEARER)
    assert (await bad.json())["error"]["field"] == "replace"


async def test_crud_reloads_the_daemon(client: TestClient, control: FakeControl) -> None:
    state = await install(client, *SEEDS)
    assert [r["name"] for r in state["rules"]] == [
        "Mark Active Lead (CTWA)", "Identify Hot Lead (Keyword)", "Auto-Closing & Capture Value (Regex)"]
    assert control.calls[-1] == ("reload_rules", "")
    created = await client.post("/api/rules", json=RULE, headers=BEARER)
    assert created.status == 201
    rule = (await created.json())["rule"]
    assert rule["id"] == 4 and rule["priority"] == 100
    duplicate = await client.post("/api/rules", json={**RULE, "name": "tag BUYERS"}, headers=BEARER)
    assert duplicate.status == 409 and (await duplicate.json())["error"]["field"] == "name"

    changed = await client.put("/api/rules/4", json={**rule, "enabled": False, "stop_processing": True},
                               headers=BEARER)
    assert changed.status == 200
    stored = {r["id"]: r for r in (await changed.json())["rules"]}
    assert (stored[4]["enabled"], stored[4]["stop_processing"]) == (False, True)

    ordered = await client.post("/api/rules/order", json={"ids": [4, 1, 2, 3]}, headers=BEARER)
    assert [(r["id"], r["priority"]) for r in (await ordered.json())["rules"]] == [
        (4, 10), (1, 20), (2, 30), (3, 40)]

    assert (await client.delete("/api/rules/4", headers=BEARER)).status == 200
    assert (await client.delete("/api/rules/4", headers=BEARER)).status == 404
    assert (await client.put("/api/rules/4", json=RULE, headers=BEARER)).status == 404
    assert sum(1 for call in control.calls if call[0] == "reload_rules") == 5


async def test_validate_returns_the_normalised_rule(client: TestClient) -> None:
    response = await client.post("/api/rules/validate", json=RULE, headers=BEARER)
    body = await response.json()
    assert response.status == 200 and body["ok"] is True
    assert body["rule"]["enabled"] is True and body["rule"]["trigger"] == "message.received"
    assert (await (await client.get("/api/rules", headers=BEARER)).json())["rules"] == []  # nothing saved


async def test_export_then_import_round_trips(client: TestClient) -> None:
    await install(client, *SEEDS)
    exported = await client.get("/api/rules/export.toml", headers=BEARER)
    assert exported.status == 200 and "attachment" in exported.headers["Content-Disposition"]
    text = await exported.text()
    assert len(tomllib.loads(text)["rules"]) == 3
    for rule_id in (1, 2, 3):
        await client.delete(f"/api/rules/{rule_id}", headers=BEARER)
    imported = await client.post("/api/rules/import", data=text.encode(), headers=BEARER)
    body = await imported.json()
    assert imported.status == 200 and len(body["created"]) == 3
    one = tomli_w.dumps({"rules": [tomllib.loads(text)["rules"][0]]})
    replaced = await client.post("/api/rules/import?replace=true", data=one.encode(), headers=BEARER)
    assert replaced.status == 200 and len((await replaced.json())["deleted"]) == 2


@pytest.mark.parametrize("body", [b"", b"  \n", b"# no rules here\n", b"rules = []\n"])
async def test_replace_import_without_rules_is_refused_and_deletes_nothing(client: TestClient,
                                                                           body: bytes) -> None:
    await install(client, *SEEDS)
    replaced = await client.post("/api/rules/import?replace=true", data=body, headers=BEARER)
    assert replaced.status == 400 and (await replaced.json())["error"]["field"] == "file"
    assert len((await (await client.get("/api/rules", headers=BEARER)).json())["rules"]) == 3


async def test_install_with_a_slug_that_is_not_text_is_400(client: TestClient) -> None:
    for slugs in ([{}], [["x"]], [1], [None]):
        response = await client.post("/api/rules/templates/install", json={"slugs": slugs}, headers=BEARER)
        assert response.status == 400 and (await response.json())["error"]["field"] == "slugs[0]"


async def test_templates_list(client: TestClient) -> None:
    templates = await (await client.get("/api/rules/templates", headers=BEARER)).json()
    assert {t["slug"] for t in templates} >= set(SEEDS)


async def test_rules_page(client: TestClient) -> None:
    await install(client, *SEEDS)
    await login(client)
    html = await (await client.get("/rules")).text()
    assert 'aria-current="page">Rules' in html
    assert html.index("Mark Active Lead") < html.index("Identify Hot Lead") < html.index("Auto-Closing")
    assert 'data-install="identify-hot-lead"' in html and 'href="/api/rules/export.toml"' in html


async def test_paths_that_are_not_rule_ids(client: TestClient) -> None:
    for method in ("PUT", "DELETE"):
        assert (await client.request(method, "/api/rules/abc", json=RULE, headers=BEARER)).status == 404
        wrong = await client.request(method, "/api/rules/export.toml", json=RULE, headers=BEARER)
        assert wrong.status == 405 and "GET" in wrong.headers["Allow"]
