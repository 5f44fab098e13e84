"""`wabridge events create|list|codes|export|checkin`: event check-ins and vouchers from the shell.

Works on the database directly; a running daemon picks the changes up (its door pages
refresh within a few seconds).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any, TextIO

from bridge.commands.common import Context, err, out, out_json, utc_now, write_output
from bridge.csv_cells import csv_cell
from bridge.errors import EXIT_FAILED, EXIT_OK
from bridge.outbox.subscriptions import merged
from engine.attendance import Event, Result, compact_of, display, make_code, wa_link
from engine.event_spec import REPLY_KINDS, EventSpecError, local_hhmm, local_when, parse_event_spec
from store.checkins import event_counts, export_rows
from store.events import (
    AttendeeError,
    create_event,
    event_dict,
    event_of_code,
    generate_codes,
    get_event,
    import_attendees,
    list_codes,
    list_events,
)
from store.subscriptions import manual_check_in_told, stored_subscriptions

# Header names people use in attendee lists (Indonesian and English) → ours.
HEADER_ALIASES = {
    "name": "name", "nama": "name", "full name": "name", "nama lengkap": "name",
    "phone": "phone", "phone number": "phone", "hp": "phone", "no hp": "phone", "no. hp": "phone",
    "nomor hp": "phone", "telepon": "phone", "whatsapp": "phone", "wa": "phone", "no wa": "phone",
    "email": "email", "e-mail": "email", "surel": "email",
}


def _window(event: Event, ctx: Context) -> str:
    tz = ctx.config.workspace.to_workspace().tz
    return f"{local_when(event.starts_at, tz)} – {local_when(event.ends_at, tz)} ({ctx.config.workspace.timezone})"


def cmd_create(ctx: Context, args: argparse.Namespace) -> int:
    """Create an event or voucher campaign."""
    texts: dict[str, str] = {}
    for item in args.reply or ():
        kind, sep, text = item.partition("=")
        if not sep:
            err(f"--reply {item!r}: write KIND=TEXT, KIND one of {', '.join(REPLY_KINDS)}")
            return EXIT_FAILED
        texts[kind.strip()] = text
    raw: dict[str, Any] = {key: value for key, value in (
        ("name", args.name), ("number", args.number), ("start", args.start), ("end", args.end),
        ("mode", args.mode), ("uses", args.uses), ("slug", args.slug), ("prefix", args.prefix),
        ("keyword", args.keyword), ("status", args.status), ("capacity", args.capacity)) if value is not None}
    if args.tag is not None or args.no_tag:
        raw["tag"] = None if args.no_tag else args.tag
    if texts:
        raw["texts"] = texts
    workspace = ctx.config.workspace
    numbers = frozenset(n.phone for n in ctx.config.numbers) or None
    try:
        spec = parse_event_spec(raw, tz=workspace.to_workspace().tz, statuses=workspace.statuses, numbers=numbers)
        event = create_event(ctx.db, spec, utc_now())
    except EventSpecError as exc:
        flag = f"--reply {exc.field.split('.', 1)[1]}" if exc.field.startswith("texts.") else f"--{exc.field}"
        err(f"error: {flag}: {exc.problem}")
        return EXIT_FAILED
    if event.ends_at <= utc_now():  # created as asked, but nobody can check in: say so
        tz = ctx.config.workspace.to_workspace().tz
        err(f"warning: the end ({local_when(event.ends_at, tz)} {event.ends_at.astimezone(tz).tzname()}) is "
            "already past: every check-in would be refused; fix it with a later --end")
    if args.json:
        out_json(event_dict(event))
        return EXIT_OK
    out(f"created {event.mode} event {event.slug!r}: {event.name}, +{event.number}, {_window(event, ctx)}")
    example = display(make_code(event.prefix, "K3Q9T"))  # a valid code of this event, as an example
    out(f"codes look like {example}; attendees send \"{event.keyword} <code>\"")
    if event.mode == "open":
        (shared,) = list_codes(ctx.db, event)
        out(f"shared code {shared['code']}: {wa_link(event.number, event.keyword, compact_of(shared['code']))}")
    else:
        out(f"next: wabridge events codes {event.slug} --import attendees.csv  (or --generate N)")
    out("and once: wabridge templates install event-check-in voucher-redemption")
    return EXIT_OK


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    """Every event with its counts."""
    events = list_events(ctx.db)
    rows = [{**event_dict(e), "counts": event_counts(ctx.db, e)} for e in events]
    if args.json:
        out_json(rows)
        return EXIT_OK
    if not events:
        out("no events yet: wabridge events create --help")
    for event, row in zip(events, rows, strict=True):
        counts = row["counts"]
        expected = f"/{counts['expected']}" if counts["expected"] else ""
        out(f"{event.slug:<24} {event.mode:<7} +{event.number}  {_window(event, ctx)}  "
            f"in {counts['checked_in']}{expected}, duplicates {counts['duplicates']}, invalid {counts['invalid']}")
    return EXIT_OK


def read_attendees(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV attendee list with its headers mapped to name/phone/email (ValueError if none)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
        reader = csv.DictReader(handle, dialect=dialect)
        headers = {h: HEADER_ALIASES.get(" ".join((h or "").lower().split())) for h in reader.fieldnames or ()}
        if not {"name", "phone"} & set(headers.values()):
            raise ValueError(f"{path}: the first line must name the columns, with name and/or phone "
                             f"(found: {', '.join(h for h in headers if h) or 'nothing'})")
        return [{ours: (row.get(theirs) or "") for theirs, ours in headers.items() if ours} for row in reader]


def _write_qr(directory: Path, event: Event, codes: list[dict[str, Any]], fmt: str) -> None:
    from bridge.http.pairing import render_png, render_svg

    directory.mkdir(parents=True, exist_ok=True)
    render = render_png if fmt == "png" else render_svg
    for code in codes:
        (directory / f"{code['code']}.{fmt}").write_bytes(
            render(wa_link(event.number, event.keyword, compact_of(code["code"]))))
    err(f"wrote {len(codes)} QR code(s) to {directory}/ as {fmt.upper()}")


def cmd_codes(ctx: Context, args: argparse.Namespace) -> int:
    """List an event's codes, or issue new ones (--generate N, --import FILE.csv)."""
    event = get_event(ctx.db, args.event)
    try:
        if args.import_file:
            created = import_attendees(ctx.db, event, read_attendees(Path(args.import_file)), utc_now())
        elif args.generate:
            created = generate_codes(ctx.db, event, args.generate, utc_now())
        else:
            created = None
    except AttendeeError as exc:
        err(f"error: {args.import_file}: row {exc.row} (line {exc.row + 1}): {exc.field}: {exc.problem}; "
            "nothing was imported")
        return EXIT_FAILED
    except (EventSpecError, ValueError) as exc:
        err(f"error: {exc}")
        return EXIT_FAILED
    if created is not None:
        ids = {c.id for c in created}
        codes = [c for c in list_codes(ctx.db, event) if c["id"] in ids]
        err(f"issued {len(codes)} code(s) for {event.slug}")
    else:
        codes = list_codes(ctx.db, event)
    for code in codes:
        code["link"] = wa_link(event.number, event.keyword, compact_of(code["code"]))
    if args.qr_dir:
        _write_qr(Path(args.qr_dir), event, codes, args.format)
    if args.json:
        out_json(codes)
        return EXIT_OK
    for code in codes:
        uses = f"{code['used']}/{code['max_uses']}" if code["max_uses"] else f"{code['used']}"
        out(f"{code['code']}\t{code['name'] or ''}\t{code['phone'] or ''}\tused {uses}\t{code['link']}")
    return EXIT_OK


