"""`wabridge webhooks list|test NAME`: the event webhook subscriptions of the running daemon."""

from __future__ import annotations

import argparse
import time
from typing import Any

from bridge.commands.common import Context, err, out, out_json
from bridge.commands.daemon import client_for
from bridge.errors import EXIT_FAILED, EXIT_OK


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    """Every subscription (config.toml's and the dashboard's)."""
    client = client_for(ctx, args)
    if client is None:
        return EXIT_FAILED
    status, answer = client.call("GET", "/api/subscriptions")
    if status != 200 or not isinstance(answer, list):
        err(f"error {status}: {answer}")
        return EXIT_FAILED
    if args.json:
        out_json(answer)
    elif not answer:
        out("no subscriptions (add [[webhooks.subscriptions]] to config.toml, or use the Webhooks screen)")
    for item in [] if args.json else answer:
        signed = "signed" if item["signed"] else "unsigned"
        out(f"{item['name']:<20} {item['source']:<9} {signed:<8} {item['url']}  {', '.join(item['events'])}")
    return EXIT_OK


def cmd_test(ctx: Context, args: argparse.Namespace) -> int:
    """Queue a webhook.test event to one subscription; with --wait, until it is delivered or dead."""
    client = client_for(ctx, args)
    if client is None:
        return EXIT_FAILED
    status, answer = client.call("POST", f"/api/subscriptions/{args.name}/test", {})
    if status != 202 or not isinstance(answer, dict):
        message = answer.get("error", {}).get("message") if isinstance(answer, dict) else answer
        err(f"error {status}: {message}")
        return EXIT_FAILED
    entry: dict[str, Any] = {"id": answer["outbox_id"], "state": "pending"}
    deadline = time.monotonic() + max(args.wait, 0.0)
    while entry.get("state") in ("pending", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        status, deliveries = client.call("GET", f"/api/subscriptions/{args.name}/deliveries")
        if status == 200 and isinstance(deliveries, list):
            entry = next((d for d in deliveries if d["id"] == answer["outbox_id"]), entry)
    out_json(entry)
    if entry.get("state") == "dead" or (args.wait and entry.get("state") != "delivered"):
        err(f"test event not delivered: {entry.get('last_error') or entry.get('state')}")
        return EXIT_FAILED
    return EXIT_OK


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `webhooks list|test`."""
    hooks = sub.add_parser("webhooks", help="event webhook subscriptions of the running daemon")
    hsub = hooks.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = hsub.add_parser("list", parents=[common], help="every subscription")
    p.add_argument("--json", action="store_true")
    p.add_argument("--url", help="the daemon's base URL (default from [http].listen)")
    p.set_defaults(func=cmd_list)
    p = hsub.add_parser("test", parents=[common], help="send a webhook.test event to one subscription",
                        description="Queue a webhook.test event (docs/events.md) to the subscription NAME, "
                                    "through the outbox like every event. Exit 1 if it was refused, or with "
                                    "--wait if it was not delivered in time.")
    p.add_argument("name")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait up to SECONDS for the delivery (default: return once queued)")
    p.add_argument("--url", help="the daemon's base URL (default from [http].listen)")
    p.set_defaults(func=cmd_test)
