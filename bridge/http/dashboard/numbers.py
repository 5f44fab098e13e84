"""The Numbers screen (also `/`): every admin number, its state in words (kept live), actions."""

from __future__ import annotations

from functools import partial

from aiohttp import web

from bridge.daemon.sessions import REASON_WORDS, SessionState, history_words, state_words
from bridge.http.auth import CONTROL, page_route
from bridge.http.dashboard.views import page
from bridge.http.language import wording

NUMBERS_POLL_SECONDS = 3.0  # how often the Numbers screen asks /api/sessions for changes
# Which of a number's action groups (dash_numbers.html) shows in which state; dash_numbers.js follows the page's copy.
NUMBER_ACTIONS: dict[str, tuple[SessionState, ...]] = {
    "connected": (SessionState.CONNECTED,),  # Details, Restart, Re-pair, Log out
    "reconnecting": (SessionState.DISCONNECTED,),  # still paired: Details, Restart
    "unpaired": tuple(s for s in SessionState if s not in (SessionState.CONNECTED, SessionState.DISCONNECTED)),
}


def numbers_screen(request: web.Request, *, status: int = 200, error: str | None = None,
                   error_values: dict[str, str] | None = None) -> web.Response:
    """The Numbers screen (also `/` and the page of an unknown /pair/{number}, with `error`: a msgid
    whose %(name)s placeholders `error_values` fills)."""
    views = request.app[CONTROL].sessions()
    return page(request, "dash_numbers.html", "numbers", status=status, error=error, error_values=error_values or {},
                 views=views, state_words=state_words, reason_words=REASON_WORDS, actions=NUMBER_ACTIONS,
                 history_words=partial(history_words, words=wording(request)), poll_ms=int(NUMBERS_POLL_SECONDS * 1000))


@page_route
async def numbers_page(request: web.Request) -> web.StreamResponse:
    """GET / and /numbers: every admin number, its state in words (kept live), last message, actions."""
    return numbers_screen(request)


def add_routes(app: web.Application) -> None:
    """Register the Numbers screen; it is also the start page."""
    app.router.add_get("/", numbers_page)
    app.router.add_get("/numbers", numbers_page)
