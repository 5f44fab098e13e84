"""A lead's "Import chat history": a WhatsApp export of this customer, previewed, then imported.

`POST /api/leads/{phone}/import-chat` takes the `.txt` or `.zip` as the request body (the page
sends the chosen file as is) with `?dry_run=1` for the preview; the same call without it
imports. Query: `number` (the admin number; needed with several), `me` (repeatable: the
business's author names), `date_order` (dmy|mdy|ymd), `run_rules=1`. The customer is the
lead. Parsing runs on a worker thread (a 20 MB export must not stall the event loop) and
the messages are stored in chunks through the daemon's processor, like the history sync.

Limits: a body of at most 25 MB (413 beyond; a "Without media" export is far smaller), then
the export limits of bridge.history.export_files and engine.chat_export (400 naming them).
"""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

from aiohttp import web

from bridge.history.export_files import decode_export
from bridge.history.importer import Preview, preview
from bridge.http.auth import CONTROL
from bridge.http.dashboard.views import valid_phone
from bridge.http.errors import ApiError, json_response
from bridge.http.uploads import read_upload
from engine.chat_export import DATE_ORDERS, ExportError, parse_export
from engine.chat_import import Sides, author_choices

MAX_UPLOAD_BYTES = 25 * 1024 * 1024


async def _body(request: web.Request) -> bytes:
    """The upload, read with a cap (the app's 256 KiB body limit is for JSON, not files) and
    the upload deadlines (bridge.http.uploads)."""
    body = await read_upload(request, limit=MAX_UPLOAD_BYTES, too_large=ApiError(
        413, "too_large", f"file: more than {MAX_UPLOAD_BYTES:,} bytes (export the chat \"Without media\")",
        field="file"))
    if not body:
        raise ApiError(400, "bad_request", "file: empty; send the exported .txt or .zip as the body", field="file")
    return body


def _admin(request: web.Request, detail: dict[str, Any]) -> str:
    """`number`, or the only admin number, or the one the lead last wrote to."""
    numbers = [view.number for view in request.app[CONTROL].sessions()]
    number = request.query.get("number", "").strip()
    if number:
        if number not in numbers:
            raise ApiError(400, "bad_request", f"number: {number!r} is not one of {', '.join(numbers)}",
                           field="number")
        return number
    if len(numbers) == 1:
        return numbers[0]
    sessions = [m.get("session") for m in detail.get("messages", []) if m.get("session") in numbers]
    if sessions:
        return str(sessions[0])
    raise ApiError(400, "bad_request", "number: which admin number had this chat? "
                   f"one of {', '.join(numbers) or '(none configured)'}", field="number")


def _check(text: str, sides: Sides, tz: object, date_order: str | None) -> Preview | list[str]:
    """The preview, or the authors to choose the business side from when that is all that is missing."""
    try:
        return preview(text, sides, tz=tz, date_order=date_order)  # type: ignore[arg-type]
    except ExportError as exc:
        if "which author is the business" not in str(exc):
            raise
        return list(author_choices(parse_export(text, date_order=date_order), sides))


async def import_chat(request: web.Request) -> web.StreamResponse:
    """POST /api/leads/{phone}/import-chat[?dry_run=1]: preview or import a chat export for this lead."""
    phone = valid_phone(request.match_info["phone"])
    control = request.app[CONTROL]
    detail = await control.lead_detail(phone)
    if detail is None:
        raise ApiError(404, "not_found", f"phone: no lead with phone {phone}", field="phone")
    date_order = request.query.get("date_order") or None
    if date_order is not None and date_order not in DATE_ORDERS:
        raise ApiError(400, "bad_request", f"date_order: one of {', '.join(DATE_ORDERS)}", field="date_order")
    sides = Sides(_admin(request, detail), tuple(n.strip() for n in request.query.getall("me", []) if n.strip()), phone)
    data = await _body(request)
    filename = request.query.get("filename", "export.txt")
    tz = getattr(getattr(control, "workspace", None), "tz", None) or UTC
    try:
        text = await asyncio.to_thread(decode_export, data, filename)
        found = await asyncio.to_thread(_check, text, sides, tz, date_order)
    except ExportError as exc:
        raise ApiError(400, "bad_export", str(exc), field="file") from None
    if isinstance(found, list):
        return json_response({"error": {"code": "choose_business_author", "field": "me",
                                        "message": "which author is the business? choose one"},
                              "authors": found}, status=400)
    if request.query.get("dry_run") in ("1", "true"):
        return json_response({"dry_run": True, **found.to_dict()})
    done = await control.import_history(found.plan.messages, run_rules=request.query.get("run_rules") in ("1", "true"))
    return json_response({**found.to_dict(), **done.to_dict()})


def add_routes(app: web.Application) -> None:
    """Register the lead page's chat import."""
    app.router.add_post("/api/leads/{phone}/import-chat", import_chat)
