"""The real session worker: its lifecycle (the client, the connect thread, a clean stop) and
the daemon's commands. With `bridge.worker.neonize_events` (what neonize's events do to the
session), the only modules of wabridge that import neonize.

Built the way neonize-notes §7.2 recommends, because neonize 0.5.2 can abort or wedge
its process:
- one sync `NewClient(session_db, uuid=phone)` per process on its own SQLite file,
  created 0600 (umask 077) before neonize opens it;
- every handler and the QR callback registered before `connect()` (Go learns the
  subscribed event types once, at connect), each wrapped so an exception is logged
  instead of vanishing into ctypes; handlers only convert and emit, except the
  deliberate wait for the daemon's ack of a message;
- `connect()` runs on its own thread; a failed connect is reported and the process
  exits 75 (restart in a fresh process: every connect() leaks a DB handle, §5.3);
- no neonize API call before the client is connected (nil-client SIGSEGV, §2.6), all
  calls behind one lock and a time bound (§7.1), PairPhone only once the first QR
  proved the socket is up (§2.3);
- fatal situations (logged out, stream replaced, ban, wrong number) end the process
  with `os._exit` instead of `stop()` tricks: after a QR timeout `connect()` never
  returns (§2.1), and measured here, `stop()` hangs for good while a dial is stuck.
  `stop()` is only attempted on a clean stop of a connected session, bounded.
- Go/whatsmeow logs reach structlog at INFO at most (never DEBUG stanza dumps); QR
  payloads, pair codes and message text are never logged.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping

import structlog
from neonize._binder import ProxySettings
from neonize.client import NewClient
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ContextInfo, ExtendedTextMessage
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as E2EMessage
from neonize.utils.enum import ClientName
from neonize.utils.jid import build_jid

from bridge.protocol import ExitCode, Frame, Logout, PairCode, PairPhone, SendText, Sent
from bridge.worker.base import Handler, ensure_private_file, wipe_session_files
from bridge.worker.neonize_events import LOGOUT_TIMEOUT_S, NeonizeEventHandlers
from bridge.worker.session_events import connect_failure_reason

log = structlog.get_logger("bridge.worker.neonize")

PROXY_ENV = "WABRIDGE_WORKER_PROXY"
SEND_TIMEOUT_S = 30.0
PAIR_PHONE_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 3.0


def outgoing_body(frame: SendText) -> E2EMessage:
    """The E2E message of a `send_text`: verbatim text (no mention parsing, no link preview,
    notes §3); with `reply_to`, an extendedTextMessage quoting that message (notes §4)."""
    if not frame.reply_to:
        return E2EMessage(conversation=frame.text)
    context = ContextInfo(stanzaID=frame.reply_to, participant=frame.quoted_sender or "",
                          quotedMessage=E2EMessage(conversation=frame.quoted_text or ""))
    return E2EMessage(extendedTextMessage=ExtendedTextMessage(text=frame.text, contextInfo=context))


class NeonizeWorker(NeonizeEventHandlers):
    """One WhatsApp linked-device session through neonize."""

    kind = "neonize"

    # ---- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        """Create the client, then connect on its own thread."""
        self._client = self.build_client()
        self._history.start()
        threading.Thread(target=self._connect, name="neonize-connect", daemon=True).start()

    def build_client(self) -> NewClient:
        """Create the 0600 session file and a client with every handler (no Go call yet)."""
        ensure_private_file(self.session_db)
        # Go reads its minimum log level from this logger at connect (notes §5.4).
        logging.getLogger("neonize.utils.log").setLevel(logging.INFO)
        client = NewClient(str(self.session_db), uuid=self.phone)
        client.qr(self._guarded("qr", self._on_qr))
        for event_type, handler in self.event_handlers().items():
            # A plain closure, not a bound method: neonize keeps bound methods weakly.
            client.event(event_type)(self._guarded(event_type.__name__, handler))
        self._client = client
        return client

    def shutdown(self, code: int) -> None:
        """On a clean stop of a connected session, ask Go to disconnect (bounded)."""
        self._cancel_qr_timer()
        if code != ExitCode.OK or self._client is None or self.state != "CONNECTED":
            return  # a wedged or dialing client cannot be stopped; os._exit follows
        try:
            self._call_api("stop", lambda client: client.stop(), STOP_TIMEOUT_S)
        except Exception as exc:
            log.info("neonize_stop_abandoned", error=str(exc)[:200])

    def command_handlers(self) -> Mapping[type[Frame], Handler]:
        """The daemon commands a real session supports (no sim_* ones)."""
        return {SendText: self._send_text, PairPhone: self._pair_phone, Logout: self._logout}

    def _connect(self) -> None:
        assert self._client is not None
        proxy_url = os.environ.get(PROXY_ENV, "").strip()
        proxy = ProxySettings(proxy_address=proxy_url) if proxy_url else None
        log.info("connecting", proxy=bool(proxy))
        try:
            self._client.connect(proxy)
        except Exception as exc:
            if self.exiting:
                return
            text = str(exc)
            reason = connect_failure_reason(text)
            log.warning("connect_failed", reason=reason, error=text[:300])
            self.set_state("DISCONNECTED", reason, text)
            self.request_exit(ExitCode.TEMPFAIL, "connect_failed")
            return
        if not self.exiting:
            self.set_state("DISCONNECTED", "stream_error", "the neonize event loop ended")
            self.request_exit(ExitCode.TEMPFAIL, "connect_returned")

    # ---- daemon commands (command thread) -------------------------------------------

    def _send_text(self, frame: SendText) -> None:
        connected = self._account_ok and self.state == "CONNECTED"
        to = self.checked_recipient(frame, connected)
        if to is None:
            return
        user, _, server = to.rpartition("@")
        body = outgoing_body(frame)
        try:
            response = self._call_api(
                "send_message",
                lambda client: client.send_message(build_jid(user, server), body),
                SEND_TIMEOUT_S,
            )
        except Exception as exc:
            self.send_failed(frame, f"{type(exc).__name__}: {exc}", True)
            return
        log.info("message_sent", request_id=frame.request_id, message_id=response.ID)
        self.send(Sent(request_id=frame.request_id, message_id=str(response.ID)))

    def _pair_phone(self, frame: PairPhone) -> None:
        if self._paired:
            # PairPhone on an authenticated session drops the socket (issue #175).
            self.command_failed(frame.request_id, "already paired")
            return
        if self.state not in ("SCAN_QR", "PAIRING_CODE"):
            self.command_failed(frame.request_id, "no pairing window: wait for SCAN_QR")
            return
        try:
            code = self._call_api(
                "PairPhone",
                lambda client: client.PairPhone(self.phone, True, ClientName.LINUX),
                PAIR_PHONE_TIMEOUT_S,
            )
        except Exception as exc:
            self.command_failed(frame.request_id, f"{type(exc).__name__}: {exc}")
            return
        log.info("pair_code_issued", request_id=frame.request_id)
        self.send(PairCode(request_id=frame.request_id, code=str(code)))
        self.set_state("PAIRING_CODE")

    def _logout(self, frame: Logout) -> None:
        self._account_ok = False
        if self.state == "CONNECTED":
            try:
                self._call_api("logout", lambda client: client.logout(), LOGOUT_TIMEOUT_S)
                log.info("logged_out_by_request")
            except Exception as exc:
                log.warning("logout_failed", error=str(exc)[:200])
                wipe_session_files(self.session_db)
        else:
            # No live socket to tell the server: at least destroy the local credentials.
            wipe_session_files(self.session_db)
        self.set_state("LOGGED_OUT", "logged_out_by_owner", "logout requested by the daemon")
        self.request_exit(ExitCode.LOGGED_OUT, "logout")
