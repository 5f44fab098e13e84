"""The Leads screen and a lead's page; their read API (a lead's history, the leads CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import structlog
from aiohttp import web

from bridge.csv_cells import csv_cell
from bridge.daemon.sessions import SessionControl
from bridge.http.auth import CONTROL, page_route
from bridge.http.dashboard.views import CSV_COLUMNS, full_lead, is_lead_key, page, statuses
from bridge.http.errors import ApiError, json_response
from bridge.http.language import change_error, wording
from bridge.http.params import query_int
from bridge.leads.phones import normalise_lead_phone
from engine.changes import PRIORITIES, ChangeError

log = structlog.get_logger(__name__)

# The filters the Leads screen offers (a subset of store.leads.FILTERS); "campaign" is utm_campaign.
LEAD_PAGE_FILTERS = ("q", "status", "source", "utm_campaign", "tag")
PAGE_SIZE = 100
CSV_PAGE_SIZE = 500  # leads per store read while the CSV export streams


def lead_filters(query: Any) -> dict[str, str]:
    """The Leads screen's filters from the query string; empty ones are ignored."""
    filters: dict[str, str] = {}
    for name in query:
        if name in ("limit", "offset"):
            continue
        if name not in LEAD_PAGE_FILTERS:
            raise ApiError(400, "bad_request", f"{name}: not a lead filter "
                           f"(known: {', '.join(LEAD_PAGE_FILTERS)})", field=name)
        value = query.get(name, "").strip()
        if value:
            filters[name] = value
    return filters


async def _leads(control: SessionControl, filters: dict[str, str], limit: int,
                 offset: int, after_phone: str | None = None) -> list[dict[str, Any]]:
    """A page of leads, newest activity first; with `after_phone`, the next page in phone order."""
    if "status" in filters and filters["status"] not in statuses(control):
        raise ApiError(400, "bad_request", f"status: {filters['status']!r} is not one of "
                       f"{', '.join(statuses(control))}", field="status")
    try:
        if after_phone is not None:
            return await control.list_leads_after(filters, after_phone, limit)
        return await control.list_leads(filters, limit, offset)
    except ValueError as exc:
        named = str(exc).split(":", 1)[0].strip()
        raise ApiError(400, "bad_request", str(exc),
                       field=named if named in LEAD_PAGE_FILTERS else None) from None


@page_route
async def leads_page(request: web.Request) -> web.StreamResponse:
    """GET /leads?q=&status=&source=&utm_campaign=: searchable, filterable list."""
    control = request.app[CONTROL]
    error = None
    leads: list[dict[str, Any]] = []
    filters: dict[str, str] = {}
    offset = 0
    try:
        offset = query_int(request, "offset", 0, 0)
        filters = lead_filters(request.query)
        leads = await _leads(control, filters, PAGE_SIZE + 1, offset)
    except ApiError as exc:
        error = exc.message
    more = len(leads) > PAGE_SIZE
    query = urlencode(filters)
    return page(request, "dash_leads.html", "leads", status=400 if error else 200, error=error,
                 leads=[full_lead(lead) for lead in leads[:PAGE_SIZE]], filters=filters,
                 statuses=statuses(control), offset=offset, more=more, page_size=PAGE_SIZE, csv_query=query)


@page_route
async def lead_page(request: web.Request) -> web.StreamResponse:
    """GET /leads/{phone}: the lead's fields, messages, rule runs and value/status history."""
    phone = request.match_info["phone"]
    detail = await request.app[CONTROL].lead_detail(phone) if is_lead_key(phone) else None
    if detail is None:
        return page(request, "dash_lead.html", "leads", status=404, phone=phone, detail=None)
    detail = {**detail, "lead": full_lead(detail["lead"])}
    return page(request, "dash_lead.html", "leads", phone=phone, detail=detail, statuses=statuses(request.app[CONTROL]),
                priorities=PRIORITIES, reply=await reply_box(request.app[CONTROL], phone))



async def reply_box(control: SessionControl, phone: str) -> dict[str, Any] | None:
    """What the lead page's reply box needs: the numbers, the one it goes through, what was sent."""
    messages = getattr(control, "messages", None)
    if messages is None:
        return None
    last = await messages.last_session(phone)
    return {"numbers": [view.number for view in control.sessions()],
            "number": await messages.default_number(phone),
            "partner": last if last is not None and ":" in last else None,
            "sent": await messages.of_lead(phone, 20)}


