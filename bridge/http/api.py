"""JSON API (sessions, leads), simulator control, and the health/readiness/metrics probes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bridge.http.auth import CONTROL, open_route
from bridge.http.errors import ApiError, json_response, read_json_object
from bridge.http.language import session_json, wording
from bridge.http.params import query_int
from bridge.protocol import HISTORY_SYNC_TYPES
from engine.model import MessageFormatError
from store.leads import FILTERS as LEAD_FILTERS

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
PAGING_PARAMS = ("limit", "offset")


def _number(request: web.Request) -> str:
    return request.match_info["number"]


async def list_sessions(request: web.Request) -> web.StreamResponse:
    """GET /api/sessions: every configured number, in config order."""
    return json_response([session_json(view, wording(request)) for view in request.app[CONTROL].sessions()])


async def get_session(request: web.Request) -> web.StreamResponse:
    """GET /api/sessions/{number}"""
    return json_response(session_json(request.app[CONTROL].session(_number(request)), wording(request)))


async def logout_session(request: web.Request) -> web.StreamResponse:
    """POST /api/sessions/{number}/logout: unlink the device."""
    control = request.app[CONTROL]
    await control.logout(_number(request))
    return json_response(session_json(control.session(_number(request)), wording(request)))


async def restart_session(request: web.Request) -> web.StreamResponse:
    """POST /api/sessions/{number}/restart: restart the worker (new QR round when unpaired)."""
    control = request.app[CONTROL]
    await control.restart(_number(request))
    return json_response(session_json(control.session(_number(request)), wording(request)))


async def reload_rules(request: web.Request) -> web.StreamResponse:
    """POST /api/rules/reload: pick up rules changed in the database; sessions stay connected."""
    return json_response(await request.app[CONTROL].reload_rules())


async def pair_code(request: web.Request) -> web.StreamResponse:
    """POST /api/sessions/{number}/pair-code → {"code": "ABCD-EFGH"}"""
    code = await request.app[CONTROL].request_pair_code(_number(request))
    return json_response({"code": code}, headers={"Cache-Control": "no-store"})


async def list_leads(request: web.Request) -> web.StreamResponse:
    """GET /api/leads?status=hot&limit=100&offset=0: leads in the export format."""
    limit = query_int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = query_int(request, "offset", 0, 0)
    filters: dict[str, str] = {}
    for name in request.query:
        if name in PAGING_PARAMS:
            continue
        if name not in LEAD_FILTERS:
            known = ", ".join(sorted(LEAD_FILTERS))
            raise ApiError(400, "bad_request", f"{name}: not a lead filter (known: {known})",
                           field=name)
        values = request.query.getall(name)
        if len(values) > 1:
            raise ApiError(400, "bad_request", f"{name}: give this filter once", field=name)
        filters[name] = values[0]
    try:
        leads = await request.app[CONTROL].list_leads(filters, limit, offset)
    except ValueError as exc:
        # The store names the filter first ("updated_since: not a date"); pass it on.
        named = str(exc).split(":", 1)[0].strip()
        field = named if named in LEAD_FILTERS or named in PAGING_PARAMS else None
        raise ApiError(400, "bad_request", str(exc), field=field) from None
    return json_response(leads)


async def sim_scan(request: web.Request) -> web.StreamResponse:
    """POST /sim/{number}/scan {"as": "<phone>"}: pair, optionally as another phone."""
    body = await read_json_object(request, required=False)
    as_phone = body.get("as")
    if as_phone is not None and (not isinstance(as_phone, str) or not as_phone.isdigit()):
        raise ApiError(400, "bad_request", "as: must be a phone number in digits, e.g. "
                       "\"6281200000002\"", field="as")
    control = request.app[CONTROL]
    await control.sim_scan(_number(request), as_phone)
    return json_response(session_json(control.session(_number(request)), wording(request)))


async def sim_message(request: web.Request) -> web.StreamResponse:
    """POST /sim/{number}/messages: inject one message (missing fields get defaults)."""
    body = await read_json_object(request, required=True)
    try:
        result = await request.app[CONTROL].sim_inject(_number(request), body)
    except MessageFormatError:
        raise  # the error middleware answers 400 naming its field
    except ValueError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    return json_response(result, status=201)


SIM_HISTORY_MAX = 500  # messages per simulated history chunk
SIM_BACKLOG_MAX = 500  # messages per simulated offline backlog request


def _message_list(body: Mapping[str, Any], most: int) -> list[dict[str, Any]]:
    """A simulator body's `messages`: 1 to `most` message objects, or a 400 naming the field."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or len(messages) > most \
            or not all(isinstance(m, dict) for m in messages):
        raise ApiError(400, "bad_request", f"messages: a list of 1 to {most} message objects", field="messages")
    return messages


