"""`wabridge rotators list|visitors|log` and `wabridge partners list`: attribution at a glance.

They read the database directly, so they work with or without a running daemon (clicks
of the last fraction of a second may still be in the daemon's buffer).
"""

from __future__ import annotations

import argparse
from typing import Any

from bridge.attribution.rotator import build_rotators
from bridge.attribution.service import rotator_report
from bridge.commands.common import Context, out, out_json
from bridge.errors import EXIT_OK
from engine.attribution import normalise_code
from store.partners import partner_channels
from store.visitors import VISITOR_STATES, attribution_log, list_visitors, rotator_stats


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    """Per rotator and number: clicks, bot clicks, visitors, upgraded leads."""
    labels = {n.phone: n.label for n in ctx.config.numbers}
    rotators = build_rotators(ctx.config.attribution.rotators, ctx.config.numbers)
    report = rotator_report(rotators, labels, rotator_stats(ctx.db), None)
    if args.json:
        out_json(report)
        return EXIT_OK
    if not report:
        out("no rotators: add [[numbers]] with rotator = \"NAME\" to config.toml")
    for rotator in report:
        out(f"{rotator['link']}  ({rotator['strategy']})  clicks {rotator['clicks']}  visitors {rotator['visitors']}"
            f"  upgraded {rotator['upgraded']}")
        out(f"  {'number':<16} {'label':<16} {'weight':>6} {'clicks':>7} {'bots':>5} {'visitors':>8} "
            f"{'waiting':>7} {'upgraded':>8} {'expired':>7}")
        for n in rotator["numbers"]:
            out(f"  {n['number']:<16} {n['label'][:16]:<16} {n['weight']:>6} {n['clicks']:>7} {n['bot_clicks']:>5} "
                f"{n['visitors']:>8} {n['waiting']:>7} {n['upgraded']:>8} {n['expired']:>7}")
    return EXIT_OK


def cmd_visitors(ctx: Context, args: argparse.Namespace) -> int:
    """The Website Visitors, newest first."""
    code = normalise_code(args.code) if args.code else None
    rows = list_visitors(ctx.db, state=args.state, rotator=args.rotator, code=code or args.code, limit=args.limit)
    if args.json:
        out_json(rows)
        return EXIT_OK
    for row in rows:
        campaign = row["utm_campaign"] or "-"
        out(f"{row['code']}  {row['state']:<8} {row['rotator']}/{row['number']}  source={row['source']} "
            f"campaign={campaign}  landed {row['landed_at']}" + (f"  lead {row['lead_phone']}" if row["lead_phone"]
                                                                   else ""))
    return EXIT_OK


def cmd_log(ctx: Context, args: argparse.Namespace) -> int:
    """Identity-upgrade decisions: which code upgraded which lead, which were ignored and why."""
    code = normalise_code(args.code) if args.code else None
    rows = attribution_log(ctx.db, code=code or args.code, limit=args.limit)
    if args.json:
        out_json(rows)
        return EXIT_OK
    for row in rows:
        why = row["detail"] if row["outcome"] == "upgraded" else row["reason"]
        out(f"{row['at']}  {row['code']}  {row['outcome']:<8} lead {row['lead_phone'] or '-'}  "
            f"message {row['inbox_id']}  {why}")
    return EXIT_OK


def cmd_partners(ctx: Context, args: argparse.Namespace) -> int:
    """Verify connection: per partner channel, whether a signed request has arrived and when."""
    rows: list[dict[str, Any]] = partner_channels(ctx.db)
    heard = {r["source"] for r in rows}
    for partner in ctx.config.attribution.partners:
        if partner.source not in heard:
            rows.append({"source": partner.source, "channel": None, "verified_at": None, "last_signed_at": None,
                         "requests": 0, "messages": 0})
    for row in rows:
        row["active"] = row["last_signed_at"] is not None
    if args.json:
        out_json(rows)
        return EXIT_OK
    if not rows:
        out("no partner channels: add [partners.SOURCE] to config.toml")
    for row in rows:
        state = "active" if row["active"] else "waiting for a signed request"
        channel = row["channel"] or "(none yet)"
        out(f"{row['source']}/{channel}: {state}; last signed {row['last_signed_at'] or 'never'}, "
            f"verified {row['verified_at'] or 'never'}, {row['messages']} message(s) in {row['requests']} request(s)")
    return EXIT_OK


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `rotators` and `partners`."""
    rot = sub.add_parser("rotators", help="rotator links: clicks, visitors, identity upgrades")
    rsub = rot.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = rsub.add_parser("list", parents=[common], help="per rotator and number: clicks, visitors, upgraded leads")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = rsub.add_parser("visitors", parents=[common], help="the Website Visitors, newest first")
    p.add_argument("--state", choices=VISITOR_STATES)
    p.add_argument("--rotator")
    p.add_argument("--code", help="one visitor, e.g. K-7QX4")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_visitors)
    p = rsub.add_parser("log", parents=[common], help="identity upgrades and ignored codes, with the reason")
    p.add_argument("--code", help="only this code")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_log)

    partners = sub.add_parser("partners", help="partner channels (official-API webhooks)")
    psub = partners.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = psub.add_parser("list", parents=[common], help="verify connection: signed requests per channel, and when")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_partners)
