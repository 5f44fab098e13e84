"""Event webhook subscriptions: list, add, remove, send a test event (token-protected).

The daemon's Subscriptions (bridge.outbox.subscriptions) answers; config.toml's
subscriptions are listed but cannot be removed here (409).
"""

from __future__ import annotations

from aiohttp import web

from bridge.daemon.sessions import NotAvailableError
from bridge.http.auth import CONTROL
from bridge.http.errors import ApiError, json_response, read_json_object
from bridge.outbox.subscriptions import NAME, Subscriptions


def subscriptions_of(request: web.Request) -> Subscriptions:
    """The daemon's subscriptions (409 when this server has none)."""
    found = getattr(request.app[CONTROL], "subscriptions", None)
    if found is None:
        raise NotAvailableError("this server has no webhook subscriptions")
    return found  # type: ignore[no-any-return]


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not NAME.match(name):
        raise ApiError(400, "bad_request", f"name: {name!r} is not a subscription name", field="name")
    return name


async def list_subscriptions(request: web.Request) -> web.StreamResponse:
    """GET /api/subscriptions: every subscription (secrets never shown, only `signed`)."""
    return json_response(subscriptions_of(request).describe())


async def add_subscription(request: web.Request) -> web.StreamResponse:
    """POST /api/subscriptions {name, url, secret?, events, numbers?} → 201."""
    body = await read_json_object(request, required=True)
    try:
        added = await subscriptions_of(request).add(body)
    except ValueError as exc:
        field = str(exc).split(":", 1)[0]
        raise ApiError(400, "bad_request", str(exc), field=field) from None
    return json_response(added.to_dict(), status=201)


async def remove_subscription(request: web.Request) -> web.StreamResponse:
    """DELETE /api/subscriptions/{name}: remove a dashboard subscription."""
    name = _name(request)
    try:
        removed = await subscriptions_of(request).remove(name)
    except PermissionError as exc:
        raise ApiError(409, "read_only", str(exc)) from None
    if not removed:
        raise ApiError(404, "not_found", f"no subscription named {name!r}")
    return json_response({"removed": name})


async def test_subscription(request: web.Request) -> web.StreamResponse:
    """POST /api/subscriptions/{name}/test: queue a webhook.test event to it → 202 {"outbox_id"}."""
    name = _name(request)
    try:
        entry_id = await subscriptions_of(request).test(name)
    except LookupError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    return json_response({"outbox_id": entry_id, "subscription": name}, status=202)


async def deliveries(request: web.Request) -> web.StreamResponse:
    """GET /api/subscriptions/{name}/deliveries: its latest deliveries, newest first."""
    name = _name(request)
    subscriptions = subscriptions_of(request)
    if subscriptions.get(name) is None:
        raise ApiError(404, "not_found", f"no subscription named {name!r}")
    return json_response(await subscriptions.deliveries(name))


def add_routes(app: web.Application) -> None:
    """Register the subscription routes."""
    router = app.router
    router.add_get("/api/subscriptions", list_subscriptions)
    router.add_post("/api/subscriptions", add_subscription)
    router.add_delete("/api/subscriptions/{name}", remove_subscription)
    router.add_post("/api/subscriptions/{name}/test", test_subscription)
    router.add_get("/api/subscriptions/{name}/deliveries", deliveries)
