"""API-token auth for every route: bearer header for scripts, a login cookie for pages.

The cookie never holds the token: it is `v1.<issued>.<nonce>.<hmac>` signed with a key
derived from the token, so changing the token logs every browser out. Logging out revokes
the cookie in a file in the data dir, so a restart does not bring it back. State-changing
requests that ride on the cookie must prove they come from our own pages (CSRF). Wrong
tokens, at the login form or as a bearer header, count against the client address
(through `[attribution] trusted_proxies`); ten in five minutes and it waits.
Header, cookie and form bytes that are not UTF-8 are simply wrong credentials (401/400).
This module also holds the app keys the other HTTP modules share.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import os
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import jinja2
import structlog
from aiohttp import web

from bridge.attribution.rotator import client_address
from bridge.daemon.sessions import SessionControl
from bridge.http.errors import Handler, error_response
from bridge.i18n import COOKIE as LANGUAGE_COOKIE
from bridge.i18n import LANGUAGES, N_

log = structlog.get_logger(__name__)

CONTROL: web.AppKey[SessionControl] = web.AppKey("control", SessionControl)
TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("templates", jinja2.Environment)
WORKSPACE: web.AppKey[str] = web.AppKey("workspace", str)
CLOSING: web.AppKey[asyncio.Event] = web.AppKey("closing", asyncio.Event)
LANGUAGE: web.AppKey[str] = web.AppKey("language", str)  # the workspace's default page language
ZONE: web.AppKey[ZoneInfo] = web.AppKey("zone", ZoneInfo)  # the workspace time zone
PAGES: web.AppKey[dict[str, jinja2.Environment]] = web.AppKey("pages", dict)  # template sets by language
AUTHENTICATED_BY: web.RequestKey[str] = web.RequestKey("authenticated_by", str)

COOKIE_NAME = "wabridge_session"
COOKIE_MAX_AGE = 30 * 24 * 3600  # a shop owner should not log in every day
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_FAILURES_ALLOWED = 10  # per client address per window
LOGIN_FAILURE_WINDOW = 300.0
REVOKED_FILE = "http-revoked-sessions"  # in the data dir: `<signature> <expires>` per line

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

Access = Literal["open", "page", "api"]
_ACCESS_ATTR = "_wabridge_access"


def open_route(handler: Handler) -> Handler:
    """Mark a handler as reachable without the token."""
    setattr(handler, _ACCESS_ATTR, "open")
    return handler


def page_route(handler: Handler) -> Handler:
    """Mark a handler as a browser page: without auth it redirects to /login."""
    setattr(handler, _ACCESS_ATTR, "page")
    return handler


_PROTECTION_ATTR = "_wabridge_protection"


def public_route(protection: str) -> Callable[[Handler], Handler]:
    """Mark a handler as open to the public (customers' clicks, partners' webhooks) and name what
    protects it instead of the token (e.g. "rate_limit", "signature"), so no route is open by accident."""
    if not protection.strip():
        raise ValueError("a public route must name its own protection")

    def mark(handler: Handler) -> Handler:
        setattr(handler, _ACCESS_ATTR, "open")
        setattr(handler, _PROTECTION_ATTR, protection)
        return handler

    return mark


def route_protection(handler: object) -> str | None:
    """The protection a public route declared (None for token-protected and plain open routes)."""
    value = getattr(handler, _PROTECTION_ATTR, None)
    return value if isinstance(value, str) else None


def route_access(request: web.Request) -> Access:
    """How a request's route is protected; unmatched paths count as API (401, not 404)."""
    route = request.match_info.route
    if isinstance(route.resource, web.StaticResource):
        return "open"  # CSS/JS of the login page; no secrets live in bridge/static
    access = getattr(getattr(route, "handler", None), _ACCESS_ATTR, "api")
    if access == "open":
        return "open"
    return "page" if access == "page" else "api"


def _utf8(text: str) -> bytes:
    # aiohttp keeps undecodable header bytes as surrogates; they compare as the bytes they were.
    return text.encode("utf-8", "surrogateescape")


