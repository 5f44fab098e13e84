"""Event pages for the door staff and the event JSON API (all token-protected).

Pages: `/events` (every event), `/events/{event}` (the live door page), `/events/{event}/badges`
(every code as a printable badge or voucher). Images: `/events/{event}/codes/{code}/qr.png|svg`.
Live updates: `/events/{event}/stream` (server-sent events). API under `/api/events`.
The daemon's EventDesk (bridge.attendance) answers; handlers validate and map errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import structlog
from aiohttp import web

from bridge.attendance import EventDesk
from bridge.daemon.sessions import NotAvailableError
from bridge.http.auth import CLOSING, CONTROL, page_route, render
from bridge.http.errors import ApiError, json_response, read_json_object
from bridge.http.pairing import render_png, render_svg
from bridge.http.params import path_id, query_int
from bridge.i18n import N_
from engine.attendance import Result
from engine.event_spec import EventSpecError
from store.errors import NotFoundError
from store.events import AttendeeError

log = structlog.get_logger(__name__)

KEEPALIVE_SECONDS = 25.0
REFRESH_SECONDS = 3.0  # changes from another process (the CLI) show up within this
MIN_GAP_SECONDS = 0.3  # at most ~3 updates a second per page, however busy the door is
DISCONNECT_POLL_SECONDS = 0.5
NO_STORE = {"Cache-Control": "no-store"}
MAX_LIMIT = 1000
MAX_BADGES = 2000


def _desk(request: web.Request) -> EventDesk:
    desk = getattr(request.app[CONTROL], "events", None)
    if desk is None:
        raise NotAvailableError("this server has no event store")
    return desk  # type: ignore[no-any-return]


def _ref(request: web.Request) -> str:
    return request.match_info["event"]


async def _guard(awaitable: Any) -> Any:
    """Await a desk call, turning the store's refusals into JSON errors naming the field."""
    try:
        return await awaitable
    except NotFoundError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except EventSpecError as exc:
        raise ApiError(400, "bad_request", str(exc), field=exc.field) from None
    except AttendeeError as exc:
        raise ApiError(400, "bad_request", str(exc), field=f"attendees[{exc.row - 1}].{exc.field}") from None
    except ValueError as exc:
        named = str(exc).split(":", 1)[0].strip()
        field = named if named.isidentifier() else None
        raise ApiError(400, "bad_request", str(exc), field=field) from None


def _int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    return query_int(request, name, default, low, high)


def _only_params(request: web.Request, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(request.query) - set(allowed))
    if unknown:
        raise ApiError(400, "bad_request", f"{unknown[0]}: not a parameter here (known: {', '.join(allowed)})",
                       field=unknown[0])


# ---------------------------------------------------------------------- JSON API


async def list_events(request: web.Request) -> web.StreamResponse:
    """GET /api/events: every event with its counts."""
    return json_response(await _guard(_desk(request).events()))


async def create_event(request: web.Request) -> web.StreamResponse:
    """POST /api/events {name, number, start, end, mode, uses, slug, prefix, keyword, tag, status, texts}."""
    body = await read_json_object(request, required=True)
    return json_response(await _guard(_desk(request).create(body)), status=201)


async def update_event(request: web.Request) -> web.StreamResponse:
    """PATCH /api/events/{event} {name, start, end}: rename it or move its window (the rest stays)."""
    body = await read_json_object(request, required=True)
    return json_response(await _guard(_desk(request).update(_ref(request), body)))


async def get_event(request: web.Request) -> web.StreamResponse:
    """GET /api/events/{event}: the event, its counts and the latest check-ins."""
    return json_response(await _guard(_desk(request).snapshot(_ref(request))))


async def list_codes(request: web.Request) -> web.StreamResponse:
    """GET /api/events/{event}/codes?q=&limit=&offset=: codes with their use (search: name, phone, code)."""
    _only_params(request, ("q", "limit", "offset"))
    limit = _int_query(request, "limit", 100, 1, MAX_LIMIT)
    offset = _int_query(request, "offset", 0, 0, 10**9)
    return json_response(await _guard(_desk(request).codes(_ref(request), request.query.get("q"), limit, offset)))


