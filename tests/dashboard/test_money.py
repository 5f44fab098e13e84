"""Lead values in the users' convention, Indonesian Rupiah: "Rp 1.500.000" (dots group thousands,
decimals after a comma). Pages use the `rupiah` filter; the CSV and JSON keep plain numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient

from bridge.http import create_app
from bridge.http.auth import TEMPLATES
from bridge.http.dashboard.views import rupiah
from tests.browser import ARTIFACTS, PHONE, logged_in_page
from tests.dashboard.sample import HOT, fill, lead
from tests.http.conftest import BEARER, login
from tests.http.fake_control import FakeControl

BUYER = "6281200000009"


@pytest.mark.parametrize(("value", "shown"), [
    (0, "Rp 0"),
    (1500000, "Rp 1.500.000"),
    (1500000.0, "Rp 1.500.000"),  # a whole amount stored as a float shows no decimals
    (250000, "Rp 250.000"),
    (999, "Rp 999"),
    (1000, "Rp 1.000"),
    (1234567890123, "Rp 1.234.567.890.123"),
    (-250000, "-Rp 250.000"),
    (-0.001, "Rp 0"),  # rounds to nothing: no minus sign on zero
    (1500000.5, "Rp 1.500.000,50"),
    (2500.25, "Rp 2.500,25"),
    (0.005, "Rp 0,01"),  # half a cent rounds up
    (Decimal("1999.999"), "Rp 2.000"),
    ("1500000", "Rp 1.500.000"),
    (None, "—"),
    ("", "—"),
])
def test_rupiah(value: object, shown: str) -> None:
    assert rupiah(value) == shown


@pytest.mark.parametrize("value", ["n/a", float("nan"), float("inf"), True])
def test_what_is_not_an_amount_is_shown_as_it_is(value: object) -> None:
    assert rupiah(value) == str(value)


def test_the_filter_is_registered_on_the_page_templates() -> None:
    env = create_app(FakeControl(), token="t" * 32, workspace_name="Toko Budi")[TEMPLATES]
    assert env.from_string("{{ v|rupiah }}").render(v=1500000) == "Rp 1.500.000"
    assert env.from_string("{{ v|rupiah }}").render(v=None) == "—"


def _buyer(control: FakeControl) -> None:
    fill(control)
    control.leads.insert(0, lead(BUYER, name="Budi Santoso", status="purchase", value_actual=1500000,
                                 value_potential=2750000.5, updated_at="2026-11-23T04:00:00+00:00"))
    control.lead_history[BUYER] = {"messages": [], "changes": [
        {"at": "2026-11-23T04:00:00+00:00", "inbox_id": 9,
         "changes": {"value_actual": [None, 1500000], "status": ["hot", "purchase"]}},
    ]}


async def test_pages_show_rupiah_and_the_api_keeps_numbers(client: TestClient, control: FakeControl) -> None:
    _buyer(control)
    await login(client)
    leads = await (await client.get("/leads")).text()
    assert "Rp 1.500.000" in leads and "Rp 250.000" in leads and "1,500,000" not in leads
    page = await (await client.get(f"/leads/{BUYER}")).text()
    assert '<dd id="lead-value" class="nowrap">Rp 1.500.000</dd>' in page
    assert '<dd id="lead-potential" class="nowrap">Rp 2.750.000,50</dd>' in page
    assert '<span class="nowrap">—</span> → <span class="nowrap">Rp 1.500.000</span>' in page  # history
    assert "hot → purchase" in page
    detail = await (await client.get(f"/api/leads/{BUYER}", headers=BEARER)).json()
    assert detail["lead"]["value_actual"] == 1500000
    rows = list(csv.DictReader(io.StringIO(await (await client.get("/api/leads.csv", headers=BEARER)).text())))
    assert {r["phone"]: r["value_actual"] for r in rows}[BUYER] == "1500000"
    assert {r["phone"]: r["value_potential"] for r in rows}[BUYER] == "2750000.5"
    lone = await (await client.get(f"/leads/{HOT}")).text()
    assert '<dd id="lead-potential" class="nowrap">—</dd>' in lone


@pytest.mark.browser
async def test_leads_and_lead_page_show_rupiah_in_chromium(client: TestClient, control: FakeControl) -> None:
    _buyer(control)
    base = str(client.make_url(""))
    async with logged_in_page(base, "/leads", ready=".leads-table") as page:
        row = page.locator(".leads-table tbody tr", has_text="Budi Santoso")
        assert (await row.locator('td[data-label="Value"]').inner_text()).strip() == "Rp 1.500.000"
        await page.click(f'a[href="/leads/{BUYER}"]')
        await page.wait_for_selector("#lead-value")
        assert (await page.inner_text("#lead-value")).strip() == "Rp 1.500.000"
        assert (await page.inner_text("#lead-potential")).strip() == "Rp 2.750.000,50"
        assert "Value: — → Rp 1.500.000" in " ".join((await page.inner_text("#changes")).split())
        await page.screenshot(path=str(ARTIFACTS / "dash-lead-rupiah.png"), full_page=True)
        assert page.problems == []
    async with logged_in_page(base, "/leads", viewport=PHONE, ready=".leads-table") as page:
        cell = page.locator(".leads-table tbody tr", has_text="Budi Santoso").locator('td[data-label="Value"]')
        assert "Rp 1.500.000" in await cell.inner_text()
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        await page.screenshot(path=str(ARTIFACTS / "dash-leads-rupiah-phone.png"), full_page=True)
        assert page.problems == []


@pytest.mark.browser
async def test_rule_test_panel_shows_the_captured_value_in_rupiah(client: TestClient, control: FakeControl) -> None:
    rule = {"name": "Capture value", "trigger": "message.received", "sender": "all",
            "conditions": [{"field": "message.text", "op": "contains", "value": "payment received"}],
            "actions": [{"type": "update_value", "target": "lead.value_actual", "preset": "rupiah_flexible"}]}
    created = await client.post("/api/rules", json=rule, headers=BEARER)
    assert created.status == 201, await created.text()
    rule_id = (await created.json())["rule"]["id"]
    base = str(client.make_url(""))
    async with logged_in_page(base, f"/rules/{rule_id}/edit", ready="#editor[data-ready=true]") as page:
        await page.fill("#test-text", "Payment received Rp 1.500.000")
        await page.click("#run-test")
        await page.wait_for_selector(".lead-after")
        assert (await page.inner_text(".lead-after")).endswith("value Rp 1.500.000")
        assert page.problems == []
