"""Changing leads over HTTP (issue #13): create, patch, delete, import a CSV.

Every change is committed as an event and applied by the processor like a message; the
answer comes after the change and the rules it fired have committed (202 if the processor
has not applied it within the desk's timeout: it is committed and will be). Changes made
through the login cookie (the dashboard's pages) are `change.by = dashboard`; with the
bearer token they are `api`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bridge.http.auth import AUTHENTICATED_BY, CONTROL
from bridge.http.dashboard.leads import lead_key
from bridge.http.errors import ApiError, json_response, read_json_object
from bridge.http.language import change_error, wording
from bridge.http.uploads import read_upload
from bridge.i18n import Wording
from bridge.leads.csv_import import MAX_IMPORT_BYTES, ImportRefused, read_lead_csv
from bridge.leads.desk import LeadDesk
from bridge.leads.phones import normalise_lead_phone
from engine.changes import EDITABLE, TAG_LISTS, ChangeError, LeadEdit, parse_edit
from engine.evaluate import RuleRunRecord
from engine.rules import TRIGGERS
from store.lead_events import ChangeResult, LeadChange, import_counts
from store.leads import get_lead


def _desk(request: web.Request) -> LeadDesk:
    desk = getattr(request.app[CONTROL], "lead_desk", None)
    if desk is None:
        raise ApiError(409, "not_available", "changing leads needs the running daemon")
    assert isinstance(desk, LeadDesk)
    return desk


def changed_by(request: web.Request) -> str:
    """`dashboard` for the dashboard's pages (login cookie), `api` for the bearer token."""
    return "dashboard" if request.get(AUTHENTICATED_BY) == "cookie" else "api"


def _flag(request: web.Request, name: str, default: bool) -> bool:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise ApiError(400, "bad_request", f"{name}: must be true or false, not {raw!r}", field=name)


def _phone(request: web.Request, raw: object, field: str = "phone") -> str:
    try:
        return normalise_lead_phone(raw, field)
    except ChangeError as exc:
        raise change_error(exc, wording(request)) from None


def _edit(request: web.Request, body: dict[str, Any], statuses: tuple[str, ...], *,
          ignore: tuple[str, ...] = ()) -> LeadEdit:
    unknown = sorted(set(body) - set(EDITABLE) - set(TAG_LISTS) - set(ignore))
    if unknown:
        raise ApiError(400, "bad_request", f"{unknown[0]}: not a lead field you can change "
                       f"(known: {', '.join((*EDITABLE, *TAG_LISTS))})", field=unknown[0])
    try:
        return parse_edit(body, statuses, ignore=ignore)
    except ChangeError as exc:
        raise change_error(exc, wording(request)) from None


def run_view(run: RuleRunRecord, words: Wording) -> dict[str, Any]:
    """One rule that ran because of a change: the trace pages and scripts show (`trigger_text` and
    `notes_text` in the page's words)."""
    return {"rule_id": run.rule_id, "rule": run.rule_name, "trigger": run.trigger,
            "trigger_text": words.gettext(TRIGGERS.get(run.trigger, run.trigger)), "fired": run.fired,
            "error": run.error, "notes": list(run.notes), "notes_text": [words.note(note) for note in run.notes]}


def change_view(result: ChangeResult, words: Wording) -> dict[str, Any]:
    """What applying a change did."""
    return {"event_id": result.event_id, "rules": [run_view(run, words) for run in result.runs],
            "status_changes": [list(pair) for pair in result.status_changes]}


def _not_applied(result: ChangeResult | None) -> web.Response:
    """The answer for a change that was not applied: 202 (still pending), or an error raised."""
    if result is None:
        return json_response({"state": "pending", "message": "the change is committed; the processor has not "
                              "applied it yet (it will)"}, status=202)
    if result.outcome == "not_found":
        raise ApiError(404, "not_found", result.message, field="phone")
    if result.outcome == "lead_exists":
        raise ApiError(409, "lead_exists", result.message, field="phone")
    raise ApiError(409, "change_failed", f"the change could not be applied: {result.message}")


async def _answer(request: web.Request, phone: str, result: ChangeResult, status: int) -> web.Response:
    detail = await request.app[CONTROL].lead_detail(phone)
    if detail is None:  # deleted by a later change meanwhile
        raise ApiError(404, "not_found", f"phone: no lead with phone {phone}", field="phone")
    return json_response({**detail, "change": change_view(result, wording(request))}, status=status)