async def add_codes(request: web.Request) -> web.StreamResponse:
    """POST /api/events/{event}/codes {"count": N} or {"attendees": [{name, phone, email}, ...]}."""
    body = await read_json_object(request, required=True)
    unknown = sorted(set(body) - {"count", "attendees"})
    if unknown or len(body) != 1:
        field = unknown[0] if unknown else "count"
        raise ApiError(400, "bad_request", f"{field}: give either count or attendees", field=field)
    if "count" in body:
        count = body["count"]
        if isinstance(count, bool) or not isinstance(count, int):
            raise ApiError(400, "bad_request", "count: must be a whole number", field="count")
        rows = await _guard(_desk(request).add_codes(_ref(request), count=count))
    else:
        attendees = body["attendees"]
        if not isinstance(attendees, list) or not all(isinstance(a, dict) for a in attendees):
            raise ApiError(400, "bad_request", "attendees: must be a list of {name, phone, email} objects",
                           field="attendees")
        rows = await _guard(_desk(request).add_codes(_ref(request), attendees=attendees))
    return json_response(rows, status=201)


async def list_checkins(request: web.Request) -> web.StreamResponse:
    """GET /api/events/{event}/checkins?q=&limit=: newest first (undone ones marked)."""
    _only_params(request, ("q", "limit"))
    limit = _int_query(request, "limit", 50, 1, MAX_LIMIT)
    return json_response(await _guard(_desk(request).checkins(_ref(request), request.query.get("q"), limit)))


def _optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, "bad_request", f"{key}: must be a text", field=key)
    return value.strip() or None


async def manual_check_in(request: web.Request) -> web.StreamResponse:
    """POST /api/events/{event}/checkins {"code": "EVT7-K3Q9TZ"} (open events: {"phone", "name"}).

    201 with the check-in; 409 `already_checked_in` naming the earlier time.
    """
    body = await read_json_object(request, required=True)
    unknown = sorted(set(body) - {"code", "phone", "name"})
    if unknown:
        raise ApiError(400, "bad_request", f"{unknown[0]}: not a check-in field (code, phone, name)",
                       field=unknown[0])
    desk = _desk(request)
    result = await _guard(desk.check_in(_ref(request), code=_optional_text(body, "code"),
                                        phone=_optional_text(body, "phone"), name=_optional_text(body, "name")))
    if result.result is Result.ALREADY_USED:
        when = desk.previous_time(result.previous_at)
        raise ApiError(409, "already_checked_in", f"{result.code} was already checked in at {when}")
    log.info("event_manual_checkin", event_ref=_ref(request), checkin=result.checkin["id"])
    return json_response({"result": result.result.value, "checkin": result.checkin}, status=201)


async def undo_check_in(request: web.Request) -> web.StreamResponse:
    """POST /api/events/{event}/checkins/{checkin}/undo"""
    checkin_id = path_id(request, "checkin")
    checkin = await _guard(_desk(request).undo(_ref(request), checkin_id))
    log.info("event_checkin_undone", event_ref=_ref(request), checkin=checkin["id"])
    return json_response(checkin)


async def export_csv(request: web.Request) -> web.StreamResponse:
    """GET /api/events/{event}/export.csv"""
    event, text = await _guard(_desk(request).export_csv(_ref(request)))
    return web.Response(text=text, content_type="text/csv", charset="utf-8", headers={
        **NO_STORE, "Content-Disposition": f'attachment; filename="{event.slug}.csv"'})


async def _qr(request: web.Request, render_fn: Any, content_type: str) -> web.StreamResponse:
    link = await _guard(_desk(request).qr_link(_ref(request), request.match_info["code"]))
    body = await asyncio.to_thread(render_fn, link)  # rendering is CPU work: keep it off the loop
    return web.Response(body=body, content_type=content_type, headers={"Cache-Control": "private, max-age=3600"})


async def qr_png(request: web.Request) -> web.StreamResponse:
    """GET /events/{event}/codes/{code}/qr.png: the code's QR (opens WhatsApp, text pre-filled)."""
    return await _qr(request, render_png, "image/png")


async def qr_svg(request: web.Request) -> web.StreamResponse:
    """GET /events/{event}/codes/{code}/qr.svg"""
    return await _qr(request, render_svg, "image/svg+xml")


