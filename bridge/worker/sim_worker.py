"""The simulator: a session worker that speaks the real protocol without WhatsApp.

It exists so the whole daemon (supervisor, pairing pages, inbox, rules, replies) can
be run and tested without a phone or network, and it behaves like the neonize worker
where the daemon can tell the difference:
- pairing survives restarts and crashes: it is kept in the --session-db file (a tiny
  SQLite database, created 0600), so a paired number comes back CONNECTED;
- unpaired, it reports SCAN_QR and rotates WhatsApp-shaped QR payloads
  (``2@<b64>,<b64>,<b64>,<b64>``), 6 per round, the first valid 60 s and each next one
  20 s (WABRIDGE_SIM_QR_SECONDS="first,next" shortens this for tests); after the round
  it reports FAILED qr_exhausted and waits for the daemon to restart it;
- the wrong-number guard, logout, send failures while offline, journaled message
  delivery on one thread (like neonize's single event thread) and a Go-like abort.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

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
    SimCrash,
    SimHistory,
    SimInbox,
    SimMessage,
    SimReceived,
    SimScan,
)
from bridge.worker.base import (
    Handler,
    WorkerBase,
    ensure_private_file,
    in_seconds,
    iso,
    utc_now,
)
from bridge.worker.history import HistoryChunk, HistorySender, HistorySpool
from engine.model import MessageFormatError, parse_message, phone_to_jid

log = structlog.get_logger("bridge.worker.sim")

QR_SECONDS_ENV = "WABRIDGE_SIM_QR_SECONDS"
ECHO_ENV = "WABRIDGE_SIM_ECHO"  # "0": sent messages are not echoed back as from_me messages
RECEIVED_KEPT = 1000  # messages the simulated customers' phones keep
QR_CODES_PER_ROUND = 6
_PAIR_CODE_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"  # WhatsApp's (no 0/O/I/U)
_PHONE_RE = re.compile(r"^\+?[1-9][0-9]{6,14}$")


def qr_timings() -> tuple[float, float]:
    """Return (first, next) QR lifetimes in seconds from the environment or (60, 20)."""
    raw = os.environ.get(QR_SECONDS_ENV, "")
    try:
        first, following = (float(part) for part in raw.split(","))
    except ValueError:
        return 60.0, 20.0
    if first <= 0 or following <= 0:
        return 60.0, 20.0
    return first, following


def fake_qr_payload() -> str:
    """Return a random payload shaped like WhatsApp's QR: ref, noise key, identity, secret."""
    parts = [secrets.token_bytes(size) for size in (33, 32, 32, 32)]
    return "2@" + ",".join(base64.b64encode(part).decode("ascii") for part in parts)


