"""Outbox routes: list, retry one, retry every dead letter, purge (all token-protected).

The daemon's OutboxService answers them (the FakeControl's fake in tests); handlers only
validate input and map the store's refusals to the JSON error shape.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

from aiohttp import web

from bridge.daemon.sessions import NotAvailableError
from bridge.errors import ConfigError
from bridge.http.auth import CONTROL
from bridge.http.errors import ApiError, json_response, read_json_object
from bridge.http.params import path_id, query_int
from bridge.outbox.settings import duration
from store.errors import NotFoundError
from store.outbox import OUTBOX_KINDS, OUTBOX_STATES

MAX_LIMIT = 1000
PURGEABLE = ("delivered", "dead")


class OutboxControl(Protocol):
    """What these routes ask of the daemon (bridge.outbox.service.OutboxService)."""

    async def list_entries(self, state: str | None, kind: str | None, limit: int) -> list[dict[str, Any]]: ...

    async def retry(self, entry_id: int) -> dict[str, Any]: ...

    async def retry_dead(self) -> int: ...

    async def purge(self, older_than: float, states: Collection[str]) -> int: ...


def _outbox(request: web.Request) -> OutboxControl:
    outbox = getattr(request.app[CONTROL], "outbox", None)
    if outbox is None:
        raise NotAvailableError("this server has no outbox")
    return outbox  # type: ignore[no-any-return]


def _choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query.get(name)
    if value in (None, ""):
        return None
    if value not in allowed:
        raise ApiError(400, "bad_request", f"{name}: {value!r} is not one of {', '.join(allowed)}", field=name)
    return value


async def list_outbox(request: web.Request) -> web.StreamResponse:
    """GET /api/outbox?state=dead&kind=webhook&limit=100: newest first, secrets never included."""
    unknown = sorted(set(request.query) - {"state", "kind", "limit"})
    if unknown:
        raise ApiError(400, "bad_request", f"{unknown[0]}: not an outbox filter (known: kind, limit, state)",
                       field=unknown[0])
    limit = query_int(request, "limit", 100, 1, MAX_LIMIT)
    entries = await _outbox(request).list_entries(_choice(request, "state", OUTBOX_STATES),
                                                  _choice(request, "kind", OUTBOX_KINDS), limit)
    return json_response(entries)


async def retry_one(request: web.Request) -> web.StreamResponse:
    """POST /api/outbox/{id}/retry: send it again now (fresh attempts and give-up window)."""
    entry_id = path_id(request, "id")
    try:
        entry = await _outbox(request).retry(entry_id)
    except NotFoundError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except ValueError as exc:
        raise ApiError(409, "not_available", str(exc)) from None
    return json_response(entry)


async def retry_dead(request: web.Request) -> web.StreamResponse:
    """POST /api/outbox/retry-dead → {"retried": n}"""
    return json_response({"retried": await _outbox(request).retry_dead()})


async def purge(request: web.Request) -> web.StreamResponse:
    """POST /api/outbox/purge {"older_than": "7d", "states": ["delivered", "dead"]} → {"purged": n}"""
    body = await read_json_object(request, required=True)
    unknown = sorted(set(body) - {"older_than", "states"})
    if unknown:
        raise ApiError(400, "bad_request", f"{unknown[0]}: not a purge option (known: older_than, states)",
                       field=unknown[0])
    if "older_than" not in body:
        raise ApiError(400, "bad_request", 'older_than: required, e.g. "7d"', field="older_than")
    try:
        seconds = duration(body["older_than"], "older_than")
    except ConfigError as exc:
        raise ApiError(400, "bad_request", f"older_than: expected {exc.expected}", field="older_than") from None
    states = body.get("states", list(PURGEABLE))
    if not isinstance(states, list) or not states or any(s not in PURGEABLE for s in states):
        raise ApiError(400, "bad_request", "states: a non-empty list of delivered, dead (waiting entries are "
                       "never purged)", field="states")
    return json_response({"purged": await _outbox(request).purge(seconds, states)})


def add_routes(app: web.Application) -> None:
    """Register the outbox routes."""
    router = app.router
    router.add_get("/api/outbox", list_outbox)
    router.add_post(r"/api/outbox/{id:\d+}/retry", retry_one)
    router.add_post("/api/outbox/retry-dead", retry_dead)
    router.add_post("/api/outbox/purge", purge)
