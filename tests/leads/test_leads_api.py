"""The lead-changing API (issue #13) on a real server: create, patch, delete, who changed
what, and the rules a person's change fires (lead.created, lead.status_changed + change.by)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from engine.model import parse_message
from store.inbox import ingest
from tests.leads.conftest import BEARER, LeadsControl, login

PHONE = "6281234567890"

RULES: dict[str, Any] = {"rules": [
    {"name": "Welcome", "trigger": "lead.created", "actions": [{"type": "add_tag", "tag": "welcomed"}]},
    {"name": "Person moved it", "trigger": "lead.status_changed",
     "conditions": [{"field": "change.by", "op": "equal", "value": "dashboard"},
                    {"field": "status.to", "op": "equal", "value": "purchase"}],
     "actions": [{"type": "add_tag", "tag": "closed-by-hand"}, {"type": "set_status", "status": "won"}]},
    {"name": "Any status change", "trigger": "lead.status_changed",
     "conditions": [{"field": "change.by", "op": "in_list", "value": "api, dashboard, rule"}],
     "actions": [{"type": "add_tag", "tag": "moved"}]},
]}


async def _create(client: TestClient, **body: Any) -> tuple[int, Any]:
    response = await client.post("/api/leads", json=body, headers=BEARER)
    return response.status, await response.json()


async def test_every_route_needs_the_token(leads_client: TestClient) -> None:
    for method, path in (("POST", "/api/leads"), ("PATCH", f"/api/leads/{PHONE}"), ("DELETE", f"/api/leads/{PHONE}"),
                         ("POST", "/api/leads/import"), ("GET", f"/api/leads/{PHONE}")):
        response = await leads_client.request(method, path, data=b"{}")
        assert response.status == 401, (method, path)


async def test_create_in_any_phone_form_fires_lead_created(leads_client: TestClient,
                                                          leads_control: LeadsControl) -> None:
    leads_control.use_rules(RULES)
    status, body = await _create(leads_client, phone="0812-3456-7890", name="Sari", city="Bandung",
                                 value_potential="Rp 2.500.000", tags=["walk-in"], priority="High")
    assert status == 201, body
    lead = body["lead"]
    assert lead["phone"] == PHONE and lead["name"] == "Sari" and lead["status"] == "new"
    assert lead["value_potential"] == 2_500_000 and lead["priority"] == "high"
    assert lead["tags"] == ["walk-in", "welcomed"]  # the lead.created rule ran before the answer
    assert [r["rule"] for r in body["change"]["rules"] if r["fired"]] == ["Welcome"]
    whos = [change["who"] for change in body["changes"]]
    assert whos == ["by rule Welcome", "by the API"]
    # Another form of the same phone: 409 lead_exists.
    status, body = await _create(leads_client, phone="+62 812 3456 7890")
    assert status == 409 and body["error"]["code"] == "lead_exists", body
    # ?rules=false: no lead.created rule.
    response = await leads_client.post("/api/leads?rules=false", json={"phone": "628129999000"}, headers=BEARER)
    body = await response.json()
    assert response.status == 201 and body["lead"]["tags"] == [] and body["change"]["rules"] == [], body


@pytest.mark.parametrize(("body", "field"), [
    ({}, "phone"), ({"phone": "12"}, "phone"), ({"phone": "abc"}, "phone"),
    ({"phone": PHONE, "status": "famous"}, "status"), ({"phone": PHONE, "priority": "soon"}, "priority"),
    ({"phone": PHONE, "score": "lots"}, "score"), ({"phone": PHONE, "colour": "red"}, "colour"),
    ({"phone": PHONE, "tags": "x" * 60}, "tags"),
])
async def test_create_names_the_bad_field_and_changes_nothing(leads_client: TestClient, leads_control: LeadsControl,
                                                              body: dict[str, Any], field: str) -> None:
    status, answer = await _create(leads_client, **body)
    assert status == 400 and answer["error"]["field"] == field, answer
    assert await leads_control.list_leads({}, 10, 0) == []


async def test_patch_answers_after_the_rules_and_says_who(leads_client: TestClient,
                                                         leads_control: LeadsControl) -> None:
    leads_control.use_rules(RULES)
    assert (await _create(leads_client, phone=PHONE))[0] == 201
    # By the API: the dashboard-only rule stays quiet; "Any status change" fires.
    response = await leads_client.patch(f"/api/leads/{PHONE}", json={"status": "purchase", "notes": "transfer BCA",
                                                                      "add_tags": ["vip"]}, headers=BEARER)
    body = await response.json()
    assert response.status == 200, body
    assert body["lead"]["status"] == "purchase" and "closed-by-hand" not in body["lead"]["tags"]
    assert {"vip", "moved"} <= set(body["lead"]["tags"]) and body["lead"]["notes"] == "transfer BCA"
    assert body["change"]["status_changes"] == [["new", "purchase"]]
    # The same status again changes nothing and fires nothing.
    response = await leads_client.patch(f"/api/leads/{PHONE}", json={"status": "purchase"}, headers=BEARER)
    body = await response.json()
    assert response.status == 200 and body["change"]["rules"] == [] and body["change"]["status_changes"] == []
    # By the dashboard (login cookie): the rule with change.by = dashboard fires, and chains.
    await leads_client.patch(f"/api/leads/{PHONE}", json={"status": "hot"}, headers=BEARER)
    await login(leads_client)
    response = await leads_client.patch(f"/api/leads/{PHONE}", json={"status": "purchase"},
                                        headers={"X-Requested-With": "fetch"})
    body = await response.json()
    assert response.status == 200, body
    assert body["lead"]["status"] == "won" and "closed-by-hand" in body["lead"]["tags"]
    assert body["change"]["status_changes"] == [["hot", "purchase"], ["purchase", "won"]]
    history = [(change["who"], sorted(change["changes"])) for change in body["changes"]]
    assert history[0] == ("by rule Person moved it, Any status change", ["status", "tags"])
    assert history[1] == ("by the dashboard", ["status"])


@pytest.mark.parametrize(("body", "field"), [
    ({"status": "famous"}, "status"), ({"priority": 3}, "priority"), ({"value_actual": "banyak"}, "value_actual"),
    ({"phone": "628"}, "phone"), ({"created_at": "x"}, "created_at"), ({"add_tags": "a" * 80}, "add_tags"),
])
async def test_patch_names_the_bad_field(leads_client: TestClient, body: dict[str, Any], field: str) -> None:
    assert (await _create(leads_client, phone=PHONE))[0] == 201
    response = await leads_client.patch(f"/api/leads/{PHONE}", json=body, headers=BEARER)
    answer = await response.json()
    assert response.status == 400 and answer["error"]["field"] == field, answer


async def test_patch_and_delete_of_an_unknown_lead_are_404(leads_client: TestClient) -> None:
    for method in ("PATCH", "DELETE"):
        response = await leads_client.request(method, "/api/leads/6289999999999", json={"notes": "x"}, headers=BEARER)
        assert response.status == 404 and (await response.json())["error"]["code"] == "not_found"


async def test_delete_forgets_the_customer(leads_client: TestClient, leads_control: LeadsControl) -> None:
    leads_control.use_rules(RULES)
    db = leads_control.db
    message = parse_message({"id": "M1", "session": "6281100000001", "chat": f"{PHONE}@s.whatsapp.net",
                             "sender": f"{PHONE}@s.whatsapp.net", "timestamp": "2026-12-06T10:00:00+07:00",
                             "text": "halo", "sender_name": "Sari"})
    ingest(db, message, datetime.now(UTC))
    leads_control.process()
    response = await leads_client.patch(f"/api/leads/{PHONE}", json={"status": "hot"}, headers=BEARER)
    assert response.status == 200
    db.conn.execute("INSERT INTO outbox (kind, idempotency_key, lead_phone, payload, next_attempt_at, created_at, "
                    "updated_at) VALUES ('webhook', 'k1', ?, '{}', 'x', 'x', 'x')", (PHONE,))
    db.conn.commit()
    response = await leads_client.delete(f"/api/leads/{PHONE}", headers=BEARER)
    assert response.status == 204
    for table, where in (("leads", "phone = ?"), ("inbox", "lead_phone = ?"), ("rule_runs", "lead_phone = ?"),
                         ("lead_changes", "lead_phone = ?"), ("outbox", "lead_phone = ?")):
        assert db.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", (PHONE,)).fetchone()[0] == 0, table
    assert (await leads_client.get(f"/api/leads/{PHONE}", headers=BEARER)).status == 404
    # A later message from that phone starts a fresh lead.
    ingest(db, parse_message({**message.to_dict(), "id": "M2", "text": "saya lagi"}), datetime.now(UTC))
    leads_control.process()
    response = await leads_client.get(f"/api/leads/{PHONE}", headers=BEARER)
    body = await response.json()
    assert body["lead"]["status"] == "new" and [m["text"] for m in body["messages"]] == ["saya lagi"]


async def test_the_rule_editor_offers_changed_by_with_its_values(leads_client: TestClient) -> None:
    response = await leads_client.get("/api/rules/vocabulary", headers=BEARER)
    fields = {f["name"]: f for f in (await response.json())["fields"]}
    spec = fields["change.by"]
    assert spec["label"] == "Changed By"
    assert spec["choices"] == ["message", "rule", "dashboard", "api", "import", "cli"]
    assert "lead.status_changed" in spec["triggers"] and "lead.created" in spec["triggers"]
