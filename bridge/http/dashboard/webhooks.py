"""The Webhooks screen: event subscriptions (add, send a test event, remove) and their
latest deliveries. config.toml's subscriptions are shown read-only; the ones added here
are kept in SQLite (bridge.outbox.subscriptions)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bridge.http.auth import CONTROL, page_route
from bridge.http.dashboard.views import page
from store.subscriptions import EVENT_TYPES


@page_route
async def webhooks_page(request: web.Request) -> web.StreamResponse:
    """GET /webhooks: every subscription, a form to add one, their latest deliveries."""
    subscriptions = getattr(request.app[CONTROL], "subscriptions", None)
    rows: list[dict[str, Any]] | None = None
    if subscriptions is not None:
        rows = []
        for item in subscriptions.describe():
            rows.append({**item, "deliveries": await subscriptions.deliveries(item["name"], 5)})
    numbers = [view.number for view in request.app[CONTROL].sessions()]
    return page(request, "dash_webhooks.html", "webhooks", subscriptions=rows, event_types=EVENT_TYPES,
                numbers=numbers)


def add_routes(app: web.Application) -> None:
    """Register the Webhooks screen."""
    app.router.add_get("/webhooks", webhooks_page)
