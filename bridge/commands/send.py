"""`wabridge send PHONE "TEXT"`: send a WhatsApp message through the running daemon.

It goes through POST /api/messages, so the daemon's pacing, CONNECTED check and
at-most-once hand-over apply exactly as for the API and the lead page.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bridge.commands.common import Context, err, out_json
from bridge.commands.daemon import client_for
from bridge.errors import EXIT_FAILED, EXIT_OK


def cmd_send(ctx: Context, args: argparse.Namespace) -> int:
    """Queue one message; with --wait, wait until it is sent or failed."""
    client = client_for(ctx, args)
    if client is None:
        return EXIT_FAILED
    body: dict[str, Any] = {"to": args.phone, "text": args.text}
    if args.number:
        body["number"] = args.number
    if args.reply_to:
        body["reply_to"] = args.reply_to
    headers = {"X-Wabridge-Origin": "cli"}
    if args.idempotency_key:
        headers["Idempotency-Key"] = args.idempotency_key
    status, answer = client.call("POST", "/api/messages", body, headers=headers)
    if status != 202 or not isinstance(answer, dict):
        message = answer.get("error", {}).get("message") if isinstance(answer, dict) else answer
        err(f"error {status}: {message}")
        return EXIT_FAILED
    deadline = time.monotonic() + max(args.wait, 0.0)
    while answer.get("state") == "queued" and time.monotonic() < deadline:
        time.sleep(0.2)
        status, polled = client.call("GET", f"/api/messages/{answer['id']}")
        if status == 200 and isinstance(polled, dict):
            answer = polled
    out_json(answer)
    if answer.get("state") == "failed":
        err(f"message {answer['id']} failed: {answer.get('reason')}")
        return EXIT_FAILED
    return EXIT_OK


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `send`."""
    p = sub.add_parser("send", parents=[common], help="send a WhatsApp message through a linked number",
                       description="Queue a WhatsApp message in the running daemon (POST /api/messages). "
                                   "Without --number it goes through the admin number that last talked "
                                   "with this customer. Prints the message's state as JSON; exit 1 if it "
                                   "was refused or failed.")
    p.add_argument("phone", help="the customer's phone (+62 812-…, 0812…, digits) or JID")
    p.add_argument("text", help="the message text")
    p.add_argument("--number", help="the admin number that sends it")
    p.add_argument("--reply-to", help="quote this message (its WhatsApp id)")
    p.add_argument("--idempotency-key", help="the same key within 24 h never sends twice")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait up to SECONDS for sent/failed (default: return once queued)")
    p.add_argument("--url", help="the daemon's base URL (default from [http].listen)")
    p.set_defaults(func=cmd_send)
