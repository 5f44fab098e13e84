"""The dashboard's Rules screen (issue #7, stage 2): the ordered list and the rules JSON API.

Rules are validated by the engine (engine.rules.parse_rule); a problem answers 400 with
the rule field named by its path (`conditions[0].value`), so the editor can put the
message next to the input that caused it. Every change reloads the daemon's rules.
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import tomli_w
from aiohttp import web

from bridge.daemon.sessions import SessionControl
from bridge.http.auth import CONTROL, page_route, render
from bridge.http.dashboard.views import statuses
from bridge.http.errors import ApiError, json_response, read_json_object
from bridge.http.language import wording
from bridge.http.params import path_id
from bridge.i18n import Wording
from engine.errors import RuleError, RuleSetError
from engine.rules import SENDERS, Rule, parse_rule, parse_rules
from engine.templates import TEMPLATES
from store.errors import NotFoundError
from store.rules import delete_rule, insert_rule, load_rules, reorder_rules, save_rules, update_rule

T = TypeVar("T")
ROOT = "rule"  # the path prefix the engine's errors start with for one rule
MAX_TOML_BYTES = 200 * 1024


def _now() -> datetime:
    return datetime.now(UTC)


def field_of(path: str) -> str:
    """`rule.conditions[0].value` → `conditions[0].value`; `rules[2].name` stays whole."""
    return path[len(ROOT) + 1:] if path.startswith(ROOT + ".") else path


def rule_error(exc: RuleError, words: Wording, prefix: str = "") -> ApiError:
    """400 invalid_rule naming the field (`prefix` + its path under the rule), in English and,
    as message_text, in the page's words."""
    field = prefix + field_of(exc.path)
    return ApiError(400, "invalid_rule", f"{field}: {exc.message}", field=field,
                    message_text=f"{field}: {words.problem(exc)}")


def rule_set_error(exc: RuleSetError, words: Wording) -> ApiError:
    first = exc.errors[0]
    return ApiError(400, "invalid_rule", f"{first.path}: {first.message}", field=first.path,
                    message_text=f"{first.path}: {words.problem(first)}")


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """Run CPU-bound validation in the default executor: a big rule never stalls /healthz."""
    return await asyncio.get_running_loop().run_in_executor(None, partial(fn, *args))


async def _parse(request: web.Request, body: Any) -> Rule:
    try:
        return await off_loop(parse_rule, body, ROOT, request.app[CONTROL].rule_env())
    except RuleError as exc:
        raise rule_error(exc, wording(request)) from None


async def _parse_set(request: web.Request, document: Any) -> list[Rule]:
    try:
        return await off_loop(parse_rules, document, request.app[CONTROL].rule_env())
    except RuleSetError as exc:
        raise rule_set_error(exc, wording(request)) from None


def _rule_id(request: web.Request) -> int:
    return path_id(request, "id")


async def rules_state(control: SessionControl, words: Wording) -> dict[str, Any]:
    """{"rules": [rule with id, in run order], "invalid": [stored rules that no longer parse,
    each problem in English and, as message_text, in the page's words]}."""
    loaded = await control.db_call(load_rules, control.rule_env())
    return {"rules": [rule.to_dict(with_id=True) for rule in loaded.rules],
            "invalid": [{"name": e.rule_name, "path": e.path, "message": e.message,
                         "message_text": words.problem(e)} for e in loaded.broken]}


async def _changed(request: web.Request) -> dict[str, Any]:
    control = request.app[CONTROL]
    reloaded = await control.reload_rules()
    return {**await rules_state(control, wording(request)), "reloaded": reloaded}


# -- page --------------------------------------------------------------------------------

@page_route
async def rules_page(request: web.Request) -> web.StreamResponse:
    """GET /rules: the ordered list with enable/disable, move up/down, stop-processing, export/import."""
    state = await rules_state(request.app[CONTROL], wording(request))
    return render(request, "dash_rules.html", screen="rules", rules=state["rules"], invalid=state["invalid"],
                  senders=SENDERS, templates=TEMPLATES, statuses=statuses(request.app[CONTROL]))


# -- JSON API ----------------------------------------------------------------------------

async def list_rules(request: web.Request) -> web.StreamResponse:
    """GET /api/rules"""
    return json_response(await rules_state(request.app[CONTROL], wording(request)))


async def create_rule(request: web.Request) -> web.StreamResponse:
    """POST /api/rules {rule in the rule-file form} → 201 {"rule", "rules", "invalid", "reloaded"}."""
    control = request.app[CONTROL]
    rule = await _parse(request, await read_json_object(request, required=True))
    try:
        rule_id = await control.db_call(insert_rule, rule, _now())
    except ValueError as exc:
        raise ApiError(409, "conflict", str(exc), field="name") from None
    return json_response({"rule": rule.with_id(rule_id).to_dict(with_id=True), **await _changed(request)},
                         status=201)


async def replace_rule(request: web.Request) -> web.StreamResponse:
    """PUT /api/rules/{id} {rule} → the saved rule."""
    control = request.app[CONTROL]
    rule_id = _rule_id(request)
    body = await read_json_object(request, required=True)
    body.pop("id", None)
    rule = await _parse(request, body)
    try:
        await control.db_call(update_rule, rule_id, rule, _now())
    except NotFoundError as exc:
        raise ApiError(404, "not_found", f"id: {exc}", field="id") from None
    except ValueError as exc:
        raise ApiError(409, "conflict", str(exc), field="name") from None
    return json_response({"rule": rule.with_id(rule_id).to_dict(with_id=True), **await _changed(request)})