def cmd_export(ctx: Context, args: argparse.Namespace) -> int:
    """The event as CSV: one row per code with its check-ins (open events: one per check-in)."""
    event = get_event(ctx.db, args.event)
    rows = export_rows(ctx.db, event, ctx.config.workspace.to_workspace().tz)

    def write(handle: TextIO) -> int:
        if rows:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
        return len(rows)

    return write_output(args.output, write, "row(s)")


def cmd_checkin(ctx: Context, args: argparse.Namespace) -> int:
    """Check someone in by hand: by code, or by phone in an open event (--event, --phone)."""
    if args.code:
        event = get_event(ctx.db, args.event) if args.event else event_of_code(ctx.db, args.code)
    elif args.event:
        event = get_event(ctx.db, args.event)
    else:
        err("error: give a CODE, or --event and --phone for an open event")
        return EXIT_FAILED
    # Subscribers hear of it as they do of a check-in at the door page: a `checkin.recorded`
    # event queued with it (a running daemon delivers it, or the next one started).
    subscriptions = merged(ctx.config.subscriptions, stored_subscriptions(ctx.db))
    workspace = ctx.config.workspace.to_workspace()
    try:
        result = manual_check_in_told(ctx.db, event, code=args.code, phone=args.phone, name=args.name,
                                      now=utc_now(), subscriptions=subscriptions, workspace=workspace.name)
    except ValueError as exc:
        err(f"error: {exc}")
        return EXIT_FAILED
    tz = workspace.tz
    if result.result is Result.ALREADY_USED:
        err(f"{result.code} was already checked in at {local_hhmm(result.previous_at, tz)} ({event.slug})")
        return EXIT_FAILED
    assert result.checkin is not None
    if args.json:
        out(json.dumps(result.checkin, ensure_ascii=False))
    else:
        who = result.checkin["name"] or (f"+{result.checkin['phone']}" if result.checkin["phone"] else "guest")
        out(f"checked in: {who} ({display(compact_of(result.checkin['code']))}) to {event.name} "
            f"(check-in {result.checkin['id']}; undo it on the door page)")
    return EXIT_OK


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `events`."""
    events = sub.add_parser("events", help="event check-ins and vouchers: create, codes, export, manual check-in",
                            description="Events and voucher campaigns checked in over WhatsApp: attendees scan a "
                                        "QR code, send the pre-filled \"CHECKIN <code>\" and are checked in once.")
    esub = events.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = esub.add_parser("create", parents=[common], help="create an event or voucher campaign",
                        description="Create an event for one admin number. Times are in the workspace timezone "
                                    "unless they carry an offset. Modes: ticket (one code per attendee), open (one "
                                    "shared code, each phone checks in once), voucher (codes usable --uses times).",
                        epilog="example: wabridge events create --name \"Grand Opening\" --number 6281100000001 "
                               "--start \"2026-11-23 08:00\" --end \"2026-11-23 17:00\" --mode ticket")
    p.add_argument("--name", required=True, help="what attendees see in replies")
    p.add_argument("--number", required=True, help="the admin WhatsApp number attendees write to (digits)")
    p.add_argument("--start", required=True, help="when check-in opens, e.g. \"2026-11-23 08:00\"")
    p.add_argument("--end", required=True, help="when it closes (excluded), e.g. \"2026-11-23 17:00\"")
    p.add_argument("--mode", choices=("ticket", "open", "voucher"), default="ticket", help="default: ticket")
    p.add_argument("--uses", type=int, help="voucher mode: how many times each code can be used (default 1)")
    p.add_argument("--slug", help="short name in URLs and commands (default: from the name)")
    p.add_argument("--prefix", help="first part of every code, 2-6 characters without 0/O/1/I (default EVT<n>)")
    p.add_argument("--keyword", help="word the QR pre-fills before the code (default CHECKIN; vouchers REDEEM)")
    p.add_argument("--tag", help="tag the attendee's lead gets on check-in (default: attended)")
    p.add_argument("--no-tag", action="store_true", help="do not tag the lead")
    p.add_argument("--status", help="lead status set on check-in (default: unchanged)")
    p.add_argument("--capacity", type=int, help="open mode: how many people are expected")
    p.add_argument("--reply", action="append", metavar="KIND=TEXT",
                   help=f"custom reply ({', '.join(REPLY_KINDS)}); placeholders {{name}} {{event}} {{code}} "
                        "{time} {start} {end} {uses_left}; repeat for several")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_create)
    p = esub.add_parser("list", parents=[common], help="every event with its counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = esub.add_parser("codes", parents=[common], help="list, generate or import an event's codes (and QR files)",
                        description="Without options, list the event's codes with their use and wa.me link.",
                        epilog="CSV columns: name, phone, email (also nama, no hp, whatsapp, e-mail); "
                               "a phone written 0812... becomes 62812...")
    p.add_argument("event", metavar="EVENT", help="event slug or id")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--generate", type=int, metavar="N", help="issue N anonymous codes (tickets or vouchers)")
    group.add_argument("--import", dest="import_file", metavar="FILE.csv", help="one code per attendee in the CSV")
    p.add_argument("--qr-dir", metavar="DIR", help="also write one QR image per code into DIR")
    p.add_argument("--format", choices=("png", "svg"), default="png", help="QR image format (default png)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_codes)
    p = esub.add_parser("export", parents=[common], help="the event's codes and check-ins as CSV")
    p.add_argument("event", metavar="EVENT", help="event slug or id")
    p.add_argument("--output", "-o", help="write to this file instead of stdout")
    p.set_defaults(func=cmd_export)
    p = esub.add_parser("checkin", parents=[common], help="check someone in by hand (their phone died)",
                        description="Check in by code (the event is found from the code), or in an open event "
                                    "by phone. Refused if the code or phone is already checked in.")
    p.add_argument("code", nargs="?", metavar="CODE", help="the attendee's code, e.g. EVT7-K3Q9TZ")
    p.add_argument("--event", help="event slug or id (needed for open events)")
    p.add_argument("--phone", help="open events: the attendee's phone")
    p.add_argument("--name", help="the attendee's name (open events)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_checkin)