def fake_pair_code() -> str:
    """Return an 8-character phone-link code formatted like ABCD-EFGH."""
    chars = "".join(secrets.choice(_PAIR_CODE_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


@dataclass(frozen=True, slots=True)
class SimDevice:
    """The simulated linked account."""

    jid: str
    phone: str
    lid: str
    push_name: str


class SimStore:
    """The pairing state, persisted in the session file so restarts resume it."""

    def __init__(self, path: Path) -> None:
        ensure_private_file(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sim_device (phone TEXT PRIMARY KEY, jid TEXT NOT NULL,"
            " lid TEXT NOT NULL, push_name TEXT NOT NULL, paired_at TEXT NOT NULL)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS sim_received (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")

    def load(self) -> SimDevice | None:
        """Return the stored device, if the number is paired."""
        with self._lock:
            row = self._db.execute("SELECT jid, phone, lid, push_name FROM sim_device").fetchone()
        return SimDevice(*row) if row else None

    def save(self, device: SimDevice) -> None:
        """Remember a pairing."""
        with self._lock:
            self._db.execute("DELETE FROM sim_device")
            self._db.execute(
                "INSERT INTO sim_device VALUES (?, ?, ?, ?, ?)",
                (device.phone, device.jid, device.lid, device.push_name, iso(utc_now())),
            )

    def record_received(self, message: dict[str, Any]) -> None:
        """A customer's phone received a message this number sent (kept across restarts)."""
        with self._lock:
            self._db.execute("INSERT INTO sim_received (payload) VALUES (?)", (json.dumps(message),))
            self._db.execute("DELETE FROM sim_received WHERE id <= (SELECT MAX(id) FROM sim_received) - ?",
                             (RECEIVED_KEPT,))

    def received(self) -> list[dict[str, Any]]:
        """What the customers' phones received, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT payload FROM sim_received ORDER BY id").fetchall()
        return [json.loads(row[0]) for row in rows]

    def forget(self) -> None:
        """Forget the pairing (logout)."""
        with self._lock:
            self._db.execute("DELETE FROM sim_device")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


class SimWorker(WorkerBase):
    """A simulated WhatsApp session for one admin number."""

    kind = "sim"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._lock = threading.RLock()
        self._store: SimStore | None = None
        self._device: SimDevice | None = None
        self._pairing_open = False
        self._qr_stop = threading.Event()
        self._qr_seq = 0
        self._deliveries: list[dict[str, Any]] = []
        self._echo = os.environ.get(ECHO_ENV, "1") != "0"
        self._delivery_ready = threading.Condition(self._lock)
        # History sync as the neonize worker does it: spooled, then sent chunk by chunk.
        self._history = HistorySender(HistorySpool(self.session_db), self.emit_and_wait,
                                      ready=lambda: self._device is not None and self.state == "CONNECTED",
                                      exiting=lambda: self.exiting)

    # ---- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        """Load the pairing state; come back CONNECTED or start a QR round."""
        self._store = SimStore(self.session_db)
        threading.Thread(target=self._deliver_forever, name="deliveries", daemon=True).start()
        self._history.start()
        device = self._store.load()
        if device is not None and device.phone == self.phone:
            log.info("session_resumed", jid=device.jid)
            self._go_online(device)
            return
        if device is not None:
            self._store.forget()
        self._pairing_open = True
        self.set_state("SCAN_QR")
        threading.Thread(target=self._qr_round, name="qr-round", daemon=True).start()

    def shutdown(self, code: int) -> None:
        """Stop the QR round and close the session file."""
        self._qr_stop.set()
        if self._store is not None:
            self._store.close()

    def command_handlers(self) -> Mapping[type[Frame], Handler]:
        """Every daemon command; the simulator supports the sim_* ones too."""
        return {
            SendText: self._send_text,
            PairPhone: self._pair_phone,
            Logout: self._logout,
            SimScan: self._scan,
            SimMessage: self._inject,
            SimHistory: self._history_sync,
            SimCrash: self._crash,
            SimReceived: self._list_received,
        }

    def _go_online(self, device: SimDevice) -> None:
        with self._lock:
            self._device = device
        self.send(Connected(jid=device.jid, push_name=device.push_name))
        self.set_state("CONNECTED")

    def _qr_round(self) -> None:
        first, following = qr_timings()
        for index in range(QR_CODES_PER_ROUND):
            lifetime = first if index == 0 else following
            with self._lock:
                if self._device is not None or self._qr_stop.is_set():
                    return
                self._qr_seq += 1
                now = utc_now()
                self.send(
                    Qr(
                        seq=self._qr_seq,
                        code=fake_qr_payload(),
                        issued_at=iso(now),
                        expires_at=iso(in_seconds(now, lifetime)),
                    )
                )
                log.info("qr_issued", seq=self._qr_seq, lifetime_s=lifetime)
            if self._qr_stop.wait(lifetime):
                return
        with self._lock:
            if self._device is None and not self._qr_stop.is_set():
                self._pairing_open = False
                self.set_state(
                    "FAILED", "qr_exhausted", f"{QR_CODES_PER_ROUND} QR codes expired unscanned"
                )

    # ---- commands -----------------------------------------------------------------

    def _pair_phone(self, frame: PairPhone) -> None:
        with self._lock:
            if self._device is not None:
                self.command_failed(frame.request_id, "already paired")
            elif not self._pairing_open:
                self.command_failed(frame.request_id, "no pairing window: wait for SCAN_QR")
            else:
                self.send(PairCode(request_id=frame.request_id, code=fake_pair_code()))
                self.set_state("PAIRING_CODE")

    def _scan(self, frame: SimScan) -> None:
        linked = (frame.as_ or self.phone).lstrip("+")
        with self._lock:
            if self._device is not None:
                self.command_failed(frame.request_id, "already paired")
                return
            if not self._pairing_open:
                self.command_failed(frame.request_id, "no QR code or pairing code is active")
                return
            if not _PHONE_RE.match(linked):
                self.command_failed(frame.request_id, f"as: {linked!r} is not a phone number")
                return
            self._pairing_open = False
            self._qr_stop.set()
            device = SimDevice(
                jid=phone_to_jid(linked),
                phone=linked,
                lid=f"{secrets.randbelow(9 * 10**14) + 10**14}@lid",
                push_name=f"Sim {linked[-4:]}",
            )
            self.send(
                Paired(jid=device.jid, phone=linked, lid=device.lid, push_name=device.push_name)
            )
            if linked != self.phone:
                # Wrong-number guard: never persist, never deliver, log out and leave.
                log.warning("wrong_number_linked", linked_phone=linked)
                self.set_state(
                    "FAILED",
                    "wrong_number",
                    f"linked phone {linked} is not the configured number {self.phone};"
                    " it was logged out",
                )
                self.request_exit(ExitCode.WRONG_NUMBER, "wrong_number")
                return
            assert self._store is not None
            self._store.save(device)
            log.info("paired", jid=device.jid)
            self._go_online(device)

    def _logout(self, frame: Logout) -> None:
        with self._lock:
            if self._store is not None:
                self._store.forget()
            self._device = None
            self._pairing_open = False
            self._qr_stop.set()
        self.set_state("LOGGED_OUT", "logged_out_by_owner", "logout requested by the daemon")
        self.request_exit(ExitCode.LOGGED_OUT, "logout")

    def _send_text(self, frame: SendText) -> None:
        connected = self._device is not None and self.state == "CONNECTED"
        to = self.checked_recipient(frame, connected)
        if to is None:
            return
        message_id = "3EB0" + secrets.token_hex(8).upper()
        now = utc_now().isoformat()
        log.info("message_sent", request_id=frame.request_id, message_id=message_id)
        assert self._store is not None
        self._store.record_received({"id": message_id, "to": to, "text": frame.text, "reply_to": frame.reply_to,
                                     "received_at": now})
        self.send(Sent(request_id=frame.request_id, message_id=message_id))
        if self._echo and self._device is not None:
            # Like the phone showing what a linked device sent: the same message, from_me.
            echo = {"id": message_id, "session": self.phone, "chat": to, "sender": self._device.jid,
                    "from_me": True, "is_group": to.endswith("@g.us"), "timestamp": now, "type": "text",
                    "text": frame.text, "channel_id": self.phone, "is_reply": bool(frame.reply_to),
                    "reply_to": frame.reply_to}
            with self._delivery_ready:
                self._deliveries.append(echo)
                self._delivery_ready.notify()

    def _list_received(self, frame: SimReceived) -> None:
        assert self._store is not None
        self.send(SimInbox(request_id=frame.request_id, messages=self._store.received()))

    def _inject(self, frame: SimMessage) -> None:
        if self._device is None or self.state != "CONNECTED":
            self.command_failed(frame.request_id, "not connected: pair the number first")
            return
        try:
            message = parse_message(self._complete(frame.message)).to_dict()
        except MessageFormatError as exc:
            self.command_failed(frame.request_id, f"invalid message: {exc}")
            return
        with self._delivery_ready:
            self._deliveries.append(message)
            self._delivery_ready.notify()

    def _history_sync(self, frame: SimHistory) -> None:
        if self._device is None or self.state != "CONNECTED":
            self.command_failed(frame.request_id, "not connected: pair the number first")
            return
        try:
            messages = [parse_message({**self._complete(m), "history": True}).to_dict() for m in frame.messages]
        except MessageFormatError as exc:
            self.command_failed(frame.request_id, f"invalid message: {exc}")
            return
        self._history.spool.write(HistoryChunk(frame.sync_type, 0, 0, messages))
        self._history.wake()

    def _complete(self, partial: dict[str, Any]) -> dict[str, Any]:
        """Fill DESIGN's defaults into an injected message (validated afterwards)."""
        raw = dict(partial)
        if raw.get("session") not in (None, self.phone):
            raise MessageFormatError("session", f"must be this worker's number {self.phone}")
        defaults = {
            "session": self.phone,
            "channel_id": self.phone,
            "id": "SIM" + secrets.token_hex(10).upper(),
            "timestamp": utc_now().isoformat(),
            "type": "text",
            "from_me": False,
        }
        for key, value in defaults.items():
            if raw.get(key) is None:  # omitted or null
                raw[key] = value
        for key in ("chat", "sender"):
            value = raw.get(key)
            if isinstance(value, str) and _PHONE_RE.match(value.strip()):
                raw[key] = phone_to_jid(value)
        chat, sender = raw.get("chat"), raw.get("sender")
        if raw["from_me"] is True:
            raw["sender"] = sender or phone_to_jid(self.phone)
        elif sender and not chat:
            raw["chat"] = sender
        elif chat and not sender and not str(chat).endswith("@g.us"):
            raw["sender"] = chat
        if raw.get("is_group") is None:
            raw["is_group"] = str(raw.get("chat") or "").endswith("@g.us")
        return raw

    def _deliver_forever(self) -> None:
        while True:
            with self._delivery_ready:
                while not self._deliveries:
                    self._delivery_ready.wait()
                message = self._deliveries.pop(0)
            log.info("message_received", message_id=message["id"], type=message["type"])
            self.emit_message(message)

    def _crash(self, frame: SimCrash) -> None:
        # Like a Go runtime abort: no cleanup, no last frame, no flushing.
        os._exit(int(ExitCode.GO_ABORT))
