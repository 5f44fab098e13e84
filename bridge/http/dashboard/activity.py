"""The Activity screen: recent rule runs and errors, unreadable messages, outbox deliveries with
retry; /api/runs and /api/inbox."""

from __future__ import annotations

from aiohttp import web

from bridge.http.api import MAX_LIMIT
from bridge.http.auth import CONTROL, page_route
from bridge.http.dashboard.views import page
from bridge.http.errors import ApiError, json_response
from bridge.http.params import query_int
from bridge.i18n import N_

ACTIVITY_PARAMS = ("limit", "errors")
INBOX_PARAMS = ("limit", "state")
INBOX_STATES = ("pending", "done", "error")
# Outbox states and kinds (store.outbox) in words (msgids).
OUTBOX_WORDS = {"pending": N_("waiting"), "delivered": N_("delivered"), "failed": N_("failed, retrying"),
                "dead": N_("gave up"), "webhook": N_("webhook"), "reply": N_("reply"), "conversion": N_("conversion")}


@page_route
async def activity_page(request: web.Request) -> web.StreamResponse:
    """GET /activity: recent rule runs and errors; outbox deliveries with retry."""
    control = request.app[CONTROL]
    runs = await control.recent_runs(50, False)
    errors = await control.recent_runs(20, True)
    unreadable = await control.inbox("error", 50)
    outbox = getattr(control, "outbox", None)
    entries = await outbox.list_entries(None, None, 50) if outbox is not None else None
    return page(request, "dash_activity.html", "activity", runs=runs, errors=errors, entries=entries,
                unreadable=unreadable, outbox_words=OUTBOX_WORDS)


async def list_runs(request: web.Request) -> web.StreamResponse:
    """GET /api/runs?limit=50&errors=true: the newest rule runs (or only the failed ones)."""
    unknown = sorted(set(request.query) - set(ACTIVITY_PARAMS))
    if unknown:
        raise ApiError(400, "bad_request", f"{unknown[0]}: not a parameter (known: errors, limit)",
                       field=unknown[0])
    limit = query_int(request, "limit", 50, 1, MAX_LIMIT)
    errors = request.query.get("errors", "false").lower()
    if errors not in ("true", "false", "1", "0"):
        raise ApiError(400, "bad_request", f"errors: must be true or false, not {errors!r}", field="errors")
    return json_response(await request.app[CONTROL].recent_runs(limit, errors in ("true", "1")))


async def list_inbox(request: web.Request) -> web.StreamResponse:
    """GET /api/inbox?state=error&limit=50: the newest inbox rows of a state (error: unreadable, with the reason)."""
    unknown = sorted(set(request.query) - set(INBOX_PARAMS))
    if unknown:
        raise ApiError(400, "bad_request", f"{unknown[0]}: not a parameter (known: limit, state)", field=unknown[0])
    state = request.query.get("state", "error")
    if state not in INBOX_STATES:
        raise ApiError(400, "bad_request", f"state: must be one of {', '.join(INBOX_STATES)}, not {state!r}",
                       field="state")
    limit = query_int(request, "limit", 50, 1, MAX_LIMIT)
    return json_response(await request.app[CONTROL].inbox(state, limit))


def add_routes(app: web.Application) -> None:
    """Register the Activity screen and its read API."""
    app.router.add_get("/activity", activity_page)
    app.router.add_get("/api/runs", list_runs)
    app.router.add_get("/api/inbox", list_inbox)
