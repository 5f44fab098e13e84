"""`wabridge run`, `pair` and `sim …`: the daemon and its clients."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import qrcode
import structlog

from bridge.backup.lock import DataDirBusyError, DataDirLock, interrupted_restore
from bridge.commands.common import Context, err, out, out_json
from bridge.config import normalise_phone
from bridge.daemon.tokens import read_token
from bridge.errors import EXIT_BUSY, EXIT_CORRUPT, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from store.backup import integrity_problems

log = structlog.get_logger(__name__)
LEADS_COMMAND_WAIT = 60.0  # seconds a starting daemon waits for a `wabridge leads` command's lock


def cmd_run(ctx: Context, args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM/SIGINT."""
    from bridge.daemon.app import Daemon

    listen = None
    if args.listen:
        host, _, port = args.listen.rpartition(":")
        if not host or not port.isdigit():
            err(f"--listen {args.listen!r}: expected HOST:PORT, e.g. 127.0.0.1:8787")
            return EXIT_USAGE
        listen = (host.strip("[]"), int(port))
    if not ctx.config.numbers and not args.simulate:
        err("no [[numbers]] in the config: add the admin numbers to config.toml "
            "(see config.example.toml), or try `wabridge run --simulate`")
        return EXIT_FAILED
    # A tuning knob for tests and demos: how long one QR round lasts before it is ended.
    qr_round = float(os.environ.get("WABRIDGE_QR_ROUND_SECONDS", "165"))
    refused = _claim_data_dir(ctx)
    if isinstance(refused, int):
        return refused
    daemon = Daemon(ctx.config, simulate=args.simulate, listen=listen, qr_round_seconds=qr_round)
    host, port = daemon.listen

    def show_pairing_pages() -> None:
        for phone in daemon.numbers:
            err(f"pairing page for {phone}: http://{host}:{port}/pair/{phone}")

    try:
        asyncio.run(daemon.run_until_signalled(show_pairing_pages))
    finally:
        refused.release()
    return EXIT_OK


def _claim_data_dir(ctx: Context) -> DataDirLock | int:
    """The daemon's lock on its data dir, after the start checks; or the exit code that refuses."""
    data_dir, db_path = ctx.config.store.data_dir, ctx.db_path
    config = f" --config {ctx.config.source}" if ctx.config.source else ""
    deadline = time.monotonic() + LEADS_COMMAND_WAIT
    while True:
        try:
            lock = DataDirLock(data_dir, "wabridge run").acquire()
            break
        except DataDirBusyError as exc:
            # A `wabridge leads …` command applying its change holds the lock for a moment: wait.
            if exc.holder.startswith("wabridge leads") and time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            err(f"error: {data_dir} is in use by {exc.holder}: one daemon per data dir (is it already running?)")
            return EXIT_BUSY
    if interrupted_restore(data_dir):
        lock.release()
        err(f"error: a restore into {data_dir} was interrupted: run the same `wabridge{config} restore …` "
            f"again to finish it")
        return EXIT_BUSY
    problems = integrity_problems(db_path, writable=True) if db_path.exists() else []
    if problems:
        lock.release()
        log.critical("database_corrupt", path=str(db_path), problems=problems[:5])
        first = next((line for p in problems for line in p.splitlines() if not line.startswith("***")), "")
        err(f"error: the database {db_path} fails PRAGMA quick_check ({first[:200]}); the daemon will not "
            f"start on it. Restore it: `wabridge{config} restore BACKUP_DIR` (from `wabridge backup`) or "
            f"`wabridge{config} restore --from-replica` (from the Litestream replica).")
        return EXIT_CORRUPT
    return lock


class Client:
    """A small HTTP client for the running daemon (token from config or <data_dir>/api-token)."""

    def __init__(self, ctx: Context, base: str | None) -> None:
        self.base = (base or f"http://{ctx.config.http.host}:{ctx.config.http.port}").rstrip("/")
        self.token = read_token(ctx.config.http.token, ctx.config.store.data_dir)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """One request; returns (status, parsed JSON or text)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token or ''}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode("utf-8", "replace")


def client_for(ctx: Context, args: argparse.Namespace) -> Client | None:
    """A client of the running daemon, or None (reported) when there is no API token."""
    return _client(ctx, args)


def _client(ctx: Context, args: argparse.Namespace) -> Client | None:
    client = Client(ctx, args.url)
    if client.token is None:
        err(f"no API token: start the daemon once (`wabridge run`), or set [http].token; "
            f"looked in {ctx.config.store.data_dir / 'api-token'}")
        return None
    return client


def _report(status: int, body: Any) -> int:
    if 200 <= status < 300:
        if body not in (None, ""):
            out_json(body)
        return EXIT_OK
    message = body.get("error", {}).get("message") if isinstance(body, dict) else body
    err(f"error {status}: {message}")
    return EXIT_FAILED


def cmd_sim_send(ctx: Context, args: argparse.Namespace) -> int:
    """Inject one message into a simulated number."""
    client = _client(ctx, args)
    if client is None:
        return EXIT_FAILED
    body: dict[str, Any] = {"text": args.text, "from_me": args.team, "type": args.type}
    customer = f"{normalise_phone(args.from_phone)}@s.whatsapp.net"
    body["chat"] = customer
    if not args.team:
        body["sender"] = customer
    if args.name:
        body["sender_name"] = args.name
    return _report(*client.call("POST", f"/sim/{normalise_phone(args.number)}/messages", body))


def cmd_sim_scan(ctx: Context, args: argparse.Namespace) -> int:
    """Pair a simulated number (optionally as another phone)."""
    client = _client(ctx, args)
    if client is None:
        return EXIT_FAILED
    body = {"as": normalise_phone(args.as_phone)} if args.as_phone else {}
    status, answer = client.call("POST", f"/sim/{normalise_phone(args.number)}/scan", body)
    if 200 <= status < 300 and isinstance(answer, dict) and answer.get("state") != "CONNECTED":
        # The scan was taken but did not link (e.g. the wrong-number guard): say why, exit non-zero.
        err(f"{answer.get('state')}: {answer.get('reason_words') or answer.get('state_words')}")
        return EXIT_FAILED
    return _report(status, answer)


def cmd_sim_received(ctx: Context, args: argparse.Namespace) -> int:
    """What the simulated customers' phones received from a number."""
    client = _client(ctx, args)
    if client is None:
        return EXIT_FAILED
    query = f"?to={normalise_phone(args.to)}" if args.to else ""
    return _report(*client.call("GET", f"/sim/{normalise_phone(args.number)}/received{query}"))