async def remove_rule(request: web.Request) -> web.StreamResponse:
    """DELETE /api/rules/{id}"""
    control = request.app[CONTROL]
    rule_id = _rule_id(request)
    try:
        await control.db_call(delete_rule, rule_id)
    except NotFoundError as exc:
        raise ApiError(404, "not_found", f"id: {exc}", field="id") from None
    return json_response({"deleted": rule_id, **await _changed(request)})


async def validate_rule(request: web.Request) -> web.StreamResponse:
    """POST /api/rules/validate {rule} → {"ok": true, "rule": normalised} or 400 naming the field."""
    rule = await _parse(request, await read_json_object(request, required=True))
    return json_response({"ok": True, "rule": rule.to_dict()})


async def order_rules(request: web.Request) -> web.StreamResponse:
    """POST /api/rules/order {"ids": [3, 1, 2]}: run order (priorities 10, 20, 30, …)."""
    control = request.app[CONTROL]
    body = await read_json_object(request, required=True)
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ApiError(400, "bad_request", "ids: must be a list of rule ids, e.g. [3, 1, 2]", field="ids")
    try:
        await control.db_call(reorder_rules, ids, _now())
    except ValueError as exc:
        raise ApiError(400, "bad_request", str(exc), field="ids") from None
    return json_response(await _changed(request))


async def list_templates(request: web.Request) -> web.StreamResponse:
    """GET /api/rules/templates: the installable templates (slug, title, description, rule)."""
    return json_response([{"slug": t.slug, "title": t.title, "summary": t.summary, "rule": t.rule}
                          for t in TEMPLATES.values()])


async def install_templates(request: web.Request) -> web.StreamResponse:
    """POST /api/rules/templates/install {"slugs": [...]}: add (or reset) the templates' rules."""
    control = request.app[CONTROL]
    body = await read_json_object(request, required=True)
    slugs = body.get("slugs")
    if not isinstance(slugs, list) or not slugs:
        raise ApiError(400, "bad_request", "slugs: must be a list of template slugs", field="slugs")
    for index, slug in enumerate(slugs):
        if not isinstance(slug, str) or slug not in TEMPLATES:
            shown = repr(slug) if isinstance(slug, str) else f"a {type(slug).__name__}"
            raise ApiError(400, "bad_request", f"slugs[{index}]: unknown template {shown[:80]}; known: "
                           f"{', '.join(TEMPLATES)}", field=f"slugs[{index}]")
    rules = await _parse_set(request, [TEMPLATES[slug].rule for slug in slugs])
    result = await control.db_call(save_rules, rules, _now())
    return json_response({"created": list(result.created), "updated": list(result.updated),
                          **await _changed(request)}, status=201)


def _without_nulls(value: Any) -> Any:
    # TOML has no null; the engine reads an empty value as "clear the field" (as `rules export`).
    if isinstance(value, dict):
        return {k: ("" if v is None else _without_nulls(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


async def export_toml(request: web.Request) -> web.StreamResponse:
    """GET /api/rules/export.toml: every valid rule as a rules file (what import reads)."""
    state = await request.app[CONTROL].db_call(load_rules, request.app[CONTROL].rule_env())
    document = {"rules": [rule.to_dict() for rule in state.rules]}
    return web.Response(text=tomli_w.dumps(_without_nulls(document)), content_type="application/toml",
                        charset="utf-8", headers={"Content-Disposition": 'attachment; filename="rules.toml"',
                                                  "Cache-Control": "no-store"})


async def import_toml(request: web.Request) -> web.StreamResponse:
    """POST /api/rules/import?replace=true (body: the TOML file): all or nothing."""
    control = request.app[CONTROL]
    replace = request.query.get("replace", "false").lower()
    if replace not in ("true", "false"):
        raise ApiError(400, "bad_request", f"replace: must be true or false, not {replace!r}", field="replace")
    raw = await request.read()
    if len(raw) > MAX_TOML_BYTES:
        raise ApiError(400, "bad_request", "file: a rules file over 200 KB is not expected", field="file")
    if replace == "true" and not raw.strip():
        raise ApiError(400, "bad_request", "file: the rules file is empty; nothing was changed", field="file")
    try:
        document = await off_loop(tomllib.loads, raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ApiError(400, "bad_request", f"file: not a TOML rules file ({exc})", field="file") from None
    except RecursionError:
        raise ApiError(400, "bad_request", "file: nested too deeply to read", field="file") from None
    rules = await _parse_set(request, document)
    if replace == "true" and not rules:
        # replace=true deletes the rules the file does not name: an empty file is a mistake.
        raise ApiError(400, "bad_request", "file: holds no [[rules]]; nothing was changed", field="file")
    result = await control.db_call(save_rules, rules, _now(), replace=replace == "true")
    return json_response({"created": list(result.created), "updated": list(result.updated),
                          "deleted": list(result.deleted), **await _changed(request)})


def add_routes(app: web.Application) -> None:
    """Register the Rules page and the rules API."""
    router = app.router
    router.add_get("/rules", rules_page)
    router.add_get("/api/rules", list_rules)
    router.add_post("/api/rules", create_rule)
    router.add_post("/api/rules/validate", validate_rule)
    router.add_post("/api/rules/order", order_rules)
    router.add_get("/api/rules/templates", list_templates)
    router.add_post("/api/rules/templates/install", install_templates)
    router.add_get("/api/rules/export.toml", export_toml)
    router.add_post("/api/rules/import", import_toml)
    # Digits only: /api/rules/export.toml and its siblings are not rule ids, so another method on
    # them answers 405 (with Allow), not "not a rule id". Out-of-range digits get a 400 from path_id.
    router.add_put(r"/api/rules/{id:\d+}", replace_rule)
    router.add_delete(r"/api/rules/{id:\d+}", remove_rule)