async def lead_detail(request: web.Request) -> web.StreamResponse:
    """GET /api/leads/{phone}: {"lead", "messages", "runs", "changes"}."""
    phone = lead_key(request)
    detail = await request.app[CONTROL].lead_detail(phone)
    if detail is None:
        raise ApiError(404, "not_found", f"phone: no lead with phone {phone}", field="phone")
    return json_response(detail)


def lead_key(request: web.Request) -> str:
    """The lead the path names: phone digits (any common form, normalised) or a user id key."""
    raw = request.match_info["phone"]
    if is_lead_key(raw) and not raw.isdigit():
        return raw  # a customer known by a WhatsApp username until the phone is known
    try:
        return normalise_lead_phone(raw)
    except ChangeError as exc:
        raise change_error(exc, wording(request), "phone") from None


def csv_row(lead: dict[str, Any]) -> list[Any]:
    """One lead's cells in CSV_COLUMNS order: tags joined with ';', formula-safe text."""
    cells: list[Any] = []
    for name in CSV_COLUMNS:
        value = lead.get(name)
        if name == "tags" and isinstance(value, list | tuple):
            value = ";".join(map(str, value))
        cells.append(csv_cell(value))
    return cells


def csv_lines(rows: Iterable[Sequence[Any]]) -> bytes:
    """These rows as CSV text (UTF-8, CRLF line ends as RFC 4180 has them)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def csv_filename(control: SessionControl) -> str:
    """wabridge-leads-YYYYMMDD.csv, today in the workspace's timezone."""
    tz = getattr(getattr(control, "workspace", None), "tz", None) or UTC
    return f"wabridge-leads-{datetime.now(tz):%Y%m%d}.csv"


async def leads_csv(request: web.Request) -> web.StreamResponse:
    """GET /api/leads.csv?q=&status=&source=&utm_campaign=: every filtered lead as CSV, streamed.

    The Leads screen's filters; `limit` optionally caps the rows. Leads are read CSV_PAGE_SIZE
    at a time in phone order (keyset paging: each lead once even while messages update leads),
    so memory stays bounded however many there are. The first page is read before the headers
    go out, so a bad filter is still a JSON 400; a failure after that cuts the download off
    (the client sees an incomplete transfer, never a file that looks complete).
    """
    control = request.app[CONTROL]
    filters = lead_filters(request.query)
    cap = query_int(request, "limit", 0, 1) if request.query.get("limit", "") != "" else None
    size = CSV_PAGE_SIZE if cap is None else min(cap, CSV_PAGE_SIZE)
    page = await _leads(control, filters, size, 0, after_phone="")
    response = web.StreamResponse(headers={
        "Content-Disposition": f'attachment; filename="{csv_filename(control)}"', "Cache-Control": "no-store"})
    response.content_type = "text/csv"
    response.charset = "utf-8"
    await response.prepare(request)
    sent = 0
    try:
        await response.write(csv_lines([CSV_COLUMNS]))
        while page:
            await response.write(csv_lines(csv_row(lead) for lead in page))
            sent += len(page)
            if len(page) < size or (cap is not None and sent >= cap):
                break
            size = CSV_PAGE_SIZE if cap is None else min(cap - sent, CSV_PAGE_SIZE)
            page = await _leads(control, filters, size, 0, after_phone=str(page[-1]["phone"]))
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away; nothing to tell it
    except Exception:
        # The headers are out: an error response is impossible. Cutting the connection keeps the
        # client from taking the rows so far for the whole export.
        log.exception("leads_csv_failed", rows_sent=sent)
        if request.transport is not None:
            request.transport.abort()
    return response


def add_routes(app: web.Application) -> None:
    """Register the Leads screen, a lead's page and their read API."""
    router = app.router
    router.add_get("/leads", leads_page)
    router.add_get("/leads/{phone}", lead_page)
    router.add_get("/api/leads.csv", leads_csv)
    router.add_get("/api/leads/{phone}", lead_detail)