def cmd_sim_crash(ctx: Context, args: argparse.Namespace) -> int:
    """Make a simulated worker crash."""
    client = _client(ctx, args)
    if client is None:
        return EXIT_FAILED
    return _report(*client.call("POST", f"/sim/{normalise_phone(args.number)}/crash", {}))


def cmd_pair(ctx: Context, args: argparse.Namespace) -> int:
    """Show a number's pairing QR in the terminal (for SSH) until it is connected."""
    client = _client(ctx, args)
    if client is None:
        return EXIT_FAILED
    number = normalise_phone(args.number)
    if args.phone_code:
        status, body = client.call("POST", f"/api/sessions/{number}/pair-code", {})
        if status != 200:
            return _report(status, body)
        out(f"On the phone: WhatsApp > Linked devices > Link a device > Link with phone number "
            f"instead, then type: {body['code']}")
    shown = -1
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        status, session = client.call("GET", f"/api/sessions/{number}")
        if status != 200:
            return _report(status, session)
        state = session["state"]
        if state == "CONNECTED":
            out(f"connected: {number} is linked{' as ' + session['push_name'] if session.get('push_name') else ''}")
            return EXIT_OK
        if state in ("FAILED", "LOGGED_OUT"):
            err(f"{state}: {session.get('reason_words') or session.get('reason')}; "
                f"start a new round with `wabridge pair {number} --restart`")
            if not args.restart:
                return EXIT_FAILED
            client.call("POST", f"/api/sessions/{number}/restart", {})
            args.restart = False
        if state == "SCAN_QR" and not args.phone_code:
            status, qr = client.call("GET", f"/pair/{number}/qr.json")
            if status == 200 and qr.get("seq") != shown:
                shown = qr["seq"]
                code = qrcode.QRCode(border=2)
                code.add_data(qr["qr"])
                out("\nScan with the admin phone: WhatsApp > Linked devices > Link a device")
                code.print_ascii(out=sys.stdout, invert=True)
                out(f"(code {shown}, valid until {qr['expires_at']})")
        time.sleep(1)
    err("timed out waiting for the phone")
    return EXIT_FAILED


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `run`, `pair`, `sim`."""
    p = sub.add_parser("run", parents=[common], help="run the daemon (WhatsApp sessions, rules, HTTP)",
                       description="Run wabridge: one WhatsApp worker per admin number, the rules, and the "
                                   "HTTP server with the pairing pages. Stops cleanly on SIGTERM; SIGHUP "
                                   "reloads rules without reconnecting.")
    p.add_argument("--simulate", action="store_true",
                   help="use the built-in WhatsApp simulator instead of real phones (adds /sim/* routes)")
    p.add_argument("--listen", metavar="HOST:PORT", help="override [http].listen")
    p.set_defaults(func=cmd_run)

    url_help = "the daemon's base URL (default from [http].listen)"
    p = sub.add_parser("pair", parents=[common], help="show a number's pairing QR code in the terminal")
    p.add_argument("number")
    p.add_argument("--phone-code", action="store_true", help="pair with an 8-character code instead of a QR")
    p.add_argument("--restart", action="store_true", help="start a new pairing round if the last one ended")
    p.add_argument("--timeout", type=float, default=300, help="seconds to wait (default 300)")
    p.add_argument("--url", help=url_help)
    p.set_defaults(func=cmd_pair)

    sim = sub.add_parser("sim", help="drive the simulator of a daemon started with --simulate")
    ssub = sim.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = ssub.add_parser("send", parents=[common], help="inject a message into a simulated number")
    p.add_argument("number", help="the admin number that receives it")
    p.add_argument("--text", required=True)
    p.add_argument("--from", dest="from_phone", default="6281234567890", help="the customer's phone")
    p.add_argument("--name", help="the customer's WhatsApp name")
    p.add_argument("--team", action="store_true", help="sent by the admin phone (Team/CS) instead")
    p.add_argument("--type", default="text")
    p.add_argument("--url", help=url_help)
    p.set_defaults(func=cmd_sim_send)
    p = ssub.add_parser("scan", parents=[common], help="pair a simulated number")
    p.add_argument("number")
    p.add_argument("--as", dest="as_phone", help="pair as this other phone (the wrong-number guard)")
    p.add_argument("--url", help=url_help)
    p.set_defaults(func=cmd_sim_scan)
    p = ssub.add_parser("received", parents=[common],
                        help="what the simulated customers' phones received from a number (oldest first)")
    p.add_argument("number", help="the admin number that sent")
    p.add_argument("--to", help="only what this customer's phone received")
    p.add_argument("--url", help=url_help)
    p.set_defaults(func=cmd_sim_received)
    p = ssub.add_parser("crash", parents=[common], help="make a simulated worker crash")
    p.add_argument("number")
    p.add_argument("--url", help=url_help)
    p.set_defaults(func=cmd_sim_crash)
