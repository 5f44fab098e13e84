"""Sending messages: POST /api/messages and GET /api/messages/{id} (token-protected).

The daemon's OutgoingMessages (bridge.outbox.messages) checks and queues; the outbox
delivers with the reply pacing. 202 means queued, not sent: poll GET for sent / failed.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bridge.daemon.sessions import NotAvailableError
from bridge.http.auth import CONTROL
from bridge.http.errors import ApiError, json_response, read_json_object
from bridge.outbox.messages import OutgoingMessages, SendRefused

IDEMPOTENCY_HEADER = "Idempotency-Key"
ORIGIN_HEADER = "X-Wabridge-Origin"


def _messages(request: web.Request) -> OutgoingMessages:
    messages = getattr(request.app[CONTROL], "messages", None)
    if messages is None:
        raise NotAvailableError("this server cannot send messages")
    return messages  # type: ignore[no-any-return]


async def send_message(request: web.Request) -> web.StreamResponse:
    """POST /api/messages {"to", "text", "number"?, "reply_to"?} (+ Idempotency-Key) → 202."""
    body = await read_json_object(request, required=True)
    # `wabridge send` and the lead page say so (shown on the lead page); anything else is the API.
    origin = request.headers.get(ORIGIN_HEADER, "api")
    origin = origin if origin in ("cli", "dashboard") else "api"
    return await queue(request, body, origin=origin)


async def queue(request: web.Request, body: dict[str, Any], *, origin: str) -> web.StreamResponse:
    """Queue through the daemon; SendRefused becomes the JSON error naming the field."""
    try:
        status, replayed = await _messages(request).send(body, key=request.headers.get(IDEMPOTENCY_HEADER),
                                                         origin=origin)
    except SendRefused as exc:
        raise ApiError(exc.status, exc.code, exc.message, field=exc.field) from None
    headers = {"Location": f"/api/messages/{status['id']}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(status, status=202, headers=headers)


async def get_message(request: web.Request) -> web.StreamResponse:
    """GET /api/messages/{id}: queued / sent (whatsapp_id) / failed (reason)."""
    entry_id = int(request.match_info["id"])
    found = await _messages(request).status(entry_id) if entry_id < 2**63 else None
    if found is None:
        raise ApiError(404, "not_found", f"no message {entry_id}")
    return json_response(found)


def add_routes(app: web.Application) -> None:
    """Register the sending routes."""
    app.router.add_post("/api/messages", send_message)
    app.router.add_get(r"/api/messages/{id:\d{1,19}}", get_message)
