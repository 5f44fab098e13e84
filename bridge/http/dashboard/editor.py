"""The rule editor (issue #7, stage 3): pickers built from the engine's vocabulary, and Test a rule.

The page is a shell; static/dash_editor.js builds the form from GET /api/rules/vocabulary
(fields with their UI labels and kinds, operators per kind, actions with their inputs)
and saves through the rules API, which answers a bad input with its rule path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiohttp import web

from bridge.daemon.sessions import SessionControl
from bridge.http.auth import CONTROL, page_route, render
from bridge.http.dashboard.rules import ROOT, off_loop, rule_error
from bridge.http.dashboard.views import statuses
from bridge.http.errors import ApiError, json_response, read_json_object
from bridge.http.language import wording
from bridge.i18n import Wording
from engine.actions import ACTIONS, NUMERIC_TARGETS, PRESET_LABELS, REGEX_PRESETS, SETTABLE_FIELDS
from engine.errors import RuleError
from engine.evaluate import explain_message
from engine.fields import FIELDS
from engine.model import MESSAGE_TYPES, Lead, Message
from engine.operators import OPERATORS
from engine.rules import SENDERS, TRIGGERS, parse_rule
from engine.ruleset import RuleSet
from engine.verdicts import VERDICTS
from store.errors import NotFoundError, row_id
from store.rules import get_rule, load_rules

CUSTOMER = "6280000000000"
ADMIN = "6289999999999"
TEST_KEYS = ("text", "status", "sender_type", "chat_count", "type", "name", "rule")


def vocabulary(control: SessionControl, words: Wording) -> dict[str, Any]:
    """What the editor's pickers offer, straight from the engine's registries, in the page's language."""
    _ = words.gettext
    return {
        "fields": [{"name": f.name, "label": _(f.label), "kind": f.kind.value, "choices": list(f.choices),
                    "triggers": sorted(f.triggers), "description": _(f.description) if f.description else ""}
                   for f in FIELDS.values()],
        "operators": [{"name": o.name, "label": _(o.label), "kinds": sorted(k.value for k in o.kinds),
                       "hint": _(o.value_hint) if o.value_hint else o.value_hint} for o in OPERATORS.values()],
        "actions": [{"type": a.type, "label": _(a.label), "keys": list(a.keys)} for a in ACTIONS.values()],
        "presets": [{"name": name, "label": _(label), "pattern": REGEX_PRESETS.get(name, "")}
                    for name, label in PRESET_LABELS.items()],
        "numeric_targets": list(NUMERIC_TARGETS),
        "settable_fields": list(SETTABLE_FIELDS),
        "statuses": list(statuses(control)),
        "senders": [{"name": k, "label": _(v)} for k, v in SENDERS.items()],
        "triggers": [{"name": k, "label": _(v)} for k, v in TRIGGERS.items()],
        "message_types": list(MESSAGE_TYPES),
    }


@page_route
async def new_rule_page(request: web.Request) -> web.StreamResponse:
    """GET /rules/new: an empty rule in the editor."""
    return render(request, "dash_editor.html", screen="rules", rule=None, rule_id=None,
                  statuses=statuses(request.app[CONTROL]))


@page_route
async def edit_rule_page(request: web.Request) -> web.StreamResponse:
    """GET /rules/{id}/edit: one stored rule in the editor."""
    control = request.app[CONTROL]
    raw = request.match_info["id"]
    try:
        rule_id = row_id(raw)
        rule = await control.db_call(get_rule, rule_id, control.rule_env()) if rule_id else None
    except (NotFoundError, RuleError):
        rule = None
    if rule is None:
        return render(request, "dash_editor.html", status=404, screen="rules", rule=None, rule_id=raw,
                      missing=True)
    return render(request, "dash_editor.html", screen="rules", rule=rule.to_dict(), rule_id=rule.id,
                  statuses=statuses(control))


async def get_vocabulary(request: web.Request) -> web.StreamResponse:
    """GET /api/rules/vocabulary"""
    return json_response(vocabulary(request.app[CONTROL], wording(request)))


def _text(body: dict[str, Any], key: str, default: str, allowed: tuple[str, ...] | None = None) -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise ApiError(400, "bad_request", f"{key}: must be a text", field=key)
    if allowed is not None and value not in allowed:
        raise ApiError(400, "bad_request", f"{key}: {value!r} is not one of {', '.join(allowed)}", field=key)
    return value


