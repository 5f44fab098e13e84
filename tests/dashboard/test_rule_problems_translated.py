"""A rule's problem reaches the page in the page's language: the editor's save and validate,
the Test panel's draft, and a stored rule that no longer loads on the Rules screen. `message`
stays English for scripts (and `field` names the input either way)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from tests.http.conftest import BEARER, login
from tests.http.fake_control import FakeControl

RULE: dict[str, Any] = {
    "name": "Hot", "conditions": [{"field": "message.text", "op": "contains", "value": "order"}],
    "actions": [{"type": "set_status", "status": "famous"}],
}


PAGE = {"X-Requested-With": "fetch"}  # as the dashboard's scripts send it (signed in by the cookie)


async def _error(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=PAGE)
    assert response.status == 400, await response.text()
    error: dict[str, Any] = (await response.json())["error"]
    return error


async def test_a_bad_rule_is_explained_in_indonesian_on_an_indonesian_page(client: TestClient) -> None:
    await login(client)
    await client.get("/language?lang=id&next=/rules")
    for path in ("/api/rules", "/api/rules/validate"):
        error = await _error(client, path, RULE)
        assert error["code"] == "invalid_rule" and error["field"] == "actions[0].status"
        assert error["message"].startswith("actions[0].status: 'famous' is not one of: new, responded")
        assert error["message_text"].startswith("actions[0].status: 'famous' bukan salah satu dari: new, responded")
    error = await _error(client, "/api/rules/test", {"rule": {**RULE, "conditions": [
        {"field": "time.local", "op": "between", "value": "09:00-09:00"}]}, "text": "x"})
    assert error["field"] == "rule.conditions[0].value"
    assert error["message_text"] == "rule.conditions[0].value: awal dan akhir sama: rentang waktunya akan kosong"
    assert error["message"] == "rule.conditions[0].value: start and end are the same: the window would be empty"

    await client.get("/language?lang=en&next=/rules")
    error = await _error(client, "/api/rules/validate", RULE)
    assert error["message_text"] == error["message"]


async def test_a_template_error_names_its_placeholder_in_the_page_language(client: TestClient) -> None:
    await login(client)
    await client.get("/language?lang=id&next=/rules")
    reply = {**RULE, "actions": [{"type": "send_reply", "text": "Halo {nama}"}]}
    error = await _error(client, "/api/rules/validate", reply)
    assert error["field"] == "actions[0].text"
    assert error["message_text"].startswith("actions[0].text: placeholder {nama} tidak dikenal; yang dikenal: {")
    assert error["message"].startswith("actions[0].text: unknown placeholder {nama}; known: {")


async def test_a_stored_rule_that_no_longer_loads_is_explained_on_the_rules_screen(
        client: TestClient, control: FakeControl) -> None:
    now = datetime.now(UTC).isoformat()
    control.db.conn.execute(
        "INSERT INTO rules (name, enabled, priority, trigger, spec, created_at, updated_at) "
        "VALUES ('Old webhook', 1, 10, 'message.received', ?, ?, ?)",
        ('{"name": "Old webhook", "actions": [{"type": "set_status", "status": "famous"}]}', now, now))
    await login(client)
    await client.get("/language?lang=id&next=/rules")
    html = await (await client.get("/rules")).text()
    assert "rules#1.actions[0].status: &#39;famous&#39; bukan salah satu dari: new, responded" in html
    listed = await (await client.get("/api/rules", headers=BEARER)).json()
    (broken,) = listed["invalid"]
    assert broken["name"] == "Old webhook" and broken["path"] == "rules#1.actions[0].status"
    assert broken["message"].startswith("'famous' is not one of: new, responded")


async def test_what_the_actions_did_reads_in_the_page_language(client: TestClient) -> None:
    """The Test panel's notes (`notes_text`): the action's label and its note translated; `notes`
    stays the stored English line."""
    await login(client)
    await client.get("/language?lang=id&next=/rules")
    rule = {"name": "Hot", "conditions": [], "actions": [
        {"type": "set_status", "status": "hot"}, {"type": "add_tag", "tag": "vip"}, {"type": "adjust_score", "by": 3},
        {"type": "update_value"}]}
    response = await client.post("/api/rules/test", headers=PAGE, json={"rule": rule, "text": "total Rp 1.500.000"})
    (item,) = (await response.json())["rules"]
    assert item["notes"] == ["set_status: new -> hot", "add_tag: +vip", "adjust_score: score 0 -> 3",
                             "update_value: value_actual = 1500000 from '1.500.000'"]
    assert item["notes_text"] == ["Ubah Status: new → hot", "Tambah Tag: +vip", "Ubah Skor: skor 0 → 3",
                                  "Perbarui Nilai Lead: value_actual = 1500000 dari '1.500.000'"]
