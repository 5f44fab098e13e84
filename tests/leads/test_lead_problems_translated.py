"""A lead change's problem reaches the Leads screen in the page's language: the edit and create
forms (PATCH and POST /api/leads) and a refused CSV import carry `message_text` beside the English
`message` scripts read; on an English page the two are the same."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.leads.conftest import BEARER, LeadsControl, login

PHONE = "6281234567890"


async def _error(client: TestClient, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = await client.request(method, path, headers={**BEARER, **kwargs.pop("headers", {})}, **kwargs)
    assert response.status == 400, await response.text()
    error: dict[str, Any] = (await response.json())["error"]
    return error


async def test_a_bad_change_is_explained_in_indonesian(leads_client: TestClient, leads_control: LeadsControl) -> None:
    await login(leads_client)
    await leads_client.get("/language?lang=id&next=/leads")
    error = await _error(leads_client, "POST", "/api/leads", json={"phone": "12"})
    assert error["field"] == "phone" and error["message"] == "phone: '12' is not a phone number (e.g. " \
        "0812-3456-7890 or +62 812 3456 7890)"
    assert error["message_text"] == "phone: '12' bukan nomor telepon (mis. 0812-3456-7890 atau +62 812 3456 7890)"

    assert (await leads_client.post("/api/leads", json={"phone": PHONE}, headers=BEARER)).status == 201
    error = await _error(leads_client, "PATCH", f"/api/leads/{PHONE}", json={"status": "famous", "score": 1})
    assert error["message"].startswith("status: 'famous' is not one of new, responded")
    assert error["message_text"].startswith("status: 'famous' bukan salah satu dari new, responded")
    error = await _error(leads_client, "PATCH", f"/api/leads/{PHONE}", json={"value_actual": "banyak"})
    assert error["message_text"] == "value_actual: 'banyak' bukan angka (mis. 1500000 atau Rp 1.500.000)"

    await leads_client.get("/language?lang=en&next=/leads")
    error = await _error(leads_client, "PATCH", f"/api/leads/{PHONE}", json={"status": "famous"})
    assert error["message_text"] == error["message"]


async def test_a_refused_import_names_every_bad_row_in_indonesian(leads_client: TestClient) -> None:
    await login(leads_client)
    await leads_client.get("/language?lang=id&next=/leads")
    text = "phone,status\n6281234567890,new\n6281311112222,famous\n0812-3456-7890,new\n"
    error = await _error(leads_client, "POST", "/api/leads/import", data=text.encode(),
                         headers={"Content-Type": "text/csv"})
    english, said = error["message"].split("; "), error["message_text"].split("; ")
    assert english == ["row 2 (line 3): status: 'famous' is not one of new, responded, hot, purchase, won, lost",
                       "row 3 (line 4): phone: 6281234567890 is also on row 1 (each phone once per file)"]
    assert said == ["baris data 2 (baris file 3): status: 'famous' bukan salah satu dari new, responded, hot, "
                    "purchase, won, lost",
                    "baris data 3 (baris file 4): phone: 6281234567890 juga ada di baris 1 (setiap nomor sekali saja "
                    "per file)"]
    error = await _error(leads_client, "POST", "/api/leads/import", data=b"nama,kota\nSari,Bandung\n",
                         headers={"Content-Type": "text/csv"})
    assert error["message_text"].startswith("phone: tidak ada kolom nomor di baris judul (nama, kota)")


async def test_the_trace_of_a_change_reads_in_the_page_language(leads_client: TestClient,
                                                                  leads_control: LeadsControl) -> None:
    """What a person's change made the rules do: `trigger_text` and `notes_text` beside the stored
    `trigger` and `notes`."""
    leads_control.use_rules({"rules": [{"name": "Welcome", "trigger": "lead.created",
                                        "actions": [{"type": "add_tag", "tag": "welcomed"}]}]})
    await login(leads_client)
    await leads_client.get("/language?lang=id&next=/leads")
    response = await leads_client.post("/api/leads", json={"phone": PHONE}, headers=BEARER)
    (run,) = (await response.json())["change"]["rules"]
    assert (run["trigger"], run["notes"]) == ("lead.created", ["add_tag: +welcomed"])
    assert (run["trigger_text"], run["notes_text"]) == ("Lead Baru", ["Tambah Tag: +welcomed"])
