"""Public routes and the attribution API.

Public (no token; each names its own protection, see bridge.http.auth.public_route):
- `GET /r/{slug}`: a rotator link (rate-limited per client address; bots get no visitor).
- `GET /hooks/{source}/{channel}`: the WhatsApp Cloud API verification handshake (verify token).
- `POST /hooks/{source}/{channel}`: inbound partner messages (signature or secret per source).
With the token: `GET /api/rotators`, `/api/visitors`, `/api/attribution/log`, `/api/partners`.
"""

from __future__ import annotations

from aiohttp import web

from bridge.attribution.service import Attribution, Click
from bridge.http.auth import public_route, render
from bridge.http.errors import ApiError, error_response, json_response
from bridge.http.params import query_int
from bridge.partners.errors import PartnerError
from bridge.partners.service import PartnerHooks
from store.visitors import VISITOR_STATES

ATTRIBUTION: web.AppKey[Attribution] = web.AppKey("attribution", Attribution)
PARTNERS: web.AppKey[PartnerHooks] = web.AppKey("partners", PartnerHooks)

_PAGES = {
    404: ("Link not found", "Tautan ini tidak dikenal.", "This link is not known here."),
    429: ("Too many clicks", "Terlalu banyak klik. Coba lagi sebentar lagi.",
          "Too many clicks from your connection. Please try again in a moment."),
    503: ("Please try again shortly", "Maaf, admin kami sedang tidak tersedia. Coba lagi sebentar lagi.",
          "Sorry, none of our admins is available right now. Please try again in a moment."),
}


def _attribution(request: web.Request) -> Attribution:
    service = request.app.get(ATTRIBUTION)
    if service is None:
        raise ApiError(404, "not_found", "attribution is not available on this server")
    return service


def _partners(request: web.Request) -> PartnerHooks:
    service = request.app.get(PARTNERS)
    if service is None:
        raise ApiError(404, "not_found", "partner channels are not available on this server")
    return service


@public_route("rate_limit")
async def rotator_link(request: web.Request) -> web.StreamResponse:
    """GET /r/{slug}: 302 to wa.me with the greeting and a fresh visitor code such as [K-7F3Q]."""
    service = request.app.get(ATTRIBUTION)
    if service is None:
        return _page(request, 404)
    result = service.click(Click(
        slug=request.match_info["slug"], query=request.query, user_agent=request.headers.get("User-Agent"),
        referrer=request.headers.get("Referer"), remote=request.remote,
        forwarded_for=request.headers.get("X-Forwarded-For"), probe=request.method == "HEAD"))
    if result.status == 302 and result.location is not None:
        return web.Response(status=302, headers={"Location": result.location, "Cache-Control": "no-store",
                                                 "Referrer-Policy": "no-referrer"})
    return _page(request, result.status, result.retry_after)


def _page(request: web.Request, status: int, retry_after: int | None = None) -> web.Response:
    title, words_id, words_en = _PAGES.get(status, _PAGES[404])
    response = render(request, "rotator.html", status=status, title=title, words_id=words_id, words_en=words_en)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


@public_route("verify_token")
async def hook_handshake(request: web.Request) -> web.StreamResponse:
    """GET /hooks/{source}/{channel}: echo hub.challenge when hub.verify_token matches (Cloud API)."""
    try:
        challenge = await _partners(request).handshake(
            request.match_info["source"], request.match_info["channel"], request.query)
    except PartnerError as exc:
        return error_response(exc.status, exc.code, exc.message)
    return web.Response(text=challenge, content_type="text/plain", headers={"Cache-Control": "no-store"})


@public_route("signature")
async def hook_messages(request: web.Request) -> web.StreamResponse:
    """POST /hooks/{source}/{channel}: signed partner messages into the inbox (401 if unsigned)."""
    hooks = _partners(request)
    body = await request.read()
    try:
        result = await hooks.receive(request.match_info["source"], request.match_info["channel"],
                                     request.headers, body)
    except PartnerError as exc:
        return error_response(exc.status, exc.code, exc.message)
    return json_response(result)


async def list_rotators(request: web.Request) -> web.StreamResponse:
    """GET /api/rotators: per rotator and number, clicks, visitors and upgraded leads."""
    return json_response(await _attribution(request).report())


async def list_visitors(request: web.Request) -> web.StreamResponse:
    """GET /api/visitors?state=waiting&rotator=default&code=K-7QX4&limit=100: the Website Visitors."""
    state = request.query.get("state")
    if state is not None and state not in VISITOR_STATES:
        raise ApiError(400, "bad_request", f"state: must be one of {', '.join(VISITOR_STATES)}", field="state")
    limit = query_int(request, "limit", 100, 1, 1000)
    code = request.query.get("code")
    return json_response(await _attribution(request).visitors(
        state=state, rotator=request.query.get("rotator"), code=code.upper() if code else None, limit=limit))


async def attribution_log(request: web.Request) -> web.StreamResponse:
    """GET /api/attribution/log?code=K-7QX4: upgrades and ignored codes, with the reason."""
    code = request.query.get("code")
    limit = query_int(request, "limit", 100, 1, 1000)
    return json_response(await _attribution(request).log(code=code.upper() if code else None, limit=limit))


async def list_partners(request: web.Request) -> web.StreamResponse:
    """GET /api/partners: verify connection, per channel: has a signed request arrived, and when."""
    return json_response(await _partners(request).channels())


def add_routes(app: web.Application, attribution: Attribution | None, partners: PartnerHooks | None) -> None:
    """Register the public routes and the attribution API (the services may be absent in tests)."""
    if attribution is not None:
        app[ATTRIBUTION] = attribution
    if partners is not None:
        app[PARTNERS] = partners
    router = app.router
    router.add_get("/r/{slug}", rotator_link)
    router.add_get("/hooks/{source}/{channel}", hook_handshake)
    router.add_post("/hooks/{source}/{channel}", hook_messages)
    router.add_get("/api/rotators", list_rotators)
    router.add_get("/api/visitors", list_visitors)
    router.add_get("/api/attribution/log", attribution_log)
    router.add_get("/api/partners", list_partners)
