"""The real session worker: the ONLY module of wabridge that imports neonize.

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

What each connection event means (state, reason, exit code) is `bridge.worker.session_events`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import neonize.events as nev
import structlog
from neonize._binder import ProxySettings
from neonize.client import NewClient
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ContextInfo, ExtendedTextMessage
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as E2EMessage
from neonize.utils.enum import ClientName
from neonize.utils.jid import build_jid

from bridge.protocol import (
    Connected,
    ExitCode,
    Frame,
    Logout,
    PairCode,
    Paired,
    PairPhone,
    Qr,
    SendText,
    Sent,
    Unreadable,
)
from bridge.worker.base import (
    Handler,
    WorkerBase,
    call_bounded,
    ensure_private_file,
    in_seconds,
    iso,
    utc_now,
    wipe_session_files,
)
from bridge.worker.history import HistorySender, HistorySpool, normalise_history_sync
from bridge.worker.normalise import LID_SERVER, PN_SERVER, describe_failure, jid_str, normalise_message_event
from bridge.worker.session_events import DETAILS, TERMINAL, TRANSIENT, connect_failure_reason, describe

log = structlog.get_logger("bridge.worker.neonize")

PROXY_ENV = "WABRIDGE_WORKER_PROXY"
QR_FIRST_S, QR_NEXT_S, QR_GRACE_S = 60.0, 20.0, 5.0  # whatsmeow qrchan.go, notes §2.1
SEND_TIMEOUT_S = 30.0
PAIR_PHONE_TIMEOUT_S = 30.0
LOGOUT_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 3.0
LOOKUP_LOCK_TIMEOUT_S = 2.0
WRONG_NUMBER_CONNECT_WAIT_S = 20.0
_PAIR_SUCCESS = 2  # neonize.PairStatus.PStatus.SUCCESS

T = TypeVar("T")


# The connection events of `session_events`, resolved to neonize's classes (a wrong name fails here).
_TERMINAL: dict[type[Any], tuple[str, str, ExitCode]] = {
    getattr(nev, name): outcome for name, outcome in TERMINAL.items()
}
_TRANSIENT: dict[type[Any], str] = {getattr(nev, name): reason for name, reason in TRANSIENT.items()}
_DETAILS: dict[type[Any], str] = {getattr(nev, name): template for name, template in DETAILS.items()}


def outgoing_body(frame: SendText) -> E2EMessage:
    """The E2E message of a `send_text`: verbatim text (no mention parsing, no link preview,
    notes §3); with `reply_to`, an extendedTextMessage quoting that message (notes §4)."""
    if not frame.reply_to:
        return E2EMessage(conversation=frame.text)
    context = ContextInfo(stanzaID=frame.reply_to, participant=frame.quoted_sender or "",
                          quotedMessage=E2EMessage(conversation=frame.quoted_text or ""))
    return E2EMessage(extendedTextMessage=ExtendedTextMessage(text=frame.text, contextInfo=context))


class NeonizeWorker(WorkerBase):
    """One WhatsApp linked-device session through neonize."""

    kind = "neonize"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._client: NewClient | None = None
        self._lock = threading.RLock()
        self._api_lock = threading.Lock()
        self._qr_count = 0
        self._qr_timer: threading.Timer | None = None
        self._paired = False  # the store holds credentials (pair success or connected)
        self._account_ok = False  # the linked account is --phone: messages may flow
        self._wrong_phone: str | None = None  # set once: the wrong-number guard fired
        self._connected = threading.Event()
        self._lid_cache: dict[str, str] = {}
        # The phone's history sync: spooled by the handler, sent by its own thread (bridge.worker.history).
        self._history = HistorySender(HistorySpool(self.session_db), self.emit_and_wait,
                                      ready=lambda: self._account_ok and self._wrong_phone is None,
                                      exiting=lambda: self.exiting)

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
        handlers: dict[type[Any], Callable[[NewClient, Any], None]] = {
            nev.PairStatusEv: self._on_pair_status,
            nev.ConnectedEv: self._on_connected,
            nev.KeepAliveRestoredEv: self._on_keepalive_restored,
            nev.UndecryptableMessageEv: self._on_undecryptable,
            nev.MessageEv: self._on_message,
            nev.HistorySyncEv: self._on_history_sync,
        }
        handlers.update(dict.fromkeys(_TERMINAL, self._on_terminal))
        handlers.update(dict.fromkeys(_TRANSIENT, self._on_transient))
        for event_type, handler in handlers.items():
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

    # ---- neonize calls ------------------------------------------------------------

    def _call_api(self, what: str, call: Callable[[NewClient], T], timeout: float) -> T:
        """Run one neonize call under the API lock, bounded in time."""
        client = self._client
        if client is None:
            raise RuntimeError("client not created")
        return call_bounded(self._api_lock, what, lambda: call(client), timeout)

    def _lookup(self, call: Callable[[NewClient], T]) -> T | None:
        """A quick read-only call from an event handler (client is registered there)."""
        if self._client is None or not self._api_lock.acquire(timeout=LOOKUP_LOCK_TIMEOUT_S):
            return None
        try:
            return call(self._client)
        except Exception as exc:
            log.info("neonize_lookup_failed", error=str(exc)[:200])
            return None
        finally:
            self._api_lock.release()

    def _resolve_pn(self, lid: str) -> str | None:
        if lid not in self._lid_cache:
            user = lid.split("@", 1)[0]
            found = self._lookup(lambda c: c.get_pn_from_lid(build_jid(user, LID_SERVER)))
            pn = getattr(found, "User", "") if found is not None else ""
            if not pn:
                return None  # not cached: the LID map may learn it later
            if len(self._lid_cache) > 10_000:
                self._lid_cache.clear()
            self._lid_cache[lid] = f"{pn}@{PN_SERVER}"
        return self._lid_cache[lid]

    def _me(self, client: NewClient) -> Any:
        me = getattr(client, "me", None)  # neonize keeps the Device event (None before it)
        if me is not None and me.JID.User:
            return me
        return self._lookup(lambda c: c.get_me())

    # ---- event handlers (neonize's callback thread) ---------------------------------

    def _guarded(self, name: str, handler: Callable[[NewClient, Any], None]) -> Callable[..., None]:
        def guarded(client: NewClient, event: Any) -> None:
            try:
                handler(client, event)
            except Exception as exc:
                log.exception("event_handler_failed", handler=name, error_type=type(exc).__name__)

        return guarded

    def _on_qr(self, client: NewClient, data: bytes) -> None:
        with self._lock:
            if self._paired:
                return
            self._qr_count += 1
            seq = self._qr_count
            lifetime = QR_FIRST_S if seq == 1 else QR_NEXT_S
            now = utc_now()
            if self.state != "PAIRING_CODE":
                self.set_state("SCAN_QR")
            code = data.decode("ascii", "replace")
            expires = in_seconds(now, lifetime)
            self.send(Qr(seq=seq, code=code, issued_at=iso(now), expires_at=iso(expires)))
            self._cancel_qr_timer()
            timer = threading.Timer(lifetime + QR_GRACE_S, self._on_qr_expired, args=(seq,))
            timer.daemon = True
            timer.start()
            self._qr_timer = timer
        log.info("qr_issued", seq=seq, lifetime_s=lifetime)

    def _cancel_qr_timer(self) -> None:
        with self._lock:
            if self._qr_timer is not None:
                self._qr_timer.cancel()
                self._qr_timer = None

    def _on_qr_expired(self, seq: int) -> None:
        with self._lock:
            if seq != self._qr_count or self._paired or self.exiting:
                return
        # whatsmeow gives up after the round and the client is wedged (notes §2.1): say so
        # and wait for the daemon to stop us; a fresh process brings a fresh round.
        self.set_state("FAILED", "qr_exhausted", f"{seq} QR codes expired without a scan")

    def _on_pair_status(self, client: NewClient, ev: Any) -> None:
        if ev.Status != _PAIR_SUCCESS:
            log.warning("pair_failed", error=str(ev.Error)[:200])
            self.set_state("DISCONNECTED", "connect_failure", f"pairing failed: {ev.Error}")
            self.request_exit(ExitCode.TEMPFAIL, "pair_failed")
            return
        linked = str(ev.ID.User).split(":", 1)[0]
        jid = f"{linked}@{ev.ID.Server or PN_SERVER}"
        me = getattr(client, "me", None)
        lid = jid_str(me.LID) if me is not None else None
        push_name = (me.PushName or None) if me is not None else None
        with self._lock:
            self._paired = True
        self._cancel_qr_timer()
        if linked != self.phone:
            paired = Paired(jid=jid, phone=linked, lid=lid, push_name=push_name)
            self._guard_wrong_number(linked, before_frame=paired)
            return
        self._account_ok = True
        log.info("paired", jid=jid)
        self.send(Paired(jid=jid, phone=linked, lid=lid, push_name=push_name))

    def _on_connected(self, client: NewClient, ev: Any) -> None:
        me = self._me(client)
        user = str(getattr(me.JID, "User", "")) if me is not None else ""
        with self._lock:
            self._paired = True
        self._cancel_qr_timer()
        self._connected.set()
        if user != self.phone:
            if user:
                self._guard_wrong_number(user, before_frame=None)
            else:
                self._account_ok = False
                self.set_state("DISCONNECTED", "connect_failure", "linked account unknown")
                self.request_exit(ExitCode.TEMPFAIL, "identity_unknown")
            return
        self._account_ok = True
        push_name = (me.PushName or None) if me is not None else None
        self.send(Connected(jid=f"{user}@{PN_SERVER}", push_name=push_name))
        self.set_state("CONNECTED")

    def _guard_wrong_number(self, linked: str, before_frame: Paired | None) -> None:
        """Block every message of a foreign account, report it, then log it out."""
        with self._lock:
            self._account_ok = False
            first = self._wrong_phone is None
            self._wrong_phone = self._wrong_phone or linked
        if before_frame is not None:
            self.send(before_frame)
        if first:
            log.warning("wrong_number_linked", linked_phone=linked)
            self.submit(lambda: self._reject_wrong_number(linked))

    def _reject_wrong_number(self, linked: str) -> None:
        self._connected.wait(WRONG_NUMBER_CONNECT_WAIT_S)  # logout needs a live socket
        try:
            self._call_api("logout", lambda client: client.logout(), LOGOUT_TIMEOUT_S)
            log.info("wrong_number_logged_out", linked_phone=linked)
        except Exception as exc:
            log.warning("wrong_number_logout_failed", error=str(exc)[:200])
            wipe_session_files(self.session_db)
        self.set_state(
            "FAILED",
            "wrong_number",
            f"linked phone {linked} is not the configured number {self.phone}; it was logged out",
        )
        self.request_exit(ExitCode.WRONG_NUMBER, "wrong_number")

    def _on_terminal(self, client: NewClient, ev: Any) -> None:
        state, reason, code = _TERMINAL[type(ev)]
        self._account_ok = False
        self.set_state(state, reason, describe(ev, _DETAILS[type(ev)]))
        self.request_exit(code, reason)

    def _on_transient(self, client: NewClient, ev: Any) -> None:
        # whatsmeow reconnects by itself after these: report, keep the process.
        self.set_state("DISCONNECTED", _TRANSIENT[type(ev)], describe(ev, _DETAILS[type(ev)]))

    def _on_keepalive_restored(self, client: NewClient, ev: Any) -> None:
        if self._account_ok:
            self.set_state("CONNECTED")

    def _on_undecryptable(self, client: NewClient, ev: Any) -> None:
        log.info("message_undecryptable", message_id=str(ev.Info.ID))

    def _on_message(self, client: NewClient, ev: Any) -> None:
        if self._wrong_phone is not None:
            log.warning("message_dropped", message_id=str(ev.Info.ID), reason="wrong_number")
            return  # never deliver a foreign account's messages
        if not self._account_ok:
            # Offline backlog can precede ConnectedEv: check the account from client.me.
            me = self._me(client)
            user = str(getattr(me.JID, "User", "")) if me is not None else ""
            if user and user != self.phone:
                self._guard_wrong_number(user, before_frame=None)
                return
            if not user:
                # Unverifiable: do not return (that would send the receipt); restart
                # instead, and WhatsApp re-delivers the message to the fresh process.
                self.set_state("DISCONNECTED", "connect_failure", "linked account unknown")
                self.request_exit(ExitCode.TEMPFAIL, "identity_unknown")
                self.park()
            self._account_ok = True
        try:
            message = normalise_message_event(ev, session=self.phone, resolve_pn=self._resolve_pn)
        except Exception as exc:  # kept visibly by the daemon, never dropped in silence
            reference, reason, excerpt = describe_failure(ev, exc)
            log.warning("message_unreadable", message_id=reference, error_type=type(exc).__name__)
            self.send(Unreadable(reference=reference, reason=reason, excerpt=excerpt))
            return
        if message is None:
            log.debug("message_skipped", message_id=str(ev.Info.ID))
            return
        log.info("message_received", message_id=message["id"], type=message["type"])
        self.emit_message(message)  # journaled: survives this process; the daemon gets it next

    def _on_history_sync(self, client: NewClient, ev: Any) -> None:
        # Spool first, then return: whatsmeow tells the phone "hist_sync" received only after
        # this handler returns, and the spool survives a restart (bridge.worker.history).
        if not self._account_ok and self._wrong_phone is None:
            me = self._me(client)  # the history can come before ConnectedEv, like the offline backlog
            self._account_ok = str(getattr(me.JID, "User", "")) == self.phone if me is not None else False
        if self._wrong_phone is not None or not self._account_ok:
            log.warning("history_sync_dropped", reason="linked account not verified")
            return
        chunk = normalise_history_sync(ev.Data, session=self.phone, resolve_pn=self._resolve_pn)
        log.info("history_sync_received", sync_type=chunk.sync_type, chunk_order=chunk.chunk_order,
                 progress=chunk.progress, messages=len(chunk.messages), skipped=chunk.skipped)
        if chunk.messages:
            self._history.spool.write(chunk)
            self._history.wake()

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
