"""GET /api/leads.csv exports every matching lead, not the first MAX_LIMIT: streamed in pages
(keyset paging in phone order), the Leads screen's filters, a header row, a dated filename, and
text cells a spreadsheet would run as formulas neutralised."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bridge.csv_cells import csv_cell
from bridge.http.api import MAX_LIMIT
from bridge.http.dashboard.leads import CSV_PAGE_SIZE
from bridge.http.dashboard.views import CSV_COLUMNS
from engine.model import Lead
from store.db import open_db
from store.leads import LeadQuery, iter_leads, upsert_lead
from tests.dashboard.sample import lead
from tests.http.conftest import BEARER
from tests.http.fake_control import FakeControl

MANY = 2500
STATUSES = ("new", "responded", "hot", "purchase")


def phone(i: int) -> str:
    return f"62812{i:08d}"


def many_leads(control: FakeControl) -> None:
    """MANY leads, newest activity first as the store lists them; four in five are hot."""
    assert MANY > 2 * MAX_LIMIT
    control.leads = [lead(phone(i), status="new" if i % 5 == 0 else "hot", value_actual=i * 1000 if i % 3 else None,
                          updated_at=f"2026-11-23T{i % 24:02d}:00:00+00:00")
                     for i in reversed(range(MANY))]


async def export(client: TestClient, query: str = "") -> tuple[aiohttp.ClientResponse, list[list[str]]]:
    response = await client.get(f"/api/leads.csv{query}", headers=BEARER)
    assert response.status == 200, await response.text()
    return response, list(csv.reader(io.StringIO(await response.text())))


async def test_every_lead_is_exported_exactly_once(client: TestClient, control: FakeControl) -> None:
    many_leads(control)
    tz = control.workspace.tz
    before = datetime.now(tz).strftime("%Y%m%d")
    response, rows = await export(client)
    after = datetime.now(tz).strftime("%Y%m%d")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="wabridge-leads-\d{8}\.csv"', disposition), disposition
    # Today in the workspace's time zone (Jakarta: already tomorrow from 17:00 UTC).
    assert before in disposition or after in disposition
    assert "Content-Length" not in response.headers  # streamed, not built whole
    header, body = rows[0], rows[1:]
    assert tuple(header) == CSV_COLUMNS
    phones = Counter(row[0] for row in body)
    assert len(body) == MANY and set(phones) == {phone(i) for i in range(MANY)}
    assert max(phones.values()) == 1
    by_phone = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    assert by_phone[phone(7)]["value_actual"] == "7000" and by_phone[phone(6)]["value_actual"] == ""
    # Read in bounded pages, each starting after the last phone of the one before.
    pages = [args for name, args in control.calls if name == "list_leads_after"]
    assert len(pages) == MANY // CSV_PAGE_SIZE + 1  # the last, short read says "no more"
    assert all(limit == CSV_PAGE_SIZE for _, _, limit in pages)
    assert [after for _, after, _ in pages] == [""] + [phone(n * CSV_PAGE_SIZE - 1)
                                                       for n in range(1, MANY // CSV_PAGE_SIZE + 1)]
    assert not [name for name, _ in control.calls if name == "list_leads"]


async def test_the_leads_screen_filters_apply(client: TestClient, control: FakeControl) -> None:
    many_leads(control)
    _, rows = await export(client, "?status=hot&q=")
    hot = {phone(i) for i in range(MANY) if i % 5}
    assert len(rows) - 1 == len(hot) == 2000 > MAX_LIMIT
    assert {row[0] for row in rows[1:]} == hot and {row[CSV_COLUMNS.index("status")] for row in rows[1:]} == {"hot"}
    for i in range(0, MANY, 3):
        control.leads[i]["utm_campaign"] = "promo-desember"
    _, rows = await export(client, "?utm_campaign=promo-desember&status=new")
    expected = {lead["phone"] for lead in control.leads
                if lead.get("utm_campaign") == "promo-desember" and lead["status"] == "new"}
    assert expected and {row[0] for row in rows[1:]} == expected and len(rows) - 1 == len(expected)
    _, rows = await export(client, "?status=won")
    assert rows == [list(CSV_COLUMNS)]  # nothing matches: the header row alone


async def test_limit_caps_the_rows(client: TestClient, control: FakeControl) -> None:
    many_leads(control)
    _, rows = await export(client, "?limit=1234")
    assert len(rows) - 1 == 1234 and len({row[0] for row in rows[1:]}) == 1234
    assert [args[2] for name, args in control.calls if name == "list_leads_after"] == [500, 500, 234]
    _, rows = await export(client, "?limit=3")
    assert [row[0] for row in rows[1:]] == [phone(0), phone(1), phone(2)]


@pytest.mark.parametrize(("query", "field"), [("?status=maybe", "status"), ("?colour=red", "colour"),
                                              ("?limit=0", "limit"), ("?limit=x", "limit")])
async def test_bad_input_is_still_a_json_400(client: TestClient, control: FakeControl, query: str,
                                             field: str) -> None:
    response = await client.get(f"/api/leads.csv{query}", headers=BEARER)
    assert response.status == 400 and (await response.json())["error"]["field"] == field


async def test_formula_cells_are_neutralised(client: TestClient, control: FakeControl) -> None:
    evil = lead("6281200000077", name='=HYPERLINK("http://evil.example","klik")', notes="+62 812 bayar",
                city="-1+1", source="@SUM(A1)", utm_campaign="\tTAB", utm_term="\r=1", tags=["=cmd", "vip"],
                value_actual=-5000, value_potential=1500000.5)
    plain = lead("6281200000078", name="Budi = pembeli", notes="order 2-3 pcs", tags=["vip"])
    control.leads = [evil, plain]
    _, rows = await export(client)
    rows_by_phone = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    bad = rows_by_phone["6281200000077"]
    assert bad["name"] == "'=HYPERLINK(\"http://evil.example\",\"klik\")"
    assert (bad["notes"], bad["city"], bad["source"]) == ("'+62 812 bayar", "'-1+1", "'@SUM(A1)")
    assert (bad["utm_campaign"], bad["utm_term"], bad["tags"]) == ("'\tTAB", "'\r=1", "'=cmd;vip")
    assert (bad["value_actual"], bad["value_potential"]) == ("-5000", "1500000.5")  # numbers stay numbers
    good = rows_by_phone["6281200000078"]
    assert (good["name"], good["notes"], good["tags"]) == ("Budi = pembeli", "order 2-3 pcs", "vip")


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("1-1", "1-1"), ("", ""), (None, None), (-5, -5), (2.5, 2.5),
])
def test_csv_cell(value: Any, cell: Any) -> None:
    assert csv_cell(value) == cell


async def test_a_failure_mid_export_cuts_the_download_off(client: TestClient, control: FakeControl) -> None:
    many_leads(control)
    real = control.list_leads_after
    reads = 0

    async def failing_second_read(*args: Any) -> list[dict[str, Any]]:
        nonlocal reads
        reads += 1
        if reads == 2:
            raise RuntimeError("the disk went away")
        return await real(*args)

    control.list_leads_after = failing_second_read  # type: ignore[method-assign]
    response = await client.get("/api/leads.csv", headers=BEARER)
    assert response.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):  # never a short file that looks complete
        await response.read()


def test_store_keyset_paging_sees_every_lead_once_while_leads_change() -> None:
    """The daemon's query (store.leads): phone order after a phone, with the filters. A lead
    updated between two pages (newest activity first would move it) is still read exactly once."""
    db = open_db(":memory:")
    start = datetime(2026, 11, 23, tzinfo=UTC)
    for i in range(25):
        upsert_lead(db, Lead(phone=phone(i), jid=f"{phone(i)}@s.whatsapp.net", status=STATUSES[i % 4],
                             created_at=start, updated_at=start + timedelta(minutes=i)))
    seen: list[str] = []
    after = ""
    while True:
        page = list(iter_leads(db, LeadQuery({}, 10, after_phone=after)))
        if not page:
            break
        seen += [lead.phone for lead in page]
        after = page[-1].phone
        # A message arrives for a lead of a later page and for one already read.
        for moved in (phone(24), phone(0)):
            upsert_lead(db, Lead(phone=moved, jid=f"{moved}@s.whatsapp.net", status="hot",
                                 created_at=start, updated_at=start + timedelta(hours=len(seen))))
    assert seen == [phone(i) for i in range(25)]
    hot = [lead.phone for lead in iter_leads(db, LeadQuery({"status": "hot"}, 100, after_phone=phone(2)))]
    assert hot == [phone(i) for i in range(3, 24) if STATUSES[i % 4] == "hot"] + [phone(24)]
    newest = [lead.phone for lead in iter_leads(db, LeadQuery({}, 2))]
    assert newest == [phone(0), phone(24)]  # without after_phone: newest activity first, as before
