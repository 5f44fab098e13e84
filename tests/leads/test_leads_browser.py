"""Headless Chromium through the lead screens (issue #13), on a real server whose control
applies changes with the real processor: edit a lead and see the trace and history, create
a lead, import a CSV (a bad row named, nothing imported; fixed, imported), bulk status,
delete. The phone-width pass checks nothing spills sideways at 390 px."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from store.lead_events import LeadChange
from tests.browser import ARTIFACTS, PHONE, logged_in_page
from tests.http.fake_control import STATUSES
from tests.leads.conftest import LeadsControl

pytestmark = pytest.mark.browser
SARI = "6281234567890"
RULES: dict[str, Any] = {"rules": [
    {"name": "Hot by hand", "trigger": "lead.status_changed",
     "conditions": [{"field": "change.by", "op": "equal", "value": "dashboard"},
                    {"field": "status.to", "op": "equal", "value": "hot"}],
     "actions": [{"type": "add_tag", "tag": "follow-up"}]},
]}


async def _lead(control: LeadsControl, phone: str, **values: Any) -> None:
    from engine.changes import parse_edit

    result = await control.lead_desk.submit(LeadChange("create", "api", phone, parse_edit(values, STATUSES)))
    assert result is not None and result.outcome == "ok"


async def _fits(page: Any, width: int) -> None:
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= width


async def test_edit_a_lead_and_see_the_trace_and_history(leads_client: TestClient,
                                                         leads_control: LeadsControl) -> None:
    leads_control.use_rules(RULES)
    await _lead(leads_control, SARI, name="Sari")
    base = str(leads_client.make_url("")).rstrip("/")
    async with logged_in_page(base, f"/leads/{SARI}", ready="#lead-form") as page:
        await page.select_option("#lead-form select[name=status]", "hot")
        await page.fill("#lead-form textarea[name=notes]", "minta dikirim katalog")
        await page.fill("#lead-form input[name=value_potential]", "Rp 2.500.000")
        await page.fill("#tag-input", "vip")
        await page.press("#tag-input", "Enter")
        await page.click("#lead-save")
        await page.wait_for_selector("#save-result:not([hidden])")
        trace = await page.locator("#save-trace").inner_text()
        assert "Hot by hand (Status Change): fired — Add Tag: +follow-up" in trace, trace
        history = await page.locator("#changes").inner_text()
        assert "by the dashboard" in history and "by rule Hot by hand" in history and "new → hot" in history
        assert await page.locator("#lead-status").inner_text() == "hot"
        assert "Rp 2.500.000" in await page.locator("#lead-potential").inner_text()
        await page.screenshot(path=str(ARTIFACTS / "dash-lead-edit.png"), full_page=True)
        assert page.problems == [] and page.console == []
    detail = await leads_control.lead_detail(SARI)
    assert detail is not None
    assert detail["lead"]["notes"] == "minta dikirim katalog" and detail["lead"]["tags"] == ["follow-up", "vip"]


async def test_create_import_bulk_and_delete_at_phone_width(leads_client: TestClient,
                                                           leads_control: LeadsControl) -> None:
    base = str(leads_client.make_url("")).rstrip("/")
    async with logged_in_page(base, "/leads", viewport=PHONE) as page:
        await _fits(page, PHONE["width"])
        # New lead, phone as people type it.
        await page.click("#new-lead-box summary")
        await page.fill("#new-lead-form [data-field=phone]", "0812-3456-7890")
        await page.fill("#new-lead-form [data-field=name]", "Sari")
        await page.click("#new-lead-form button[type=submit]")
        await page.wait_for_url(f"{base}/leads/{SARI}")
        await page.wait_for_selector("#save-result:not([hidden])")
        await _fits(page, PHONE["width"])

        # Import: one bad row is named and nothing is imported; fixed, it imports.
        await page.goto(f"{base}/leads")
        await page.click("#import-box summary")
        bad = "nama;no hp;kota\nDewi;0813-1111-2222;Medan\nRina;12;Solo\nTono;0813-3333-4444;Bogor\n"
        await page.set_input_files("#import-file", files=[{"name": "leads.csv", "mimeType": "text/csv",
                                                           "buffer": bad.encode()}])
        await page.wait_for_selector("#import-error:not([hidden])")
        assert "row 2 (line 3): phone:" in await page.locator("#import-error").inner_text()
        assert await leads_control.list_leads({}, 10, 0) != [] and len(await leads_control.list_leads({}, 10, 0)) == 1
        good = bad.replace("Rina;12;Solo", "Rina;0813-2222-3333;Solo")
        await page.set_input_files("#import-file", files=[{"name": "leads.csv", "mimeType": "text/csv",
                                                           "buffer": good.encode()}])
        await page.wait_for_selector("#import-preview:not([hidden])")
        assert "Would create 3" in await page.locator("#import-preview").inner_text()
        await page.click("#import-go")
        await page.wait_for_selector("#import-result:not([hidden])")
        assert "3 created, 0 updated, 0 unchanged" in await page.locator("#import-result").inner_text()
        await _fits(page, PHONE["width"])
        await page.screenshot(path=str(ARTIFACTS / "dash-leads-import-phone.png"), full_page=True)

        # Bulk status for the three imported leads.
        await page.goto(f"{base}/leads")
        for phone in ("6281311112222", "6281322223333", "6281333334444"):
            await page.check(f".lead-select[value='{phone}']")
        await page.select_option("#bulk-status", "responded")
        await page.click("#bulk-go")
        await page.wait_for_function("() => document.getElementById('bulk-result').textContent.includes('3 leads')")
        statuses = {lead["phone"]: lead["status"] for lead in await leads_control.list_leads({}, 10, 0)}
        assert statuses == {SARI: "new", "6281311112222": "responded", "6281322223333": "responded",
                            "6281333334444": "responded"}
        # Tag filter and Tags column.
        await page.goto(f"{base}/leads?status=responded")
        assert await page.locator(".leads-table tbody tr").count() == 3

        # Delete, with a confirm naming the phone.
        await page.goto(f"{base}/leads/{SARI}")
        questions: list[str] = []

        async def accept(dialog: Any) -> None:
            questions.append(dialog.message)
            await dialog.accept()

        page.once("dialog", accept)
        await page.click("#lead-delete")
        await page.wait_for_url(f"{base}/leads?deleted={SARI}")
        assert questions and f"+{SARI}" in questions[0]
        assert await leads_control.lead_detail(SARI) is None
        assert page.problems == []


async def test_a_bad_value_is_explained_in_the_page_language(leads_client: TestClient,
                                                             leads_control: LeadsControl) -> None:
    await _lead(leads_control, SARI, name="Sari")
    base = str(leads_client.make_url("")).rstrip("/")
    async with logged_in_page(base, f"/leads/{SARI}", ready="#lead-form") as page:
        await page.goto(f"{base}/language?lang=id&next=/leads/{SARI}")
        await page.wait_for_selector("#lead-form")
        await page.fill("#lead-form input[name=value_potential]", "banyak sekali")
        await page.click("#lead-save")
        error = page.locator("#lead-form-error")
        await error.wait_for()
        assert await error.inner_text() == "value_potential: 'banyak sekali' bukan angka (mis. 1500000 atau " \
            "Rp 1.500.000)"
        assert page.problems == []  # (the console shows the 400 itself)
