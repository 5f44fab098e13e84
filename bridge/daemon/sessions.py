"""Session states as the daemon reports them, and the control surface the HTTP layer uses.

States follow WAHA/mautrix (peers.md): one explicit enum, a reason for the bad ones, and
the last transitions with timestamps, so an owner can tell "scan the QR" from "banned".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from bridge.i18n import N_
from engine.model import Message
from engine.operators import CompileEnv
from store.history_sync import HistoryProgress

if TYPE_CHECKING:
    from bridge.history.importer import Imported

T = TypeVar("T")


class SessionState(StrEnum):
    """Where one admin number's WhatsApp session is."""

    STOPPED = "STOPPED"  # not running (daemon stopping, or stopped by the owner)
    STARTING = "STARTING"  # worker process starting / connecting
    SCAN_QR = "SCAN_QR"  # waiting for the phone to scan the QR code
    PAIRING_CODE = "PAIRING_CODE"  # waiting for the phone to enter the 8-character code
    CONNECTED = "CONNECTED"  # paired and online: messages flow
    DISCONNECTED = "DISCONNECTED"  # transient: network down, reconnecting with backoff
    LOGGED_OUT = "LOGGED_OUT"  # the phone unlinked this device: pair again
    FAILED = "FAILED"  # gave up (wrong number, banned, keeps crashing): see reason


# Words for people, used by the pairing page and the dashboard (msgids: pages show them translated).
STATE_WORDS: Mapping[SessionState, str] = {
    SessionState.STOPPED: N_("Stopped"),
    SessionState.STARTING: N_("Starting…"),
    SessionState.SCAN_QR: N_("Waiting for you to scan the QR code"),
    SessionState.PAIRING_CODE: N_("Waiting for you to enter the code on the phone"),
    SessionState.CONNECTED: N_("Connected"),
    SessionState.DISCONNECTED: N_("Reconnecting (connection lost)"),
    SessionState.LOGGED_OUT: N_("Logged out: the phone removed this device. Pair again."),
    SessionState.FAILED: N_("Stopped after repeated problems"),
}

REASON_WORDS: Mapping[str, str] = {
    "logged_out": N_("The phone removed this linked device."),
    "logged_out_by_owner": N_("This device was logged out from wabridge (Log out or Re-pair)."),
    "temporary_ban": N_("WhatsApp temporarily banned this number."),
    "client_outdated": N_("WhatsApp says this client is outdated: update wabridge."),
    "stream_replaced": N_("This number was opened by another WhatsApp Web session."),
    "qr_exhausted": N_("Nobody scanned the QR code in time."),
    "wrong_number": N_("A different phone scanned the code; it was logged out."),
    "crashed": N_("The WhatsApp worker crashed and is restarted."),
    "network": N_("No network connection to WhatsApp."),
    "connect_failure": N_("WhatsApp refused the connection."),
    "keepalive_timeout": N_("The connection stopped answering."),
    "stream_error": N_("WhatsApp closed the connection with an error."),
    "too_many_failures": N_("It kept failing, so it was stopped. Restart it when the cause is fixed."),
    "frame_reader_failed": N_("The daemon stopped understanding this worker; it was restarted."),
    "start_failed": N_("The WhatsApp worker could not be started (see the daemon log); it is tried again."),
}

# Where a reason says more than its state's words (the owner's own logout is not the phone's doing;
# an unscanned QR round is not "repeated problems").
SPECIFIC_STATE_WORDS: Mapping[tuple[SessionState, str], str] = {
    (SessionState.LOGGED_OUT, "logged_out_by_owner"): N_("Logged out from the dashboard. Pair again to reconnect."),
    (SessionState.FAILED, "qr_exhausted"): N_("The QR code expired: nobody scanned it in time"),
}


def state_words(state: SessionState, reason: str | None) -> str:
    """The state in words for people (a msgid: pages translate it)."""
    return SPECIFIC_STATE_WORDS.get((state, reason or ""), STATE_WORDS[state])


@dataclass(frozen=True, slots=True)
class QrCode:
    """One QR code of a pairing round (never logged: it links a device)."""

    seq: int
    code: str
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Transition:
    """One state change, kept for the status endpoint."""

    at: datetime
    state: SessionState
    reason: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class SessionView:
    """A consistent snapshot of one admin number's session."""

    number: str
    label: str
    rotator: str
    state: SessionState
    reason: str | None = None
    detail: str | None = None
    linked_jid: str | None = None
    push_name: str | None = None
    last_message_at: datetime | None = None
    qr: QrCode | None = None
    pair_code: str | None = None
    transitions: tuple[Transition, ...] = ()
    restarts: int = 0
    messages_received: int = 0
    # Frames from the worker skipped by the reader: over the frame limit, or not a frame.
    frames_oversized: int = 0
    frames_unreadable: int = 0
    worker_pid: int | None = None
    version: int = 0  # increases on every change; lets pages wait for the next one
    attempted_phone: str | None = None  # the phone that tried to pair, for wrong_number
    history: HistoryProgress | None = None  # the phone's history sync stored so far
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The `/api/sessions` object (never includes the QR payload)."""
        return {
            "number": self.number,
            "label": self.label,
            "rotator": self.rotator,
            "state": self.state.value,
            "state_words": state_words(self.state, self.reason),
            "reason": self.reason,
            "reason_words": REASON_WORDS.get(self.reason or "", None),
            "detail": self.detail,
            "linked_jid": self.linked_jid,
            "push_name": self.push_name,
            "last_message_at": self.last_message_at.isoformat() if self.last_message_at else None,
            "qr_available": self.qr is not None,
            "restarts": self.restarts,
            "worker_pid": self.worker_pid,
            "messages_received": self.messages_received,
            "history": {**self.history.to_dict(), "words": history_words(self.history)}
            if self.history is not None else None,
            "transitions": [
                {"at": t.at.isoformat(), "state": t.state.value, "reason": t.reason, "detail": t.detail}
                for t in self.transitions
            ],
        }


class Words(Protocol):
    """What history_words needs of bridge.i18n.Wording (the page's language)."""

    def gettext(self, message: str) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int) -> str: ...

    def number(self, value: Any) -> str: ...


