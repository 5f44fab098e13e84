"""`wabridge rules …` and `wabridge templates …`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import tomli_w

from bridge.commands.common import Context, err, out, out_json, read_rules_file, utc_now
from bridge.errors import EXIT_FAILED, EXIT_OK
from engine.errors import RuleError, RuleSetError
from engine.evaluate import explain_message
from engine.model import Lead, Message, parse_timestamp
from engine.rules import parse_rules
from engine.suggest import suggest
from engine.templates import TEMPLATES
from engine.verdicts import RuleExplanation
from store.rules import delete_rule, get_rule, save_rules


def _report(exc: RuleSetError, source: str) -> int:
    err(f"{source}: {len(exc.errors)} problem(s); nothing was saved")
    for problem in exc.errors:
        err(f"  {problem.describe()}")
    return EXIT_FAILED


def cmd_validate(ctx: Context, args: argparse.Namespace) -> int:
    """Check a rules file without saving it."""
    try:
        rules = read_rules_file(Path(args.file), ctx.env())
    except RuleSetError as exc:
        return _report(exc, args.file)
    out(f"{args.file}: {len(rules)} rule(s) valid")
    return EXIT_OK


def cmd_import(ctx: Context, args: argparse.Namespace) -> int:
    """Save the rules of a file (by name: new ones created, existing ones updated)."""
    try:
        rules = read_rules_file(Path(args.file), ctx.env())
    except RuleSetError as exc:
        return _report(exc, args.file)
    if args.replace and not rules:
        err(f"{args.file}: holds no [[rules]]; --replace would delete every rule, so nothing was changed")
        return EXIT_FAILED
    result = save_rules(ctx.db, rules, utc_now(), replace=args.replace)
    summary = f"imported {len(rules)} rule(s): {len(result.created)} created, {len(result.updated)} updated"
    if args.replace:
        summary += f", {len(result.deleted)} deleted"
    out(summary)
    return EXIT_OK


def export_document(ctx: Context) -> dict[str, Any]:
    """Every stored rule in the rule-file form (the document `rules import` reads)."""
    ruleset, broken = ctx.ruleset()
    for problem in broken:
        err(f"skipped (no longer valid): {problem}")
    return {"rules": [r.to_dict() for r in ruleset.rules]}


def _without_nulls(value: Any) -> Any:
    # TOML has no null; `set_field` reads an empty value as "clear the field".
    if isinstance(value, dict):
        return {k: ("" if v is None else _without_nulls(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def cmd_export(ctx: Context, args: argparse.Namespace) -> int:
    """Print the stored rules as TOML (default) or JSON."""
    document = export_document(ctx)
    text = (json.dumps(document, ensure_ascii=False, indent=2) + "\n" if args.format == "json"
            else tomli_w.dumps(_without_nulls(document)))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        out(f"wrote {len(document['rules'])} rule(s) to {args.output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    """One line per rule, in evaluation order."""
    ruleset, broken = ctx.ruleset()
    if args.json:
        out_json([r.to_dict(with_id=True) for r in ruleset.rules])
    else:
        if not ruleset.rules:
            out("no rules yet: `wabridge templates list`, then `wabridge templates install SLUG`")
        for rule in ruleset.rules:
            flags = ("" if rule.enabled else " [disabled]") + (" [stop]" if rule.stop_processing else "")
            sender = f" ({rule.sender})" if rule.trigger == "message.received" else ""
            out(f"{rule.id:>4}  p{rule.priority:<4} {rule.trigger}{sender}  {rule.name}{flags}")
    for problem in broken:
        err(f"invalid stored rule (skipped): {problem}")
    return EXIT_OK if not broken else EXIT_FAILED


def cmd_enable(ctx: Context, args: argparse.Namespace, enabled: bool) -> int:
    """Enable or disable a rule by id (a stored rule that no longer loads: fix or delete it)."""
    try:
        rule = get_rule(ctx.db, args.id, ctx.env())
    except RuleError as exc:
        err(f"{exc.describe()}; nothing was changed (`wabridge rules delete {args.id}` removes it)")
        return EXIT_FAILED
    save_rules(ctx.db, [dataclasses.replace(rule, enabled=enabled)], utc_now())
    out(f"rule {rule.id} \"{rule.name}\" {'enabled' if enabled else 'disabled'}")
    return EXIT_OK


def cmd_delete(ctx: Context, args: argparse.Namespace) -> int:
    """Delete a rule by id."""
    delete_rule(ctx.db, args.id)
    out(f"rule {args.id} deleted")
    return EXIT_OK


def cmd_test(ctx: Context, args: argparse.Namespace) -> int:
    """Dry run: would each stored rule fire on this message, and why (not)?"""
    ruleset, broken = ctx.ruleset()
    now = utc_now()
    at = parse_timestamp(args.at, "--at") if args.at else now
    statuses = ctx.config.workspace.statuses
    status = args.status or statuses[0]
    if status not in statuses:
        err(f"--status {status!r} is not one of: {', '.join(statuses)}")
        return EXIT_FAILED
    from_me = args.sender_type == "team"
    customer = "6280000000000@s.whatsapp.net"
    admin = "6289999999999@s.whatsapp.net"
    message = Message(
        id="dry-run", session="dry-run", chat=customer, sender=admin if from_me else customer,
        timestamp=at, from_me=from_me, text=args.text, sender_name=args.name,
        type=args.type, has_media=args.type not in ("text", "location", "contact"),
    )
    # --chat-count is the count *including* this message (customer messages only).
    before = max(args.chat_count - (0 if from_me else 1), 0)
    lead = Lead(phone="6280000000000", jid=customer, status=status, chat_count=before,
                name=args.name, source=args.source, created_at=now, updated_at=now)
    outcome, explanations = explain_message(ruleset, lead, message, now=now, tz=ctx.config.workspace.to_workspace().tz)
    if args.json:
        out_json({
            "rules": [e.to_dict() for e in explanations],
            "lead_after": outcome.lead.to_dict(),
            "status_changes": [list(c) for c in outcome.status_changes],
            "queued": [{"kind": r.kind, "rule": r.rule_name} for r in outcome.requests],
        })
        return EXIT_OK
    if not explanations:
        out("no rules stored: nothing would fire")
    for item in explanations:
        _print_explanation(item)
    after = outcome.lead
    out("")
    out(f"lead after: status {lead.status} -> {after.status}, value_actual={after.value_actual}, "
        f"score={after.score:g}, tags={sorted(after.tags)}")
    for problem in broken:
        err(f"invalid stored rule (skipped): {problem}")
    return EXIT_OK


def cmd_suggest(ctx: Context, args: argparse.Namespace) -> int:
    """AI Suggest on the command line: a sentence → a draft rule (TOML, ready for `rules import`)."""
    result = suggest(args.sentence, ctx.config.workspace.statuses)
    if result["rule"] is not None:
        try:
            parse_rules({"rules": [result["rule"]]}, ctx.env())
        except RuleSetError as exc:  # e.g. a webhook endpoint this workspace does not define
            problems = "; ".join(problem.describe() for problem in exc.errors)
            result.update(ok=False, message=f"The draft is not valid here ({problems}).")
    if args.json:
        out_json(result)
        return EXIT_OK if result["ok"] else EXIT_FAILED
    (out if result["ok"] else err)(result["message"])
    for part in result["understood"]:
        out(f"  understood: {part['text']!r} = {part['meaning']}")
    if result["not_understood"]:
        err(f"  not understood: {', '.join(result['not_understood'])}")
    if result["rule"] is None:
        return EXIT_FAILED
    out("")
    out(tomli_w.dumps(_without_nulls({"rules": [result["rule"]]})).rstrip())
    return EXIT_OK if result["ok"] else EXIT_FAILED


def _print_explanation(item: RuleExplanation) -> None:
    mark = "FIRES " if item.fired else "no    "
    out(f"{mark} [{item.trigger}] {item.rule_name}: {item.reason}")
    if item.conditions is not None:
        _print_trace(item.conditions.to_dict(), "         ")
    for note in item.notes:
        out(f"         -> {note}")


def _print_trace(node: dict[str, Any], indent: str) -> None:
    for child in node.get("children", []):
        if child["kind"] == "leaf":
            ok = "pass" if child["passed"] else "FAIL"
            line = (f"{indent}{ok}  {child['label']} ({child['field']}) {child['op']} "
                    f"{child['expected']!r}; saw {child['seen']!r}")
            if child.get("error"):
                line += f" — error: {child['error']}"
            out(line)
        else:
            ok = "pass" if child["passed"] else "FAIL"
            out(f"{indent}{ok}  {child['kind'].upper()} group:")
            _print_trace(child, indent + "    ")


def cmd_templates_list(ctx: Context, args: argparse.Namespace) -> int:
    """One slug and its title per line (or JSON)."""
    if args.json:
        out_json([{"slug": t.slug, "title": t.title, "summary": t.summary, "rule": t.rule}
                  for t in TEMPLATES.values()])
    else:
        for template in TEMPLATES.values():
            out(f"{template.slug}\t{template.title}")
    return EXIT_OK


def cmd_templates_install(ctx: Context, args: argparse.Namespace) -> int:
    """Install templates by slug (installing again updates the rule to the template)."""
    unknown = [s for s in args.slugs if s not in TEMPLATES]
    if unknown:
        err(f"unknown template {unknown[0]!r}; known: {', '.join(TEMPLATES)}")
        return EXIT_FAILED
    try:
        rules = parse_rules([TEMPLATES[s].rule for s in args.slugs], ctx.env())
    except RuleSetError as exc:
        return _report(exc, "template")
    result = save_rules(ctx.db, rules, utc_now())
    for name in result.created:
        out(f"installed: {name}")
    for name in result.updated:
        out(f"updated:   {name}")
    return EXIT_OK


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `rules` and `templates`."""
    rules = sub.add_parser("rules", help="validate, import, export, list and dry-run rules",
                           description="Manage automation rules (IF trigger AND conditions THEN actions).")
    rsub = rules.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = rsub.add_parser("validate", parents=[common], help="check a TOML/JSON rules file, save nothing")
    p.add_argument("file")
    p.set_defaults(func=cmd_validate)
    p = rsub.add_parser("import", parents=[common], help="save the rules of a TOML/JSON file (by name)")
    p.add_argument("file")
    p.add_argument("--replace", action="store_true", help="also delete stored rules not in the file")
    p.set_defaults(func=cmd_import)
    p = rsub.add_parser("export", parents=[common], help="print the stored rules as TOML or JSON")
    p.add_argument("--format", choices=("toml", "json"), default="toml")
    p.add_argument("--output", "-o", help="write to this file instead of stdout")
    p.set_defaults(func=cmd_export)
    p = rsub.add_parser("list", parents=[common], help="list stored rules in evaluation order")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    for name, enabled in (("enable", True), ("disable", False)):
        p = rsub.add_parser(name, parents=[common], help=f"{name} a rule by id")
        p.add_argument("id", type=int)
        p.set_defaults(func=lambda c, a, e=enabled: cmd_enable(c, a, e))
    p = rsub.add_parser("delete", parents=[common], help="delete a rule by id")
    p.add_argument("id", type=int)
    p.set_defaults(func=cmd_delete)
    p = rsub.add_parser("test", parents=[common], help="dry run: which rules would fire on a message, and why",
                        description="Evaluate the stored rules against a made-up message and lead, "
                                    "and show for every rule whether it fires and which condition stopped it. "
                                    "Nothing is saved.")
    p.add_argument("--text", required=True, help="the message text")
    p.add_argument("--sender-type", choices=("customer", "team"), default="customer")
    p.add_argument("--status", help="the lead's status before the message (default: the first status)")
    p.add_argument("--chat-count", type=int, default=1,
                   help="customer messages of the lead including this one (default 1: first contact)")
    p.add_argument("--at", help="message time, ISO 8601 with offset (default: now)")
    p.add_argument("--type", default="text", help="message type (text, image, ...)")
    p.add_argument("--name", help="customer name")
    p.add_argument("--source", help="lead source (ads, website, ...)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_test)

    p = rsub.add_parser("suggest", parents=[common], help="AI Suggest: a sentence → a draft rule (saves nothing)",
                        description="Read one sentence in English or Bahasa Indonesia and print the draft rule "
                                    "it describes as TOML (for `wabridge rules import`), with what was understood "
                                    "and what was not. Offline and deterministic; nothing is saved. Exit 1 when no "
                                    "draft could be made.",
                        epilog='example: wabridge rules suggest "kalau customer bilang transfer dan status hot, '
                               'ubah ke purchase dan ambil nominal Rp"')
    p.add_argument("sentence", help="the rule in words, e.g. \"if customer says order, change to hot\"")
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")
    p.set_defaults(func=cmd_suggest)

    templates = sub.add_parser("templates", help="list and install the shipped rule templates")
    tsub = templates.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = tsub.add_parser("list", parents=[common], help="one slug and title per line")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_templates_list)
    p = tsub.add_parser("install", parents=[common], help="install templates by slug")
    p.add_argument("slugs", nargs="+", metavar="SLUG")
    p.set_defaults(func=cmd_templates_install)