async def sim_backlog(request: web.Request) -> web.StreamResponse:
    """POST /sim/{number}/backlog {"messages": [...]}: messages delivered at once, as after a reconnect."""
    body = await read_json_object(request, required=True)
    messages = _message_list(body, SIM_BACKLOG_MAX)
    try:
        count = await request.app[CONTROL].sim_backlog(_number(request), messages)
    except MessageFormatError:
        raise  # the error middleware answers 400 naming its field
    return json_response({"accepted": count}, status=202)


async def sim_history(request: web.Request) -> web.StreamResponse:
    """POST /sim/{number}/history {"messages": [...], "sync_type": "..."}: a history sync chunk."""
    body = await read_json_object(request, required=True)
    messages = _message_list(body, SIM_HISTORY_MAX)
    sync_type = body.get("sync_type", "initial_bootstrap")
    if sync_type not in HISTORY_SYNC_TYPES.values():
        raise ApiError(400, "bad_request", f"sync_type: one of {', '.join(HISTORY_SYNC_TYPES.values())}",
                       field="sync_type")
    try:
        count = await request.app[CONTROL].sim_history(_number(request), messages, sync_type)
    except MessageFormatError:
        raise  # the error middleware answers 400 naming its field
    return json_response({"accepted": count}, status=202)


async def sim_crash(request: web.Request) -> web.StreamResponse:
    """POST /sim/{number}/crash: make the simulated worker exit abnormally."""
    await request.app[CONTROL].sim_crash(_number(request))
    return json_response({"ok": True}, status=202)


async def sim_received(request: web.Request) -> web.StreamResponse:
    """GET /sim/{number}/received?to=PHONE: what the simulated customers' phones received."""
    to = request.query.get("to")
    messages = await request.app[CONTROL].sim_received(_number(request))
    if to:
        digits = "".join(ch for ch in to if ch.isdigit())
        messages = [m for m in messages if str(m.get("to", "")).split("@", 1)[0] == digits]
    return json_response(messages)


@open_route
async def healthz(request: web.Request) -> web.StreamResponse:
    """GET /healthz: the process is up (open, says nothing else)."""
    return json_response({"ok": True})


async def readyz(request: web.Request) -> web.StreamResponse:
    """GET /readyz: 200 when the store is writable and workers are alive, else 503."""
    readiness = request.app[CONTROL].readiness()
    return json_response(readiness, status=200 if readiness.get("ready") else 503)


async def metrics(request: web.Request) -> web.StreamResponse:
    """GET /metrics: Prometheus text exposition."""
    return web.Response(body=await request.app[CONTROL].metrics(),
                        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def add_routes(app: web.Application, *, simulate: bool) -> None:
    """Register the API and probes; the simulator routes only exist in simulate mode."""
    router = app.router
    router.add_get("/api/sessions", list_sessions)
    router.add_get("/api/sessions/{number}", get_session)
    router.add_post("/api/sessions/{number}/logout", logout_session)
    router.add_post("/api/sessions/{number}/restart", restart_session)
    router.add_post("/api/sessions/{number}/pair-code", pair_code)
    router.add_get("/api/leads", list_leads)
    router.add_post("/api/rules/reload", reload_rules)
    router.add_get("/healthz", healthz)
    router.add_get("/readyz", readyz)
    router.add_get("/metrics", metrics)
    if simulate:
        router.add_post("/sim/{number}/scan", sim_scan)
        router.add_post("/sim/{number}/messages", sim_message)
        router.add_post("/sim/{number}/history", sim_history)
        router.add_post("/sim/{number}/backlog", sim_backlog)
        router.add_post("/sim/{number}/crash", sim_crash)
        router.add_get("/sim/{number}/received", sim_received)
