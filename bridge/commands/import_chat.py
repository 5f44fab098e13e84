"""`wabridge import-chat FILE`: a WhatsApp "Export chat" (.txt or .zip) into a lead's history."""

from __future__ import annotations

import argparse
from pathlib import Path

from bridge.commands.common import Context, err, out, out_json, utc_now
from bridge.config import normalise_phone
from bridge.errors import EXIT_FAILED, EXIT_OK
from bridge.history.export_files import read_export_file
from bridge.history.importer import Preview, preview, store_history
from bridge.outbox.views import outbox_policy
from engine.chat_export import DATE_ORDERS, ExportError
from engine.chat_import import Sides
from store.leads import get_lead
from store.processor import Processor


def _admin(ctx: Context, number: str | None) -> str | None:
    """The admin number the chat was on: one of the config's, or any with no [[numbers]] set."""
    numbers = [n.phone for n in ctx.config.numbers]
    digits = normalise_phone(number) if number else ""
    if number and not 7 <= len(digits) <= 15:
        err(f"--number {number}: not a phone number")
        return None
    if digits and numbers and digits not in numbers:
        err(f"--number {number}: not an admin number in the config ({', '.join(numbers)})")
        return None
    if digits:
        return digits
    if len(numbers) == 1:
        return numbers[0]
    err("--number: which admin number had this chat? " + (f"one of {', '.join(numbers)}" if numbers
                                                            else "no [[numbers]] in the config"))
    return None


def print_preview(found: Preview, path: Path) -> None:
    """The dry run's summary, then each line not understood with its number."""
    data = found.to_dict()
    who = found.plan.customer_phone + (f" ({found.plan.customer_name})" if found.plan.customer_name else "")
    out(f"{path.name}: {data['layout']} export, dates {data['date_order']}, customer {who}")
    out(f"messages: {data['messages']} ({data['customer_messages']} customer, {data['team_messages']} team)")
    out(f"first: {data['first'] or '-'}  last: {data['last'] or '-'}")
    out(f"system lines skipped: {data['system_lines_skipped']}, "
        f"lines not understood: {data['lines_not_understood']}")
    for item in found.parsed.unparsed:
        err(f"{path}:{item[0]}: not understood: {item[1]}")


def cmd_import_chat(ctx: Context, args: argparse.Namespace) -> int:
    """Parse an export; print the dry run, or store it as history."""
    path = Path(args.file)
    if not path.is_file():
        err(f"{path}: no such file")
        return EXIT_FAILED
    admin = _admin(ctx, args.number)
    if admin is None:
        return EXIT_FAILED
    customer = normalise_phone(args.customer) if args.customer else None
    if args.customer and not customer:
        err(f"--customer {args.customer}: not a phone number")
        return EXIT_FAILED
    sides = Sides(admin, tuple(args.me or ()), customer)
    try:
        found = preview(read_export_file(path), sides, tz=ctx.config.workspace.to_workspace().tz,
                        date_order=args.date_order)
    except (ExportError, OSError) as exc:
        err(f"{path.name}: {exc}")
        return EXIT_FAILED
    if args.dry_run:
        if args.json:
            out_json({"dry_run": True, **found.to_dict()})
        else:
            print_preview(found, path)
        return EXIT_OK
    ruleset, broken = ctx.ruleset()
    processor = Processor(ctx.db, ruleset, ctx.config.workspace.to_workspace(), utc_now)
    processor.outbox_policy = outbox_policy(ctx.config)
    processor.history_rules = args.run_rules
    done = store_history(processor, found.plan.messages, utc_now())
    lead = get_lead(ctx.db, found.plan.customer_phone)
    for inbox_id, problem in done.processing.errors:
        err(f"inbox #{inbox_id}: not processed: {problem}")
    if args.json:
        out_json({**found.to_dict(), "new": done.new, "duplicates_skipped": done.duplicates,
                  "rules_fired": done.processing.fired, "outbox_queued": done.processing.queued,
                  "lead": lead.to_dict() if lead else None})
    else:
        print_preview(found, path)
        out(f"imported: {done.new} new, {done.duplicates} already there"
            + (f"; rules fired: {done.processing.fired}, outbox queued: {done.processing.queued}"
               if args.run_rules else " (history: no rules ran)"))
        if lead is not None:
            out(f"lead {lead.phone}: {lead.name or '(no name)'}, status {lead.status}, "
                f"chat count {lead.chat_count}, first seen {lead.created_at.isoformat() if lead.created_at else '-'}")
    return EXIT_OK if not done.processing.errors else EXIT_FAILED


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `import-chat`."""
    p = sub.add_parser(
        "import-chat", parents=[common], help="import a WhatsApp 'Export chat' file as a lead's history",
        description="Read a WhatsApp chat export (.txt, or the .zip WhatsApp makes) of one customer and "
                    "store its messages as history: the customer becomes a lead (or their lead is filled "
                    "in) with the right first-seen time, name and chat count. No rule runs unless "
                    "--run-rules. Importing the same file again changes nothing; a later export adds "
                    "only the new messages.",
    )
    p.add_argument("file", help="the exported .txt or .zip")
    p.add_argument("--number", help="the admin number the chat was on (needed with several numbers)")
    p.add_argument("--customer", help="the customer's phone, when the export shows them by name")
    p.add_argument("--me", action="append", metavar="NAME",
                   help="an author name of the business side (repeatable); the admin number is always one")
    p.add_argument("--date-order", choices=DATE_ORDERS,
                   help="day-first, month-first or year-first dates, when the file cannot tell")
    p.add_argument("--run-rules", action="store_true", help="run the rules on the messages, in time order")
    p.add_argument("--dry-run", action="store_true", help="show what would be imported; store nothing")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_import_chat)
