"""What neonize's events do to a session: the neonize worker's event handlers and its state.

Every handler runs on neonize's callback thread and is registered before `connect()` (Go
learns the subscribed event types once, at connect: `NeonizeWorker.build_client` registers
`event_handlers()`), each wrapped so an exception is logged instead of vanishing into
ctypes. Handlers only convert and emit, except the deliberate wait for the daemon's ack of
a message. They cover the QR round, pairing, the linked-account check (wrong-number guard),
connection events, incoming messages and the phone's history sync.

What each connection event means (state, reason, exit code) is `bridge.worker.session_events`;
a MessageEv becomes a message dict in `bridge.worker.normalise`, a history sync chunk in
`bridge.worker.history`. The neonize calls live here too (`_call_api`: behind one lock and a
time bound, notes §7.1; `_lookup`: a handler's quick read-only call), because the handlers
and the daemon's commands (`bridge.worker.neonize_worker`) share them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import neonize.events as nev
import structlog
from neonize.client import NewClient
from neonize.utils.jid import build_jid

from bridge.protocol import Connected, ExitCode, Paired, Qr, Unreadable
from bridge.worker.base import WorkerBase, call_bounded, in_seconds, iso, utc_now, wipe_session_files
from bridge.worker.history import HistorySender, HistorySpool, normalise_history_sync
from bridge.worker.normalise import LID_SERVER, PN_SERVER, describe_failure, jid_str, normalise_message_event
from bridge.worker.session_events import DETAILS, TERMINAL, TRANSIENT, describe

log = structlog.get_logger("bridge.worker.neonize")

QR_FIRST_S, QR_NEXT_S, QR_GRACE_S = 60.0, 20.0, 5.0  # whatsmeow qrchan.go, notes §2.1
LOGOUT_TIMEOUT_S = 10.0
LOOKUP_LOCK_TIMEOUT_S = 2.0
WRONG_NUMBER_CONNECT_WAIT_S = 20.0
_PAIR_SUCCESS = 2  # neonize.PairStatus.PStatus.SUCCESS

T = TypeVar("T")
EventHandler = Callable[[NewClient, Any], None]


# The connection events of `session_events`, resolved to neonize's classes (a wrong name fails here).
_TERMINAL: dict[type[Any], tuple[str, str, ExitCode]] = {
    getattr(nev, name): outcome for name, outcome in TERMINAL.items()
}
_TRANSIENT: dict[type[Any], str] = {getattr(nev, name): reason for name, reason in TRANSIENT.items()}
_DETAILS: dict[type[Any], str] = {getattr(nev, name): template for name, template in DETAILS.items()}


class NeonizeEventHandlers(WorkerBase):
    """A neonize session's state and what neonize's events do to it (`NeonizeWorker` adds the
    client's lifecycle and the daemon's commands)."""

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

    def event_handlers(self) -> dict[type[Any], EventHandler]:
        """Every neonize event type the worker subscribes to, with its handler."""
        handlers: dict[type[Any], EventHandler] = {
            nev.PairStatusEv: self._on_pair_status,
            nev.ConnectedEv: self._on_connected,
            nev.KeepAliveRestoredEv: self._on_keepalive_restored,
            nev.UndecryptableMessageEv: self._on_undecryptable,
            nev.MessageEv: self._on_message,
            nev.HistorySyncEv: self._on_history_sync,
        }
        handlers.update(dict.fromkeys(_TERMINAL, self._on_terminal))
        handlers.update(dict.fromkeys(_TRANSIENT, self._on_transient))
        return handlers

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

    def _guarded(self, name: str, handler: EventHandler) -> Callable[..., None]:
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
                 progress=chunk.progress, messages=len(chunk.messages), skipped=chunk.skipped, names=len(chunk.names))
        if chunk.messages or chunk.names:
            self._history.spool.write(chunk)
            self._history.wake()
