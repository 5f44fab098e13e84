"""`wabridge outbox list|retry|purge`: inspect and steer the outbox (webhooks, replies,
conversion events) in the database. A running daemon sees the changes within seconds."""

from __future__ import annotations

import argparse
from datetime import timedelta

from bridge.commands.common import Context, err, out, out_json, utc_now
from bridge.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, ConfigError
from bridge.outbox.settings import duration
from bridge.outbox.views import LIST_HEADER, describe, summary_line
from store.outbox import OUTBOX_KINDS, OUTBOX_STATES, list_outbox
from store.outbox_delivery import purge, retry_dead, retry_entry


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    """Entries newest first (secrets never shown; webhooks say signed/unsigned)."""
    rows = [describe(row, ctx.config) for row in list_outbox(ctx.db, state=args.state, kind=args.kind,
                                                              limit=args.limit)]
    if args.json:
        out_json(rows)
        return EXIT_OK
    if not rows:
        out("the outbox is empty" if not (args.state or args.kind) else "no entries match")
        return EXIT_OK
    out(LIST_HEADER)
    for row in rows:
        out(summary_line(row))
    return EXIT_OK


def cmd_retry(ctx: Context, args: argparse.Namespace) -> int:
    """Send one entry (or every dead letter) again now."""
    if (args.id is None) == (not args.all_dead):
        err("give an entry ID or --all-dead")
        return EXIT_USAGE
    if args.all_dead:
        count = retry_dead(ctx.db, utc_now())
        out(f"{count} dead entr{'y' if count == 1 else 'ies'} queued again")
        return EXIT_OK
    try:
        row = retry_entry(ctx.db, args.id, utc_now())
    except ValueError as exc:
        err(f"error: {exc}")
        return EXIT_FAILED
    out(f"entry {row['id']} ({row['kind']} to {row['target']}) queued again")
    return EXIT_OK


def cmd_purge(ctx: Context, args: argparse.Namespace) -> int:
    """Delete delivered (and dead) entries older than --older-than."""
    try:
        seconds = duration(args.older_than, "--older-than")
    except ConfigError as exc:
        err(f"--older-than {args.older_than!r}: expected {exc.expected}")
        return EXIT_USAGE
    states = tuple(args.state) if args.state else ("delivered", "dead")
    count = purge(ctx.db, utc_now() - timedelta(seconds=seconds), states)
    out(f"purged {count} entr{'y' if count == 1 else 'ies'} ({', '.join(states)}) older than {args.older_than}")
    return EXIT_OK


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `outbox`."""
    outbox = sub.add_parser("outbox", help="webhooks, replies and conversion events waiting, sent or dead")
    osub = outbox.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = osub.add_parser("list", parents=[common], help="entries, newest first")
    p.add_argument("--state", choices=OUTBOX_STATES, help="only entries in this state")
    p.add_argument("--kind", choices=OUTBOX_KINDS, help="only entries of this kind")
    p.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    p.add_argument("--json", action="store_true", help="JSON objects, as GET /api/outbox returns them")
    p.set_defaults(func=cmd_list)
    p = osub.add_parser("retry", parents=[common], help="send an entry (or every dead one) again now")
    p.add_argument("id", nargs="?", type=int, help="the entry id (see `outbox list`)")
    p.add_argument("--all-dead", action="store_true", help="every dead-lettered entry")
    p.set_defaults(func=cmd_retry)
    p = osub.add_parser("purge", parents=[common], help="delete delivered/dead entries older than a duration")
    p.add_argument("--older-than", required=True, metavar="DURATION", help='e.g. "7d", "12h"')
    p.add_argument("--state", action="append", choices=("delivered", "dead"),
                   help="only this state (repeatable; default: delivered and dead)")
    p.set_defaults(func=cmd_purge)