# ---------------------------------------------------------------------- live stream


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def stream(request: web.Request) -> web.StreamResponse:
    """GET /events/{event}/stream: a snapshot (counts, latest check-ins) whenever it changes."""
    desk = _desk(request)
    ref = _ref(request)
    first = await _guard(desk.snapshot(ref))  # unknown event: 404 before the stream starts
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    closing = request.app[CLOSING]
    loop = asyncio.get_running_loop()
    sent = json.dumps(first, ensure_ascii=False)
    version = desk.version
    last_write = loop.time()
    try:
        await response.write(f"retry: 3000\ndata: {sent}\n\n".encode())
        while not closing.is_set() and not _client_gone(request):
            waiting = loop.create_task(desk.wait_changed(version, REFRESH_SECONDS))
            while not waiting.done() and not closing.is_set() and not _client_gone(request):
                await asyncio.wait({waiting}, timeout=DISCONNECT_POLL_SECONDS)
            if not waiting.done():
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting
                break
            version = waiting.result()
            await asyncio.sleep(max(0.0, MIN_GAP_SECONDS - (loop.time() - last_write)))
            text = json.dumps(await desk.snapshot(ref), ensure_ascii=False)
            if text != sent:
                sent, last_write = text, loop.time()
                await response.write(f"data: {text}\n\n".encode())
            elif loop.time() - last_write > KEEPALIVE_SECONDS:
                last_write = loop.time()
                await response.write(b": keep-alive\n\n")
    except (ConnectionResetError, NotFoundError):
        pass  # the browser left, or the event was deleted
    except Exception:
        log.exception("event_stream_failed", event_ref=ref)
    return response


# ---------------------------------------------------------------------- pages


async def _page_event(request: web.Request) -> dict[str, Any] | web.Response:
    desk = _desk(request)
    try:
        return await desk.snapshot(_ref(request))
    except NotFoundError:
        return render(request, "events.html", status=404, events=await desk.events(), numbers=desk.numbers,
                      error=N_("There is no event %(event)s."), error_values={"event": repr(_ref(request))})


@page_route
async def events_page(request: web.Request) -> web.StreamResponse:
    """GET /events: every event with its counts and links to its pages."""
    desk = _desk(request)
    return render(request, "events.html", events=await desk.events(), error=None, error_values={},
                  numbers=desk.numbers)


@page_route
async def door_page(request: web.Request) -> web.StreamResponse:
    """GET /events/{event}: the live door page."""
    snapshot = await _page_event(request)
    if isinstance(snapshot, web.Response):
        return snapshot
    return render(request, "event.html", snap=snapshot, event=snapshot["event"])


@page_route
async def badges_page(request: web.Request) -> web.StreamResponse:
    """GET /events/{event}/badges: every code with its QR and name, ready to print."""
    snapshot = await _page_event(request)
    if isinstance(snapshot, web.Response):
        return snapshot
    codes = await _guard(_desk(request).codes(_ref(request), None, MAX_BADGES, 0))
    return render(request, "badges.html", event=snapshot["event"], codes=codes, limited=len(codes) == MAX_BADGES)


def add_routes(app: web.Application) -> None:
    """Register the event pages, images, stream and API."""
    router = app.router
    router.add_get("/events", events_page)
    router.add_get("/events/{event}", door_page)
    router.add_get("/events/{event}/badges", badges_page)
    router.add_get("/events/{event}/stream", stream)
    router.add_get("/events/{event}/codes/{code}/qr.png", qr_png)
    router.add_get("/events/{event}/codes/{code}/qr.svg", qr_svg)
    router.add_get("/api/events", list_events)
    router.add_post("/api/events", create_event)
    router.add_get("/api/events/{event}", get_event)
    router.add_patch("/api/events/{event}", update_event)
    router.add_get("/api/events/{event}/codes", list_codes)
    router.add_post("/api/events/{event}/codes", add_codes)
    router.add_get("/api/events/{event}/checkins", list_checkins)
    router.add_post("/api/events/{event}/checkins", manual_check_in)
    router.add_post("/api/events/{event}/checkins/{checkin}/undo", undo_check_in)
    router.add_get("/api/events/{event}/export.csv", export_csv)