class Auth:
    """Checks bearer tokens and login cookies; throttles wrong tokens per client address."""

    def __init__(self, token: str, *, state_dir: Path | None = None,
                 trusted_proxies: Sequence[Network] = ()) -> None:
        if not token or not token.strip():
            raise ValueError("token: the API token must not be empty")
        self._token = token.encode("utf-8")
        self._key = hmac.new(self._token, b"wabridge login cookie v1", hashlib.sha256).digest()
        self._revoked_path = state_dir / REVOKED_FILE if state_dir is not None else None
        self._revoked: dict[str, float] = self._read_revoked()  # signature -> when it expires anyway
        self._failures: dict[str, deque[float]] = {}
        self.trusted_proxies = tuple(trusted_proxies)

    def client(self, request: web.Request) -> str:
        """The caller's address: the peer, or the client a trusted proxy names."""
        return client_address(request.remote, request.headers.get("X-Forwarded-For"), self.trusted_proxies)

    def token_ok(self, candidate: str) -> bool:
        """Constant-time comparison with the API token."""
        return hmac.compare_digest(self._token, _utf8(candidate))

    def bearer_ok(self, header: str) -> bool:
        """True for `Bearer <token>`."""
        scheme, _, value = header.strip().partition(" ")
        return scheme.lower() == "bearer" and self.token_ok(value.strip())

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).hexdigest()

    def new_cookie(self, now: float | None = None) -> str:
        """A fresh signed session value."""
        issued = int(now if now is not None else time.time())
        payload = f"v1.{issued}.{secrets.token_urlsafe(12)}"
        return f"{payload}.{self._sign(payload)}"

    def cookie_ok(self, value: str, now: float | None = None) -> bool:
        """True for an unexpired, unrevoked value this server signed."""
        if not value.isascii():
            return False  # never one of ours (and undecodable bytes arrive as surrogates)
        payload, _, sig = value.rpartition(".")
        parts = payload.split(".")
        if len(parts) != 3 or parts[0] != "v1" or not parts[1].isdigit():
            return False
        if not hmac.compare_digest(self._sign(payload).encode(), sig.encode("ascii", "replace")):
            return False
        age = (now if now is not None else time.time()) - int(parts[1])
        return -300 <= age <= COOKIE_MAX_AGE and sig not in self._revoked

    def revoke(self, value: str) -> None:
        """Forget one cookie value (logout) until it would expire anyway, across restarts."""
        now = time.time()
        self._revoked = {s: exp for s, exp in self._revoked.items() if exp > now}
        payload, _, sig = value.rpartition(".")
        if sig and self.cookie_ok(value):
            self._revoked[sig] = int(payload.split(".")[1]) + COOKIE_MAX_AGE
            self._write_revoked()

    def _read_revoked(self) -> dict[str, float]:
        if self._revoked_path is None:
            return {}
        try:
            lines = self._revoked_path.read_text(encoding="ascii", errors="replace").splitlines()
        except FileNotFoundError:
            return {}
        now = time.time()
        revoked: dict[str, float] = {}
        for line in lines:
            sig, _, expires = line.partition(" ")
            with contextlib.suppress(ValueError):
                if float(expires) > now:
                    revoked[sig] = float(expires)
        return revoked

    def _write_revoked(self) -> None:
        if self._revoked_path is None:
            return
        text = "".join(f"{sig} {int(exp)}\n" for sig, exp in self._revoked.items())
        temp = self._revoked_path.with_name(self._revoked_path.name + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self._revoked_path)

    def identify(self, request: web.Request) -> Literal["bearer", "cookie"] | None:
        """Who is calling: a valid bearer header, else a valid cookie, else nobody."""
        header = request.headers.get("Authorization")
        if header is not None:
            # A wrong bearer is refused even with a good cookie: scripts must learn it is wrong.
            return "bearer" if self.bearer_ok(header) else None
        cookie = request.cookies.get(COOKIE_NAME)
        return "cookie" if cookie and self.cookie_ok(cookie) else None

    def login_blocked(self, client: str) -> bool:
        """Too many wrong tokens (login form or bearer header) from this address lately."""
        now = time.monotonic()
        recent = self._failures.get(client)
        while recent and recent[0] < now - LOGIN_FAILURE_WINDOW:
            recent.popleft()
        return recent is not None and len(recent) >= LOGIN_FAILURES_ALLOWED

    def login_failed(self, client: str) -> None:
        """Count one wrong token."""
        if len(self._failures) > 10_000:
            self._failures.clear()  # bounded memory beats perfect throttling under a flood
        self._failures.setdefault(client, deque()).append(time.monotonic())


AUTH: web.AppKey[Auth] = web.AppKey("auth", Auth)


def request_origin(request: web.Request) -> str | None:
    """host[:port] named by Origin (or Referer), lower-case; '' for 'null'; None if absent."""
    raw = request.headers.get("Origin") or request.headers.get("Referer")
    if raw is None:
        return None
    return urlsplit(raw).netloc.lower() if raw != "null" else ""


def same_origin(request: web.Request) -> bool | None:
    """Whether Origin/Referer is this host; None when the browser sent neither."""
    origin = request_origin(request)
    if origin is None:
        return None
    # Host only, not scheme: behind a TLS proxy we see http while the browser says https.
    return origin == (request.host or "").lower()


def csrf_ok(request: web.Request) -> bool:
    """A cookie-authenticated write must come from our pages, never from another site."""
    same = same_origin(request)
    if same is not None:
        return same
    # No Origin or Referer: only scripts can set a custom header without a CORS preflight.
    return bool(request.headers.get("X-Requested-With"))