class _English:
    """The catalog's own English, for the plain JSON API."""

    def gettext(self, message: str) -> str:
        return message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return singular if n == 1 else plural

    def number(self, value: Any) -> str:
        return f"{value:,}"


def history_words(history: HistoryProgress | None, words: Words = _English()) -> str:  # noqa: B008 - stateless
    """The Numbers screen's line: "12,400 messages from 310 chats" (plus the phone's percentage)."""
    if history is None:
        return ""
    messages = words.ngettext("%(num)s message", "%(num)s messages", history.messages) % {
        "num": words.number(history.messages)}
    chats = words.ngettext("%(num)s chat", "%(num)s chats", history.chats) % {"num": words.number(history.chats)}
    text = words.gettext("%(messages)s from %(chats)s") % {"messages": messages, "chats": chats}
    if history.progress:
        text += " " + words.gettext("(the phone sent %(percent)s%%)") % {"percent": history.progress}
    return text


class UnknownNumberError(LookupError):
    """A number that is not in config.toml."""


class NotAvailableError(RuntimeError):
    """The request does not fit the session's state (e.g. no QR while CONNECTED)."""


class SessionControl(Protocol):
    """What the HTTP layer may ask of the daemon. Raise UnknownNumberError / NotAvailableError."""

    simulate: bool

    def sessions(self) -> list[SessionView]:
        """Every configured number, in config order."""
        ...

    def session(self, number: str) -> SessionView:
        """One number's snapshot."""
        ...

    async def wait_for_change(self, number: str, after_version: int, timeout: float) -> SessionView:
        """Return as soon as the session's version exceeds `after_version` (or at timeout)."""
        ...

    async def logout(self, number: str) -> None:
        """Unlink the device and forget the session."""
        ...

    async def restart(self, number: str) -> None:
        """Restart the worker (a new QR round for an unpaired number); clears FAILED."""
        ...

    async def request_pair_code(self, number: str) -> str:
        """Switch to phone-code pairing and return the 8-character code."""
        ...

    async def sim_scan(self, number: str, as_phone: str | None) -> None:
        """Simulator only: pair the number (as another phone to test the wrong-number guard)."""
        ...

    async def sim_inject(self, number: str, message: Mapping[str, Any]) -> dict[str, Any]:
        """Simulator only: deliver one message as if the phone saw it; returns its id."""
        ...

    async def import_history(self, messages: Sequence[Message], *, run_rules: bool) -> Imported:
        """Store history messages (a chat export) through the processor, in chunks, behind live messages."""
        ...

    async def sim_history(self, number: str, messages: list[Mapping[str, Any]], sync_type: str) -> int:
        """Simulator only: a history sync chunk as the phone sends after pairing; returns its size."""
        ...

    async def sim_backlog(self, number: str, messages: list[Mapping[str, Any]]) -> int:
        """Simulator only: messages delivered at once, as the backlog after a reconnect; returns its size."""
        ...

    async def sim_crash(self, number: str) -> None:
        """Simulator only: make the worker exit abnormally."""
        ...

    async def sim_received(self, number: str) -> list[dict[str, Any]]:
        """Simulator only: the messages this number sent, as the customers' phones received them."""
        ...

    async def list_leads(self, filters: Mapping[str, str], limit: int, offset: int) -> list[dict[str, Any]]:
        """Leads in the export format; raise ValueError naming an unknown filter."""
        ...

    async def list_leads_after(self, filters: Mapping[str, str], after_phone: str,
                               limit: int) -> list[dict[str, Any]]:
        """Like list_leads, in phone order: up to `limit` leads whose phone sorts after `after_phone`."""
        ...

    async def reload_rules(self) -> dict[str, Any]:
        """Reload rules from the database without touching sessions: {"rules", "invalid"}."""
        ...

    async def db_call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(db, *args, **kwargs)` on the store thread (the dashboard's rule routes)."""
        ...

    def rule_env(self) -> CompileEnv:
        """The validation environment for rules: the workspace's statuses and webhook endpoints."""
        ...

    async def lead_detail(self, phone: str) -> dict[str, Any] | None:
        """{"lead", "messages", "runs", "changes"} for one lead (dashboard), or None when unknown."""
        ...

    async def inbox(self, state: str, limit: int) -> list[dict[str, Any]]:
        """Newest inbox rows of one state (store.inbox.inbox_rows); "error" is the Unreadable list."""
        ...

    async def recent_runs(self, limit: int, errors_only: bool) -> list[dict[str, Any]]:
        """Newest rule runs first (store.runs.recent_runs), for the dashboard's Activity screen."""
        ...

    def readiness(self) -> dict[str, Any]:
        """{"ready": bool, "checks": {name: {"ok": bool, "detail": str}}}."""
        ...

    async def metrics(self) -> bytes:
        """Prometheus text exposition (backlogs freshly read from the database)."""
        ...
