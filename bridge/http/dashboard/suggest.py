"""AI Suggest (issue #7, stage 4): a sentence in English or Bahasa Indonesia → a draft rule.

Offline and deterministic: a phrase grammar over the engine's vocabulary (engine.suggest.phrases
lists the phrases, engine.suggest reads a sentence with them), no model. It reports which
parts of the sentence it understood (character spans, for highlighting) and which words it did not;
it never saves anything.
"""

from __future__ import annotations

from aiohttp import web

from bridge.http.auth import CONTROL
from bridge.http.dashboard.views import statuses
from bridge.http.errors import ApiError, json_response, read_json_object
from bridge.http.language import wording
from bridge.i18n import N_
from engine.errors import RuleError
from engine.rules import parse_rule
from engine.suggest import suggest
from engine.suggest.notices import NOTICES

__all__ = ["MAX_TEXT", "add_routes", "suggest", "suggest_rule"]

MAX_TEXT = 500


async def suggest_rule(request: web.Request) -> web.StreamResponse:
    """POST /api/rules/suggest {"text": "..."} → a draft rule (never saved) and what was understood."""
    control = request.app[CONTROL]
    body = await read_json_object(request, required=True)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "bad_request", "text: describe the rule in a sentence", field="text")
    if len(text) > MAX_TEXT:
        raise ApiError(400, "bad_request", f"text: keep it under {MAX_TEXT} characters", field="text")
    unknown = sorted(set(body) - {"text"})
    if unknown:
        raise ApiError(400, "bad_request", f"{unknown[0]}: not expected (only text)", field=unknown[0])
    words = wording(request)
    result = suggest(text, statuses(control), words.gettext)
    if result["rule"] is not None:
        try:
            parse_rule(result["rule"], "rule", control.rule_env())
        except RuleError as exc:  # the grammar only builds valid rules; say so plainly if not
            problem = f"{exc.path}: {exc.message}"
            result.update(ok=False, message=f"The draft is not valid ({problem}).",
                          message_text=words.fill(N_("The draft is not valid (%(problem)s)."), {"problem": problem}))
    if result.get("notice"):
        # The refusal in the page's language (engine.suggest.notices); `message` stays English.
        hints = "; ".join(words.gettext(hint) for hint in result["hints"])
        result["message_text"] = (words.fill(NOTICES[result["notice"]], result["notice_args"])
                                  + (words.fill(NOTICES["hints"], {"hints": hints}) if hints else ""))
    return json_response(result)


def add_routes(app: web.Application) -> None:
    """Register AI Suggest."""
    app.router.add_post("/api/rules/suggest", suggest_rule)
