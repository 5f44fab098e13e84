"""POST /api/leads/import (issue #13): aliases, every bad row named and nothing imported,
duplicates, encodings, the size limit, lead.created per new row (not with ?rules=false)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from bridge.leads.csv_import import MAX_IMPORT_BYTES
from tests.leads.conftest import BEARER, LeadsControl

CSV_HEADERS = {**BEARER, "Content-Type": "text/csv"}
WELCOME: dict[str, Any] = {"rules": [
    {"name": "Welcome", "trigger": "lead.created",
     "conditions": [{"field": "change.by", "op": "equal", "value": "import"}],
     "actions": [{"type": "add_tag", "tag": "welcomed"}]},
    {"name": "Moved", "trigger": "lead.status_changed", "actions": [{"type": "add_tag", "tag": "moved"}]},
]}


async def _import(client: TestClient, text: str | bytes, query: str = "") -> tuple[int, Any]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    response = await client.post(f"/api/leads/import{query}", data=data, headers=CSV_HEADERS)
    return response.status, await response.json()


async def _phones(control: LeadsControl) -> list[str]:
    return sorted(lead["phone"] for lead in await control.list_leads({}, 100, 0))


async def test_import_with_aliases_creates_updates_and_fires_rules(leads_client: TestClient,
                                                                   leads_control: LeadsControl) -> None:
    leads_control.use_rules(WELCOME)
    text = ("Nama;No HP;Kota;Catatan;Status;Nilai;Tag;Kolom Lain\n"
            "Sari;0812-3456-7890;Bandung;minta katalog;new;Rp 1.500.000;vip;x\n"
            "Budi;+62 813 1111 2222;Jakarta;;hot;;;y\n")
    status, body = await _import(leads_client, text)
    assert status == 200, body
    assert (body["created"], body["updated"], body["unchanged"]) == (2, 0, 0)
    assert body["columns"]["No HP"] == "phone" and body["ignored_columns"] == ["Kolom Lain"]
    sari = (await leads_control.lead_detail("6281234567890"))
    assert sari is not None
    lead = sari["lead"]
    assert (lead["name"], lead["city"], lead["notes"], lead["value_actual"]) == ("Sari", "Bandung", "minta katalog",
                                                                                1500000)
    assert lead["tags"] == ["vip", "welcomed"]
    assert [c["who"] for c in sari["changes"]] == ["by rule Welcome", "by import"]
    # Again, with one status changed: 1 updated (fires status_changed), 1 unchanged.
    status, body = await _import(leads_client, "phone,status\n6281234567890,hot\n6281311112222,hot\n")
    assert status == 200 and (body["created"], body["updated"], body["unchanged"]) == (0, 1, 1), body
    sari = await leads_control.lead_detail("6281234567890")
    assert sari is not None and "moved" in sari["lead"]["tags"]


async def test_rules_false_imports_without_rules(leads_client: TestClient, leads_control: LeadsControl) -> None:
    leads_control.use_rules(WELCOME)
    status, body = await _import(leads_client, "whatsapp\n6281234567890\n", "?rules=false")
    assert status == 200 and body["created"] == 1 and body["rules_fired"] == 0, body
    detail = await leads_control.lead_detail("6281234567890")
    assert detail is not None and detail["lead"]["tags"] == []


async def test_every_bad_row_is_named_and_nothing_is_imported(leads_client: TestClient,
                                                              leads_control: LeadsControl) -> None:
    text = ("phone,status,score\n"
            "6281234567890,new,10\n"
            "12,new,1\n"
            "6281311112222,famous,2\n"
            "0812-3456-7890,new,3\n"
            "6281399998888,new,lots\n")
    status, body = await _import(leads_client, text)
    assert status == 400, body
    message = body["error"]["message"]
    assert "row 2 (line 3): phone:" in message
    assert "row 3 (line 4): status: 'famous' is not one of" in message
    assert "row 4 (line 5): phone: 6281234567890 is also on row 1" in message
    assert "row 5 (line 6): score:" in message
    assert await _phones(leads_control) == []
    # Fixed, the same file imports.
    fixed = text.replace("12,new,1", "6281500000001,new,1").replace("famous", "hot").replace(
        "0812-3456-7890,new,3\n", "").replace("lots", "5")
    status, body = await _import(leads_client, fixed)
    assert status == 200 and body["created"] == 4, body


async def test_encoding_size_and_shape_are_refused_clearly(leads_client: TestClient,
                                                           leads_control: LeadsControl) -> None:
    latin = "nama,phone,kota\nJosé Müller,6281234567890,Sécurité\n".encode("cp1252")
    status, body = await _import(leads_client, latin)
    assert status == 400 and "not UTF-8" in body["error"]["message"], body
    assert "windows-1252" in body["error"]["message"] or "cp125" in body["error"]["message"].lower(), body
    status, body = await _import(leads_client, "nama,phone\n".encode("utf-16"))
    assert status == 400 and "UTF-16" in body["error"]["message"], body
    big = b"phone,notes\n" + b"6281234567890," + b"x" * (10 * 1024 * 1024) + b"\n"
    response = await leads_client.post("/api/leads/import", data=big, headers=CSV_HEADERS)
    body = await response.json()
    assert response.status == 413 and f"{MAX_IMPORT_BYTES:,}" in body["error"]["message"], body
    status, body = await _import(leads_client, "nama,kota\nSari,Bandung\n")
    assert status == 400 and body["error"]["field"] == "phone", body
    status, body = await _import(leads_client, "")
    assert status == 400 and "empty" in body["error"]["message"], body
    response = await leads_client.post("/api/leads/import", json={"phone": "1"}, headers=BEARER)
    assert response.status == 415
    assert await _phones(leads_control) == []


async def test_dry_run_previews_without_importing(leads_client: TestClient, leads_control: LeadsControl) -> None:
    status, body = await _import(leads_client, "nama,no hp\nSari,0812-3456-7890\n", "?dry_run=true")
    assert status == 200 and body["dry_run"] and body["created"] == 1, body
    assert body["preview"] == [{"row": 1, "phone": "6281234567890", "name": "Sari"}]
    assert await _phones(leads_control) == []