async def create_lead(request: web.Request) -> web.StreamResponse:
    """POST /api/leads {"phone", …}: 201 with the lead (as GET returns it) after lead.created rules."""
    desk = _desk(request)
    body = await read_json_object(request, required=True)
    if "phone" not in body:
        raise ApiError(400, "bad_request", "phone: is required", field="phone")
    phone = _phone(request, body["phone"])
    edit = _edit(request, body, desk.statuses, ignore=("phone",))
    if await request.app[CONTROL].db_call(get_lead, phone) is not None:
        raise ApiError(409, "lead_exists", f"phone: {phone} already has a lead", field="phone")
    result = await desk.submit(LeadChange("create", changed_by(request), phone, edit,
                                          rules=_flag(request, "rules", True)))
    if result is None or result.outcome != "ok":
        return _not_applied(result)
    return await _answer(request, phone, result, 201)


async def patch_lead(request: web.Request) -> web.StreamResponse:
    """PATCH /api/leads/{phone} {field: value, "add_tags", "remove_tags"}: 200 after its rules ran."""
    desk = _desk(request)
    phone = lead_key(request)
    body = await read_json_object(request, required=True)
    edit = _edit(request, body, desk.statuses)
    if await request.app[CONTROL].db_call(get_lead, phone) is None:
        raise ApiError(404, "not_found", f"phone: no lead with phone {phone}", field="phone")
    result = await desk.submit(LeadChange("patch", changed_by(request), phone, edit))
    if result is None or result.outcome != "ok":
        return _not_applied(result)
    return await _answer(request, phone, result, 200)


async def delete_lead(request: web.Request) -> web.StreamResponse:
    """DELETE /api/leads/{phone}: forget the customer (store.lead_events.forget_lead says what goes)."""
    desk = _desk(request)
    phone = lead_key(request)
    if await request.app[CONTROL].db_call(get_lead, phone) is None:
        raise ApiError(404, "not_found", f"phone: no lead with phone {phone}", field="phone")
    result = await desk.submit(LeadChange("delete", changed_by(request), phone))
    if result is None or result.outcome != "ok":
        return _not_applied(result)
    return web.Response(status=204)


async def read_csv_body(request: web.Request) -> bytes:
    """The request body up to MAX_IMPORT_BYTES (a bigger one: 413 naming the limit), within the
    upload deadlines (bridge.http.uploads)."""
    limit = MAX_IMPORT_BYTES
    too_large = ApiError(413, "too_large", f"(body): the file is larger than {limit:,} bytes "
                         f"({limit // (1024 * 1024)} MiB), the most one import takes: split it", field="(body)")
    return await read_upload(request, limit=limit, too_large=too_large)


async def import_leads(request: web.Request) -> web.StreamResponse:
    """POST /api/leads/import (text/csv) [?rules=false] [?dry_run=true]:
    {"created", "updated", "unchanged"}; any bad row → 400 naming every one, nothing imported."""
    desk = _desk(request)
    rules = _flag(request, "rules", True)
    dry_run = _flag(request, "dry_run", False)
    ctype = request.content_type
    if ctype not in ("text/csv", "application/csv", "text/plain", "application/octet-stream"):
        raise ApiError(415, "unsupported_media_type", f"(body): send the CSV file as text/csv, not {ctype}",
                       field="(body)")
    raw = await read_csv_body(request)
    try:
        plan = read_lead_csv(raw, desk.statuses)
    except ImportRefused as exc:  # every reason, in English and (message_text) in the page's words
        raise ApiError(400, "bad_request", str(exc), field=exc.field or "(body)",
                       message_text="; ".join(exc.said(wording(request)))) from None
    summary: dict[str, Any] = {"rows": len(plan.rows), "columns": plan.columns, "ignored_columns": list(plan.ignored)}
    if dry_run:
        counts = await request.app[CONTROL].db_call(import_counts, plan.rows, desk.clock(), desk.statuses)
        return json_response({**counts, **summary, "dry_run": True, "preview": list(plan.preview)})
    result = await desk.submit(LeadChange("import", "import", rows=plan.rows, rules=rules))
    if result is None or result.outcome != "ok":
        return _not_applied(result)
    return json_response({"created": result.created, "updated": result.updated, "unchanged": result.unchanged,
                          **summary, "rules_fired": result.fired, "event_id": result.event_id})


def add_routes(app: web.Application) -> None:
    """Register the lead-changing routes (reads live in dashboard/leads.py)."""
    router = app.router
    router.add_post("/api/leads", create_lead)
    router.add_post("/api/leads/import", import_leads)
    router.add_patch("/api/leads/{phone}", patch_lead)
    router.add_delete("/api/leads/{phone}", delete_lead)