def safe_next(value: str | None) -> str:
    """A same-site relative path to go to after login; anything else becomes '/'."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        return "/"  # browsers read "/\evil.com" as "//evil.com"; whitespace hides tricks
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def login_url(next_path: str) -> str:
    """Where an unauthenticated page visit goes."""
    return "/login?next=" + quote(next_path, safe="/")


def is_https(request: web.Request) -> bool:
    """HTTPS directly or via a reverse proxy that says so (only ever makes the cookie stricter)."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def page_language(request: web.Request) -> str:
    """The language this browser picked (header switch cookie), else the workspace's."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    return chosen if chosen in LANGUAGES else request.app[LANGUAGE]


def render(request: web.Request, name: str, *, status: int = 200, **context: Any) -> web.Response:
    """Render a template from bridge/templates in the page's language as an HTML response."""
    template = request.app[PAGES][page_language(request)].get_template(name)
    html = template.render(workspace_name=request.app[WORKSPACE], here=request.path_qs, **context)
    return web.Response(text=html, status=status, content_type="text/html",
                        headers={"Cache-Control": "no-store"})


def unauthorized(message: str) -> web.Response:
    """401 with the challenge header."""
    return error_response(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Enforce the token on every route not marked open; CSRF for cookie writes."""
    access = route_access(request)
    if access == "open":
        return await handler(request)
    auth = request.app[AUTH]
    bearer = request.headers.get("Authorization")
    client = auth.client(request) if bearer is not None else ""
    if bearer is not None and auth.login_blocked(client):
        log.warning("http_bearer_throttled", client=client)
        return error_response(429, "too_many_requests", "too many wrong tokens from this address; wait a few "
                              "minutes", headers={"Retry-After": str(int(LOGIN_FAILURE_WINDOW))})
    who = auth.identify(request)
    if who is None and bearer is not None:
        auth.login_failed(client)
        log.info("http_bearer_refused", client=client, path=request.path)
    if who is None:
        if access == "page" and request.method in SAFE_METHODS:
            raise web.HTTPFound(login_url(request.path_qs))
        return unauthorized("send the API token as 'Authorization: Bearer <token>', or log in")
    if who == "cookie" and request.method not in SAFE_METHODS and not csrf_ok(request):
        log.warning("http_csrf_refused", method=request.method, path=request.path)
        return error_response(403, "csrf", "this request did not come from a wabridge page; "
                              "send the X-Requested-With header or use the bearer token")
    request[AUTHENTICATED_BY] = who
    return await handler(request)


@open_route
async def login_page(request: web.Request) -> web.StreamResponse:
    """GET /login: the token form (or straight on when already logged in)."""
    next_path = safe_next(request.query.get("next"))
    if request.app[AUTH].identify(request) is not None:
        raise web.HTTPSeeOther(next_path)
    return render(request, "login.html", next_path=next_path, error=None)


@open_route
async def login_submit(request: web.Request) -> web.StreamResponse:
    """POST /login: check the token, set the cookie, go to `next`."""
    auth = request.app[AUTH]
    if same_origin(request) is False:
        return error_response(403, "csrf", "log in from this server's own login page")
    try:
        form: Mapping[str, Any] = await request.post()
    except (UnicodeDecodeError, ValueError):
        return error_response(400, "bad_request", "the login form must be sent as UTF-8 text",
                              field="token")
    next_path = safe_next(str(form.get("next") or ""))
    client = auth.client(request)
    if auth.login_blocked(client):
        log.warning("http_login_throttled", client=client)
        return render(request, "login.html", status=429, next_path=next_path,
                      error=N_("Too many wrong tries. Wait a few minutes, then try again."))
    if not auth.token_ok(str(form.get("token") or "").strip()):
        auth.login_failed(client)
        log.info("http_login_failed", client=client)
        return render(request, "login.html", status=401, next_path=next_path,
                      error=N_("That token is not right. Check it and try again."))
    response = web.Response(status=303, headers={"Location": next_path})
    response.set_cookie(COOKIE_NAME, auth.new_cookie(), max_age=COOKIE_MAX_AGE, path="/",
                        httponly=True, samesite="Strict", secure=is_https(request))
    log.info("http_login", client=client)
    return response


@open_route
async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout: forget the cookie (open: clearing a cookie needs no proof)."""
    if same_origin(request) is False:
        return error_response(403, "csrf", "log out from this server's own pages")
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        request.app[AUTH].revoke(cookie)
    response = web.Response(status=303, headers={"Location": "/login"})
    response.del_cookie(COOKIE_NAME, path="/", samesite="Strict")
    return response


def add_routes(app: web.Application) -> None:
    """Register /login and /logout."""
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
