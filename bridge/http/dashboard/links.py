"""The dashboard's Links screen (issue #7): rotator links, their visitors, the attribution log, partner hooks.

Server-rendered from the same service calls as `GET /api/rotators`, `/api/visitors`,
`/api/attribution/log` and `/api/partners` (bridge.attribution.Attribution and
bridge.partners.service.PartnerHooks, registered by bridge.http.public), so the page and the
API never disagree. A little JavaScript (static/dash_links.js) copies a link.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from bridge.attribution.service import Attribution
from bridge.daemon.sessions import STATE_WORDS, SessionState, SessionView
from bridge.http.auth import CONTROL, is_https, page_route, render
from bridge.http.public import ATTRIBUTION, PARTNERS
from bridge.i18n import N_

RECENT = 50  # visitors and attribution-log entries shown
MAX_ORIGIN_LOOKUPS = 20  # upgraded codes older than the recent visitors, looked up one by one

# Visitor states (bridge.attribution), in words.
VISITOR_STATES: Mapping[str, str] = {
    "waiting": N_("waiting"), "upgraded": N_("became a lead"), "expired": N_("expired"),
}

# A partner channel's state, in words (see PartnerHooks.channels for the facts).
PARTNER_STATES: Mapping[str, str] = {
    "receiving": N_("Receiving: signed requests arrive"),
    "waiting": N_("Configured: waiting for the first signed request"),
    "refused": N_("Only refused requests so far: check the secret and the signature header"),
    "unknown": N_("Not in config.toml: every request is refused"),
}

# Why the attribution log ignored a code (engine.attribution's reasons), in words.
LOG_REASONS: Mapping[str, str] = {
    "unknown_code": N_("no visitor has this code"),
    "already_used": N_("the code was used already"),
    "expired": N_("the visitor's code had expired"),
    "other_workspace": N_("the code belongs to another workspace"),
    "other_number": N_("a code without brackets issued for another number"),
    "ambiguous": N_("two codes in one message"),
}


def public_base(request: web.Request) -> str:
    """`https://host[:port]` as the browser reached us (behind a TLS proxy too), for links to copy."""
    return f"{'https' if is_https(request) else 'http'}://{request.host}"


def rotator_rows(report: Sequence[Mapping[str, Any]], sessions: Mapping[str, SessionView]) -> list[dict[str, Any]]:
    """`/api/rotators` entries with each number's session state (and its words) added."""
    rows: list[dict[str, Any]] = []
    for rotator in report:
        numbers = []
        for number in rotator["numbers"]:
            view = sessions.get(number["number"])
            state = view.state if view is not None else (
                SessionState.CONNECTED if number["connected"] else SessionState.STOPPED)
            numbers.append({**number, "state": state.value, "state_words": STATE_WORDS[state]})
        rows.append({**rotator, "numbers": numbers, "live": sum(1 for n in numbers if n["connected"])})
    return rows


def partner_rows(channels: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`/api/partners` entries with their hook path and a state (a key of PARTNER_STATES)."""
    rows: list[dict[str, Any]] = []
    for channel in channels:
        if not channel["configured"]:
            state = "unknown"
        elif channel["active"]:
            state = "receiving"
        elif channel["refused"]:
            state = "refused"
        else:
            state = "waiting"
        hook = f"/hooks/{channel['source']}/{channel['channel'] or '<channel>'}"
        rows.append({**channel, "hook": hook, "state": state})
    return rows


async def origins(attribution: Attribution, log: Sequence[Mapping[str, Any]],
                  visitors: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """code → its visitor (source, UTM, rotator), for the attribution log's upgraded entries."""
    found: dict[str, Mapping[str, Any]] = {v["code"]: v for v in visitors}
    missing = [e["code"] for e in log if e["outcome"] == "upgraded" and e["code"] not in found]
    for code in dict.fromkeys(missing[:MAX_ORIGIN_LOOKUPS]):
        for visitor in await attribution.visitors(state=None, rotator=None, code=code, limit=1):
            found[code] = visitor
    return found


@page_route
async def links_page(request: web.Request) -> web.StreamResponse:
    """GET /links: rotator links to copy, recent visitors with UTM, the attribution log, partner hooks."""
    attribution = request.app.get(ATTRIBUTION)
    partners = request.app.get(PARTNERS)
    sessions = {view.number: view for view in request.app[CONTROL].sessions()}
    rotators = visitors = log = channels = None
    found: dict[str, Mapping[str, Any]] = {}
    if attribution is not None:
        rotators = rotator_rows(await attribution.report(), sessions)
        visitors = await attribution.visitors(state=None, rotator=None, code=None, limit=RECENT)
        log = await attribution.log(code=None, limit=RECENT)
        found = await origins(attribution, log, visitors)
    if partners is not None:
        channels = partner_rows(await partners.channels())
    return render(request, "dash_links.html", screen="links", base=public_base(request),
                  rotators=rotators, visitors=visitors, log=log, origins=found, channels=channels,
                  partner_states=PARTNER_STATES, log_reasons=LOG_REASONS, visitor_states=VISITOR_STATES, recent=RECENT)


def add_routes(app: web.Application) -> None:
    """Register the Links screen (its JSON is bridge.http.public's /api routes)."""
    app.router.add_get("/links", links_page)
