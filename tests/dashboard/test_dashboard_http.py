"""Dashboard pages and their read API against a FakeControl: content, 401s, clear 400s."""

from __future__ import annotations

import csv
import io

import pytest
from aiohttp.test_utils import TestClient

from bridge.daemon.sessions import SessionState
from tests.dashboard.sample import HOT, NEW, fill
from tests.http.conftest import BEARER, login
from tests.http.fake_control import ADMIN, OTHER_ADMIN, FakeControl

NEW_API = [("GET", "/api/leads.csv"), ("GET", f"/api/leads/{HOT}"), ("GET", "/api/runs")]
PAGES = ["/numbers", "/leads", f"/leads/{HOT}", "/activity"]


@pytest.mark.parametrize(("method", "path"), NEW_API)
async def test_api_needs_the_token(client: TestClient, method: str, path: str) -> None:
    response = await client.request(method, path)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("path", PAGES)
async def test_pages_send_strangers_to_login(client: TestClient, path: str) -> None:
    response = await client.get(path, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize(("path", "field"), [
    ("/api/leads/12ab", "phone"), ("/api/leads/1", "phone"),
    ("/api/leads.csv?status=maybe", "status"), ("/api/leads.csv?colour=red", "colour"),
    ("/api/leads.csv?limit=0", "limit"), ("/api/leads.csv?limit=x", "limit"),
    ("/api/runs?limit=-1", "limit"), ("/api/runs?limit=many", "limit"), ("/api/runs?errors=perhaps", "errors"),
    ("/api/runs?lead=1", "lead"),
])
async def test_bad_input_is_a_clear_400_naming_the_field(client: TestClient, path: str, field: str) -> None:
    response = await client.get(path, headers=BEARER)
    assert response.status == 400, await response.text()
    error = (await response.json())["error"]
    assert error["code"] == "bad_request" and error["field"] == field
    assert error["message"].startswith(f"{field}:")


async def test_lead_detail_api(client: TestClient, control: FakeControl) -> None:
    fill(control)
    body = await (await client.get(f"/api/leads/{HOT}", headers=BEARER)).json()
    assert body["lead"]["name"] == "Sari Dewi"
    assert [m["id"] for m in body["messages"]] == ["M2", "M1"]
    assert [r["id"] for r in body["runs"]] == [3, 2]
    assert body["changes"][0]["changes"] == {"status": ["responded", "hot"]}
    missing = await client.get("/api/leads/6289999999999", headers=BEARER)
    assert missing.status == 404 and (await missing.json())["error"]["field"] == "phone"


async def test_runs_api(client: TestClient, control: FakeControl) -> None:
    fill(control)
    runs = await (await client.get("/api/runs?limit=2", headers=BEARER)).json()
    assert [r["id"] for r in runs] == [3, 2]
    errors = await (await client.get("/api/runs?errors=true", headers=BEARER)).json()
    assert [r["id"] for r in errors] == [3]
    assert control.calls[-1] == ("recent_runs", (50, True))


async def test_leads_csv_follows_the_filters(client: TestClient, control: FakeControl) -> None:
    fill(control)
    response = await client.get("/api/leads.csv?status=hot&source=meta_ads&q=", headers=BEARER)
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [(r["phone"], r["status"], r["tags"], r["value_actual"]) for r in rows] == [
        (HOT, "hot", "vip", "250000")]
    assert control.calls[-1] == ("list_leads_after", ({"status": "hot", "source": "meta_ads"}, "", 500))


async def test_numbers_page(client: TestClient, control: FakeControl) -> None:
    control.connect(ADMIN)
    control.set(OTHER_ADMIN, SessionState.LOGGED_OUT, "logged_out")
    await login(client)
    html = await (await client.get("/numbers")).text()
    assert 'aria-current="page">Numbers' in html
    assert "CS Budi" in html and "Connected" in html and "Last message" in html
    assert f'data-post="/api/sessions/{ADMIN}/logout"' in html
    assert "Logged out: the phone removed this device" in html
    assert f'href="/pair/{OTHER_ADMIN}">Pair this number' in html


async def test_leads_page_filters_and_links(client: TestClient, control: FakeControl) -> None:
    fill(control)
    await login(client)
    html = await (await client.get("/leads")).text()
    assert f'href="/leads/{HOT}"' in html and f'href="/leads/{NEW}"' in html
    assert "promo-desember" in html and "Rp 250.000" in html
    html = await (await client.get("/leads?status=hot&utm_campaign=promo-desember")).text()
    assert f'href="/leads/{NEW}"' not in html
    assert 'href="/api/leads.csv?status=hot&amp;utm_campaign=promo-desember"' in html
    bad = await client.get("/leads?status=maybe")
    assert bad.status == 400 and "status: &#39;maybe&#39; is not one of" in await bad.text()


async def test_lead_page(client: TestClient, control: FakeControl) -> None:
    fill(control)
    await login(client)
    html = await (await client.get(f"/leads/{HOT}")).text()
    for text in ("Sari Dewi", "mau order 2 ya kak", "Identify Hot Lead (Keyword)", "responded → hot",
                 "Error: update_value: no amount found", "Lead created"):
        assert text in html, text
    missing = await client.get("/leads/6289999999999")
    assert missing.status == 404 and "There is no lead" in await missing.text()


async def test_the_lead_form_names_its_fields_and_priorities_in_the_page_language(
        client: TestClient, control: FakeControl) -> None:
    """The edit form's UTM fields and priority choices read as words, translated (the values
    sent stay the stored English ones)."""
    fill(control)
    await login(client)
    english = await (await client.get(f"/leads/{HOT}")).text()
    for text in ("UTM source", "UTM medium", "UTM term", "UTM content", '<option value="urgent">urgent</option>'):
        assert text in english, text
    await client.get("/language?lang=id&next=/leads")
    indonesian = await (await client.get(f"/leads/{HOT}")).text()
    for text in ("Sumber UTM", "Medium UTM", "Kata kunci UTM", "Konten UTM",
                 '<option value="urgent">mendesak</option>', '<option value="low">rendah</option>'):
        assert text in indonesian, text
    assert ">utm_source<" not in indonesian and "utm_term </label>" not in indonesian


async def test_activity_page(client: TestClient, control: FakeControl) -> None:
    fill(control)
    await login(client)
    html = await (await client.get("/activity")).text()
    assert "update_value: no amount found in the message" in html
    assert "Mark Active Lead (CTWA)" in html
    assert 'data-post="/api/outbox/1/retry"' in html  # dead: can be retried
    assert 'data-post="/api/outbox/2/retry"' not in html  # delivered: nothing to retry
    # What each fired rule did, in the page's words.
    assert "Add Tag: +vip" in html and "Adjust Score: score 0 -&gt; 10" in html
    await client.get("/language?lang=id&next=/activity")
    indonesian = await (await client.get("/activity")).text()
    assert "Yang dilakukan" in indonesian and "Tambah Tag: +vip" in indonesian
    assert "add_tag: +vip" not in indonesian


async def test_pairing_pages_still_work(client: TestClient, control: FakeControl) -> None:
    control.show_qr(ADMIN)
    await login(client)
    assert "Link WhatsApp" in await (await client.get(f"/pair/{ADMIN}")).text()
    index = await (await client.get("/")).text()
    assert "WhatsApp numbers" in index and 'href="/leads">Leads' in index  # the way into the dashboard