async def test_rule(request: web.Request) -> web.StreamResponse:
    """POST /api/rules/test {"text", "status", "sender_type", "chat_count", "type", "name", "rule"?}.

    A dry run like `wabridge rules test --json`: for the draft `rule` (or every stored rule),
    whether it fires and the condition trace that decided it; nothing is saved.
    """
    control = request.app[CONTROL]
    body = await read_json_object(request, required=True)
    unknown = sorted(set(body) - set(TEST_KEYS))
    if unknown:
        raise ApiError(400, "bad_request", f"{unknown[0]}: not expected (known: {', '.join(TEST_KEYS)})",
                       field=unknown[0])
    text = _text(body, "text", "")
    status = _text(body, "status", statuses(control)[0], tuple(statuses(control)))
    sender_type = _text(body, "sender_type", "customer", ("customer", "team"))
    kind = _text(body, "type", "text", tuple(MESSAGE_TYPES))
    name = _text(body, "name", "Customer")
    chat_count = body.get("chat_count", 1)
    if isinstance(chat_count, bool) or not isinstance(chat_count, int) or chat_count < 0:
        raise ApiError(400, "bad_request", "chat_count: must be a whole number, 0 or more", field="chat_count")
    env = control.rule_env()
    if body.get("rule") is not None:
        try:
            rules = [(await off_loop(parse_rule, body["rule"], ROOT, env)).with_id(1)]
        except RuleError as exc:
            raise rule_error(exc, wording(request), "rule.") from None
    else:
        rules = list((await control.db_call(load_rules, env)).rules)
    workspace = getattr(control, "workspace", None)
    tz = getattr(workspace, "tz", UTC)
    now = datetime.now(UTC)
    from_me = sender_type == "team"
    customer, admin = f"{CUSTOMER}@s.whatsapp.net", f"{ADMIN}@s.whatsapp.net"
    message = Message(id="dry-run", session="dry-run", chat=customer, sender=admin if from_me else customer,
                      timestamp=now, from_me=from_me, text=text, sender_name=name, type=kind,
                      has_media=kind not in ("text", "location", "contact"))
    before = max(chat_count - (0 if from_me else 1), 0)
    lead = Lead(phone=CUSTOMER, jid=customer, status=status, chat_count=before, name=name,
                created_at=now, updated_at=now)
    ruleset = await off_loop(RuleSet, tuple(rules), env.statuses, env.endpoints)
    outcome, explanations = await off_loop(partial(explain_message, now=now, tz=tz), ruleset, lead, message)
    words = wording(request)
    return json_response({
        "rules": [_in_words(e.to_dict(), words) for e in explanations],
        "lead_before": lead.to_dict(),
        "lead_after": outcome.lead.to_dict(),
        "status_changes": [list(change) for change in outcome.status_changes],
        "queued": [{"kind": r.kind, "rule": r.rule_name} for r in outcome.requests],
    })


def _in_words(explanation: dict[str, Any], words: Wording) -> dict[str, Any]:
    """A dry run's verdict for the page: `reason_text` in the page's language, each condition's
    field and operator labels too (`op_label`), and what its actions did (`notes_text`)."""
    _ = words.gettext
    args = {name: _(SENDERS[value]) if name in ("sender", "rule_sender") and value in SENDERS else value
            for name, value in explanation["verdict_args"].items()}
    explanation["reason_text"] = words.fill(VERDICTS[explanation["verdict"]], args)

    def labelled(node: dict[str, Any]) -> None:
        if node.get("kind") == "leaf":
            node["label"] = _(node["label"]) if node.get("label") else node.get("label")
            operator = OPERATORS.get(str(node.get("op")))
            node["op_label"] = _(operator.label) if operator is not None else node.get("op")
        for child in node.get("children") or ():
            labelled(child)

    if explanation.get("conditions"):
        labelled(explanation["conditions"])
    explanation["notes_text"] = [words.note(note) for note in explanation.get("notes") or ()]
    return explanation


def add_routes(app: web.Application) -> None:
    """Register the editor pages, the vocabulary and Test a rule."""
    router = app.router
    router.add_get("/rules/new", new_rule_page)
    router.add_get("/rules/{id}/edit", edit_rule_page)
    router.add_get("/api/rules/vocabulary", get_vocabulary)
    router.add_post("/api/rules/test", test_rule)
