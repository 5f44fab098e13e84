"""`wabridge leads create|set|import|delete`: change leads from the command line (issue #13).

The change is committed to the database as an event first, exactly as the HTTP API does.
With no daemon running (the data dir's lock, data_dir/daemon.lock, is free) the command
takes that lock and runs the processor itself; with a daemon running (it holds the lock),
the daemon notices the new event within a fraction of a second (PRAGMA data_version) and
applies it, and the command waits for the outcome. Either way the command returns after the change and its rule effects
committed. Changes made here are `change.by = cli` (an import: `import`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from bridge.backup.lock import DataDirBusyError, DataDirLock
from bridge.commands.common import Context, err, out, out_json, utc_now
from bridge.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bridge.leads.csv_import import ImportRefused, read_lead_csv
from bridge.leads.phones import normalise_lead_phone
from bridge.outbox.subscriptions import merged
from bridge.outbox.views import outbox_policy
from engine.changes import EDITABLE, ChangeError, LeadEdit, parse_edit
from store.lead_events import ChangeResult, LeadChange, import_counts, stored_result, submit_change
from store.leads import get_lead
from store.processor import Processor
from store.subscriptions import stored_subscriptions

WAIT_FOR_DAEMON = 60.0  # seconds to wait for a running daemon to apply the change
LOCK_ROLE = "wabridge leads"  # how the lock file names this command while it applies a change


def apply_change(ctx: Context, change: LeadChange) -> ChangeResult | None:
    """Commit the change and return its outcome once applied (None: the daemon did not in time)."""
    event_id = submit_change(ctx.db, change, utc_now())
    lock = DataDirLock(ctx.config.store.data_dir, LOCK_ROLE)
    try:
        lock.acquire()
    except DataDirBusyError:
        pass  # a daemon runs: it applies the change
    else:
        try:
            ruleset, _broken = ctx.ruleset()
            processor = Processor(ctx.db, ruleset, ctx.config.workspace.to_workspace(), utc_now)
            processor.outbox_policy = outbox_policy(ctx.config)
            # The daemon is stopped: queue the change's webhook events the way it would (it delivers them).
            processor.subscriptions = merged(ctx.config.subscriptions, stored_subscriptions(ctx.db))
            stats = processor.run()
        finally:
            lock.release()
        return stats.changes.get(event_id) or stored_result(ctx.db, event_id)
    deadline = time.monotonic() + WAIT_FOR_DAEMON
    while time.monotonic() < deadline:
        result = stored_result(ctx.db, event_id)
        if result is not None:
            return result
        time.sleep(0.05)
    return None


def _report(ctx: Context, result: ChangeResult | None, phone: str) -> int:
    if result is None:
        err("the change is saved, but the running daemon has not applied it yet; it will")
        return EXIT_FAILED
    if result.outcome != "ok":
        err(f"not changed: {result.message}")
        return EXIT_FAILED
    for run in result.runs:
        state = "error: " + run.error if run.error else ("fired" if run.fired else "did not fire")
        err(f"rule {run.rule_name!r} ({run.trigger}): {state}")
    lead = result.lead or get_lead(ctx.db, phone)
    if lead is not None:
        out_json(lead.to_dict())
    return EXIT_OK


def _edit(ctx: Context, raw: dict[str, Any]) -> LeadEdit:
    return parse_edit(raw, ctx.config.workspace.statuses)


def _fields(pairs: list[str] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ChangeError("--field", "%(pair)s is not KEY=VALUE (e.g. city=Bandung)", pair=repr(pair))
        values[key.strip()] = value
    return values


def cmd_create(ctx: Context, args: argparse.Namespace) -> int:
    """Create a lead by hand; lead.created rules fire (unless --no-rules)."""
    try:
        phone = normalise_lead_phone(args.phone)
        raw = {name: getattr(args, name) for name in EDITABLE if getattr(args, name, None) is not None}
        if args.tag:
            raw["tags"] = args.tag
        raw.update(_fields(args.field))
        edit = _edit(ctx, raw)
    except ChangeError as exc:
        err(str(exc))
        return EXIT_USAGE
    if get_lead(ctx.db, phone) is not None:
        err(f"not created: {phone} already has a lead (change it with `wabridge leads set`)")
        return EXIT_FAILED
    return _report(ctx, apply_change(ctx, LeadChange("create", "cli", phone, edit, rules=not args.no_rules)), phone)


def cmd_set(ctx: Context, args: argparse.Namespace) -> int:
    """Change a lead; a new status fires lead.status_changed rules (change.by = cli)."""
    try:
        phone = normalise_lead_phone(args.phone)
        raw = _fields(args.field)
        if args.status is not None:
            raw["status"] = args.status
        if args.note is not None:
            raw["notes"] = args.note
        if args.add_tag:
            raw["add_tags"] = args.add_tag
        if args.remove_tag:
            raw["remove_tags"] = args.remove_tag
        edit = _edit(ctx, raw)
    except ChangeError as exc:
        err(str(exc))
        return EXIT_USAGE
    if edit.empty:
        err("nothing to change: give --status, --note, --field KEY=VALUE, --add-tag or --remove-tag")
        return EXIT_USAGE
    if get_lead(ctx.db, phone) is None:
        err(f"not changed: no lead with phone {phone}")
        return EXIT_FAILED
    return _report(ctx, apply_change(ctx, LeadChange("patch", "cli", phone, edit)), phone)


def cmd_import(ctx: Context, args: argparse.Namespace) -> int:
    """Import a CSV: every row checked first; any bad row and nothing is imported."""
    try:
        raw = Path(args.file).read_bytes()
    except OSError as exc:
        err(f"{args.file}: {exc.strerror or exc}")
        return EXIT_USAGE
    try:
        plan = read_lead_csv(raw, tuple(ctx.config.workspace.statuses))
    except ImportRefused as exc:
        err(f"{args.file}: nothing imported:")
        for problem in exc.problems:
            err(f"  {problem}")
        return EXIT_FAILED
    columns = ", ".join(f"{header} → {name}" for header, name in plan.columns.items())
    ignored = f"; ignored: {', '.join(plan.ignored)}" if plan.ignored else ""
    err(f"{len(plan.rows)} rows; columns: {columns}{ignored}")
    if args.dry_run:
        counts = import_counts(ctx.db, plan.rows, utc_now(), ctx.config.workspace.statuses)
        out(f"dry run: would create {counts['created']}, update {counts['updated']}, "
            f"leave {counts['unchanged']} unchanged")
        return EXIT_OK
    result = apply_change(ctx, LeadChange("import", "import", rows=plan.rows, rules=not args.no_rules))
    if result is None or result.outcome != "ok":
        return _report(ctx, result, "")
    out(f"created {result.created}, updated {result.updated}, unchanged {result.unchanged}; "
        f"rules fired {result.fired}")
    return EXIT_OK


def cmd_delete(ctx: Context, args: argparse.Namespace) -> int:
    """Forget a customer: the lead, its messages, rule runs, history, undelivered outbox entries and
    whatever else names them (store.lead_events.forget_lead)."""
    try:
        phone = normalise_lead_phone(args.phone)
    except ChangeError as exc:
        err(str(exc))
        return EXIT_USAGE
    if get_lead(ctx.db, phone) is None:
        err(f"not deleted: no lead with phone {phone}")
        return EXIT_FAILED
    if not args.yes:
        if not sys.stdin.isatty():
            err(f"refusing to delete {phone} without --yes (no terminal to ask)")
            return EXIT_USAGE
        answer = input(f"Delete lead {phone} and erase its messages, rule runs and history? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            err("not deleted")
            return EXIT_FAILED
    result = apply_change(ctx, LeadChange("delete", "cli", phone))
    if result is None or result.outcome != "ok":
        return _report(ctx, result, phone)
    out(f"deleted {phone}")
    return EXIT_OK


def add_parsers(lsub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `leads create|set|import|delete` under `leads`."""
    when = ("Works with the daemon running (it applies the change and this command waits) or stopped "
            "(this command applies it). Phones in any common form: 0812-3456-7890, +62 812 3456 7890, 62812….")
    p = lsub.add_parser("create", parents=[common], help="create a lead by hand (fires lead.created rules)",
                        description="Create a lead. " + when)
    p.add_argument("phone", metavar="PHONE")
    for name in ("name", "status", "priority", "score", "notes", "city", "region", "country", "source",
                 "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"):
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar=name.split("_")[-1].upper())
    p.add_argument("--value", dest="value_actual", metavar="RUPIAH",
                   help="actual value, e.g. 1500000 or 'Rp 1.500.000'")
    p.add_argument("--potential", dest="value_potential", metavar="RUPIAH", help="potential value")
    p.add_argument("--tag", action="append", metavar="TAG", help="a tag (repeat for more)")
    p.add_argument("--field", action="append", metavar="KEY=VALUE", help="any other lead field")
    p.add_argument("--no-rules", action="store_true", help="do not run lead.created rules")
    p.set_defaults(func=cmd_create)

    p = lsub.add_parser("set", parents=[common], help="change a lead (a new status fires lead.status_changed)",
                        description="Change a lead's fields. " + when)
    p.add_argument("phone", metavar="PHONE")
    p.add_argument("--status", metavar="S", help="a status of the workspace, e.g. purchase")
    p.add_argument("--note", metavar="TEXT", help="replace the lead's notes")
    p.add_argument("--field", action="append", metavar="KEY=VALUE",
                   help=f"set a field (repeat); keys: {', '.join(EDITABLE)}; an empty VALUE clears it")
    p.add_argument("--add-tag", action="append", metavar="T", help="add a tag (repeat for more)")
    p.add_argument("--remove-tag", action="append", metavar="T", help="remove a tag (repeat for more)")
    p.set_defaults(func=cmd_set)

    p = lsub.add_parser("import", parents=[common], help="import leads from a CSV file (all rows or none)",
                        description="Import a UTF-8 CSV with a header row (phone, name, status, …, or aliases such "
                                    "as nama, no hp, whatsapp, kota, catatan). Any bad row: nothing is imported and "
                                    "every bad row is listed. Empty cells leave fields as they are. " + when)
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument("--no-rules", action="store_true", help="do not run lead.created / lead.status_changed rules")
    p.add_argument("--dry-run", action="store_true", help="check the file and say what it would do; change nothing")
    p.set_defaults(func=cmd_import)

    p = lsub.add_parser("delete", parents=[common], help="forget a customer (lead, messages, runs, history)",
                        description="Erase the lead, its messages, rule runs, history and undelivered outbox "
                                    "entries, the user ids known to be theirs, their attribution records and "
                                    "check-in attempts; a visitor click and a check-in of theirs stay counted "
                                    "without their phone or name. A later message from the phone starts a "
                                    "fresh lead. " + when)
    p.add_argument("phone", metavar="PHONE")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_delete)
