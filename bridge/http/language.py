"""The page language: the workspace default, a per-browser choice in the header, the template sets.

Every page is rendered by the Jinja2 environment of its language (gettext from bridge.i18n,
the i18n extension with trimmed `{% trans %}` blocks). The header's EN/ID links go to
/language?lang=id&next=/page, which remembers the choice in a cookie for a year and goes back to
the page (a link, not a form: it changes nothing but this browser's own words).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from bridge.daemon.sessions import SessionView, history_words
from bridge.http.auth import LANGUAGE, PAGES, ZONE, open_route, page_language, safe_next
from bridge.http.dashboard.views import contact
from bridge.http.errors import ApiError, error_response
from bridge.i18n import COOKIE, LANGUAGE_NAMES, LANGUAGES, Wording, js_catalog, money, translations
from engine.changes import ChangeError

__all__ = ["add_routes", "change_error", "page_environments", "session_json", "wording"]

COOKIE_MAX_AGE = 365 * 24 * 3600


def page_environment(language: str, tz: ZoneInfo) -> jinja2.Environment:
    """The template environment of one language: gettext, times in the workspace zone, money."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bridge", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a missing variable is a bug, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True  # one msgid per {% trans %} block, whatever its line breaks
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    words = Wording(language, tz)
    env.globals.update(
        lang=language, language_names=LANGUAGE_NAMES, when=words.when, clock=words.time, day=words.day,
        zone=datetime.now(tz).tzname() or tz.key,  # the workspace zone's abbreviation, for form labels
        js_words={"words": js_catalog(language), **words.zone_words()},
    )
    env.filters["rupiah"] = money  # lead values: "Rp 1.500.000"
    env.filters["money"] = money
    env.filters["number"] = words.number
    env.filters["when"] = words.when
    env.filters["note"] = words.note  # a rule run's note ("add_tag: +vip") in these words
    env.filters["contact"] = lambda key, jid=None: contact(key, words.gettext, jid)  # "+6281…", "WhatsApp user …"
    return env


def page_environments(tz: ZoneInfo) -> dict[str, jinja2.Environment]:
    """One environment per language."""
    return {language: page_environment(language, tz) for language in LANGUAGES}


def wording(request: web.Request) -> Wording:
    """The request's language (see auth.page_language) and the workspace zone."""
    return Wording(page_language(request), request.app[ZONE])


def change_error(exc: ChangeError, words: Wording, field: str | None = None) -> ApiError:
    """400 naming the field of a lead change's problem: `message` in English, `message_text` in
    the page's words (the leads screen shows it next to the input)."""
    field = field or exc.field
    return ApiError(400, "bad_request", f"{field}: {exc.problem}", field=field,
                    message_text=f"{field}: {words.problem(exc)}")


def session_json(view: SessionView, words: Wording) -> dict[str, Any]:
    """A session for the JSON the pages read: its words in the page's language, its times in
    ISO 8601 with the workspace's offset."""
    data = view.to_dict()
    data["state_words"] = words.gettext(data["state_words"])
    if data.get("reason_words"):
        data["reason_words"] = words.gettext(data["reason_words"])
    data["last_message_at"] = words.iso(view.last_message_at)
    data["transitions"] = [{**t, "at": words.iso(t["at"])} for t in data["transitions"]]
    if data.get("history"):  # the phone's history sync (issue #16), in the page's words
        data["history"] = {**data["history"], "words": history_words(view.history, words),
                           "updated_at": words.iso(data["history"]["updated_at"])}
    return data


@open_route
async def set_language(request: web.Request) -> web.StreamResponse:
    """GET /language?lang=id&next=/leads: remember this browser's language, back to the page."""
    language = request.query.get("lang", "")
    if language not in LANGUAGES:
        return error_response(400, "bad_request", f"lang: one of {', '.join(LANGUAGES)}", field="lang")
    response = web.Response(status=303, headers={"Location": safe_next(request.query.get("next")),
                                                 "Cache-Control": "no-store"})
    response.set_cookie(COOKIE, language, max_age=COOKIE_MAX_AGE, path="/", samesite="Lax")
    return response


def add_routes(app: web.Application, *, language: str, tz: ZoneInfo) -> None:
    """Register /language and the template sets."""
    app[LANGUAGE] = language
    app[ZONE] = tz
    app[PAGES] = page_environments(tz)
    app.router.add_get("/language", set_language)
