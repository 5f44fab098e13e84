"""The HTTP server: pairing pages, JSON API, simulator control and probes (aiohttp).

`create_app` only builds the application; the daemon runs it (AppRunner/TCPSite on the
configured listen address, 127.0.0.1 by default) and cleans it up on SIGTERM, which
ends open event streams through the app's on_shutdown hook.
"""

from __future__ import annotations

import asyncio
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

from bridge.daemon.sessions import SessionControl
from bridge.http import (
    api,
    auth,
    events,
    language,
    leads_api,
    messages_api,
    outbox_api,
    pairing,
    public,
    subscriptions_api,
)
from bridge.http.auth import AUTH, CLOSING, CONTROL, PAGES, TEMPLATES, WORKSPACE, Auth
from bridge.http.dashboard import activity, chat_import, editor, leads, links, numbers, rules, suggest, webhooks
from bridge.http.errors import errors_middleware
from bridge.http.server import body_timeout_middleware
from bridge.http.uploads import BODY_TIMEOUT
from bridge.i18n import DEFAULT_LANGUAGE, LANGUAGES

__all__ = ["create_app"]

MAX_BODY_BYTES = 256 * 1024  # one message or a login form; nothing bigger is expected

# Pages load only our own CSS/JS and images, and may not be framed (clickjacking the
# "restart pairing" button would be a nuisance; framing the QR would be worse).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if headers.get("Content-Type", "").startswith("text/html"):
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if request.path.startswith("/static/"):
        headers["Cache-Control"] = "no-cache"  # revalidate so an upgrade's page JS is used


async def _end_streams(app: web.Application) -> None:
    # Event streams would otherwise keep the server's graceful shutdown waiting.
    app[CLOSING].set()


def _workspace_zone(control: SessionControl) -> ZoneInfo:
    zone = getattr(getattr(control, "workspace", None), "tz", None)
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo("Asia/Jakarta")  # the config's default


def create_app(control: SessionControl, *, token: str, workspace_name: str,
               page_language: str = DEFAULT_LANGUAGE, state_dir: Path | None = None,
               body_timeout: float = 30.0) -> web.Application:
    """Build the aiohttp application around the daemon's session control; pages default to
    `page_language` (a browser can pick the other one) and show times in the workspace zone.

    `state_dir` (the data dir) keeps logged-out cookies revoked across restarts;
    a request body that takes longer than `body_timeout` seconds is answered 408.
    """
    if page_language not in LANGUAGES:
        raise ValueError(f"page_language: one of {', '.join(LANGUAGES)}")
    app = web.Application(middlewares=[errors_middleware, auth.auth_middleware,
                                       body_timeout_middleware(body_timeout)],
                          client_max_size=MAX_BODY_BYTES)
    app[CONTROL] = control
    app[BODY_TIMEOUT] = body_timeout  # uploads stream past the middleware: bridge.http.uploads
    proxies = getattr(getattr(control, "attribution", None), "proxies", ())
    app[AUTH] = Auth(token, state_dir=state_dir, trusted_proxies=proxies)
    app[WORKSPACE] = workspace_name
    app[CLOSING] = asyncio.Event()
    language.add_routes(app, language=page_language, tz=_workspace_zone(control))  # /language, template sets
    app[TEMPLATES] = app[PAGES][page_language]  # the workspace language's templates
    auth.add_routes(app)
    pairing.add_routes(app)
    api.add_routes(app, simulate=bool(getattr(control, "simulate", False)))
    outbox_api.add_routes(app)  # issue #4: list, retry, retry-dead, purge
    messages_api.add_routes(app)  # issue #17: send a message, its state
    subscriptions_api.add_routes(app)  # issue #17: event webhook subscriptions
    events.add_routes(app)  # issue #5: door pages, QR sheets, event API (control.events)
    # Rotator links and partner webhooks (public, own protections) plus their API (issue #6).
    public.add_routes(app, getattr(control, "attribution", None), getattr(control, "partners", None))
    # The dashboard, one module per screen.
    numbers.add_routes(app)  # Numbers (also /)
    leads.add_routes(app)  # Leads, a lead's page, the leads CSV
    leads_api.add_routes(app)  # issue #13: create, patch, delete, import leads
    chat_import.add_routes(app)  # a lead's Import chat history (issue #16)
    activity.add_routes(app)  # Activity, /api/runs
    rules.add_routes(app)  # Rules and the rules API
    editor.add_routes(app)  # the rule editor and Test a rule
    suggest.add_routes(app)  # AI Suggest (engine.suggest's offline phrase grammar)
    webhooks.add_routes(app)  # Webhooks (event subscriptions: add, test, remove)
    links.add_routes(app)  # Links (rotator links, visitors, attribution, partner hooks)
    app.router.add_static("/static/", Path(str(files("bridge") / "static")), name="static")
    app.on_response_prepare.append(_security_headers)
    app.on_shutdown.append(_end_streams)
    return app
