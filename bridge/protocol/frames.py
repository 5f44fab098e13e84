"""The frame types of the protocol (`bridge.protocol`), and the values their fields take.

Frame types live in one registry (`FRAMES`): a frozen dataclass per type whose fields are
the wire fields, registered by its `@_frame(name, sender)` line, so adding a frame is one
decorated class. A field's `choices` metadata limits its values (checked by the codec);
its `wire` metadata names it on the wire when the Python name cannot (`as`).
`WORKER_FRAMES` / `DAEMON_FRAMES` say who may send which type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

PROTOCOL_VERSION = 1

WORKER = "worker"  # frames the worker sends (worker -> daemon)
DAEMON = "daemon"  # frames the daemon sends (daemon -> worker)

WORKER_KINDS: tuple[str, ...] = ("neonize", "sim")

STATES: tuple[str, ...] = (
    "STARTING",  # process up, WhatsApp connection not established yet
    "SCAN_QR",  # unpaired, QR codes are being issued
    "PAIRING_CODE",  # unpaired, a phone-link code was issued
    "CONNECTED",  # paired, authenticated and online
    "DISCONNECTED",  # paired or not, the connection is down (may come back by itself)
    "LOGGED_OUT",  # the device was unlinked; a new pairing is needed
    "FAILED",  # terminal for this process; see reason
)
# whatsmeow's HistorySync.syncType values, by number, as `history` frames name them.
HISTORY_SYNC_TYPES: dict[int, str] = {0: "initial_bootstrap", 1: "initial_status_v3", 2: "full", 3: "recent",
                                      4: "push_name", 5: "non_blocking_data", 6: "on_demand"}
REASONS: tuple[str, ...] = (
    "logged_out",
    "logged_out_by_owner",  # the daemon asked (the owner's Log out or Re-pair)
    "temporary_ban",
    "client_outdated",
    "stream_replaced",
    "qr_exhausted",
    "wrong_number",
    "crashed",
    "network",
    "connect_failure",
    "keepalive_timeout",
    "stream_error",
)

RequestId = str | int


@dataclass(frozen=True, slots=True)
class Frame:
    """Base of every frame; subclasses set TYPE and SENDER and declare the wire fields."""

    TYPE: ClassVar[str] = ""
    SENDER: ClassVar[str] = ""


FRAMES: dict[str, type[Frame]] = {}  # the registry: wire type name -> frame class
F = TypeVar("F", bound=type[Frame])


def _frame(type_name: str, sender: str) -> Callable[[F], F]:
    """Register a frame class under its wire type name (one line per frame type)."""

    def register(cls: F) -> F:
        if type_name in FRAMES:
            raise TypeError(f"frame type {type_name!r} registered twice")
        cls.TYPE = type_name
        cls.SENDER = sender
        FRAMES[type_name] = cls
        return cls

    return register


def _choices(*values: str) -> dict[str, Any]:
    return {"choices": values}


# ---- worker -> daemon -------------------------------------------------------------


@_frame("hello", WORKER)
@dataclass(frozen=True, slots=True)
class Hello(Frame):
    """First frame of every worker: who is speaking."""

    worker: str = field(metadata=_choices(*WORKER_KINDS))
    pid: int
    phone: str


@_frame("state", WORKER)
@dataclass(frozen=True, slots=True)
class State(Frame):
    """Session state change; the daemon adds STOPPED itself."""

    state: str = field(metadata=_choices(*STATES))
    reason: str | None = field(default=None, metadata=_choices(*REASONS))
    detail: str | None = None


@_frame("qr", WORKER)
@dataclass(frozen=True, slots=True)
class Qr(Frame):
    """One rotated QR payload (a secret: never log `code`)."""

    seq: int
    code: str
    issued_at: str
    expires_at: str


@_frame("pair_code", WORKER)
@dataclass(frozen=True, slots=True)
class PairCode(Frame):
    """Answer to `pair_phone`: the 8-character phone-link code (e.g. ABCD-EFGH)."""

    request_id: RequestId
    code: str


@_frame("command_failed", WORKER)
@dataclass(frozen=True, slots=True)
class CommandFailed(Frame):
    """A daemon command could not be carried out (request_id null if it had none)."""

    request_id: RequestId | None
    error: str


@_frame("paired", WORKER)
@dataclass(frozen=True, slots=True)
class Paired(Frame):
    """Pairing succeeded; `phone` is the linked account (may differ: wrong-number guard)."""

    jid: str
    phone: str
    lid: str | None = None
    push_name: str | None = None


@_frame("connected", WORKER)
@dataclass(frozen=True, slots=True)
class Connected(Frame):
    """Authenticated and online (after pairing, on resume and after every reconnect)."""

    jid: str
    push_name: str | None = None


@_frame("message", WORKER)
@dataclass(frozen=True, slots=True)
class MessageFrame(Frame):
    """One normalised message (engine.model.Message.to_dict()) from the worker's journal."""

    seq: int
    message: dict[str, Any]


@_frame("unreadable", WORKER)
@dataclass(frozen=True, slots=True)
class Unreadable(Frame):
    """A message the worker received but could not read: kept by the daemon, visibly, as an error."""

    reference: str
    reason: str
    excerpt: str = ""


@_frame("history", WORKER)
@dataclass(frozen=True, slots=True)
class HistoryFrame(Frame):
    """Part of the phone's history sync: normalised messages marked `history`, and contacts' push
    names as [phone JID, name] pairs; wait for `ack {seq}`."""

    seq: int
    sync_type: str
    messages: list[dict[str, Any]]
    progress: int = 0
    names: list[Any] = field(default_factory=list)


MAX_PUSH_NAME_CHARS = 256  # a `history` frame's push name is cut to this (WhatsApp's own limit is far lower)


def clean_push_name(name: str) -> str:
    """A push name as a lead keeps it: single spaces, at most MAX_PUSH_NAME_CHARS."""
    return " ".join(name.split())[:MAX_PUSH_NAME_CHARS]


@_frame("sent", WORKER)
@dataclass(frozen=True, slots=True)
class Sent(Frame):
    """`send_text` succeeded."""

    request_id: RequestId
    message_id: str


@_frame("send_failed", WORKER)
@dataclass(frozen=True, slots=True)
class SendFailed(Frame):
    """`send_text` failed; `retryable` says whether trying again later can help."""

    request_id: RequestId
    error: str
    retryable: bool


@_frame("sim_inbox", WORKER)
@dataclass(frozen=True, slots=True)
class SimInbox(Frame):
    """Simulator only: the answer to `sim_received`, what the customers' phones received."""

    request_id: RequestId
    messages: list[Any]


# ---- daemon -> worker -------------------------------------------------------------


@_frame("ack", DAEMON)
@dataclass(frozen=True, slots=True)
class Ack(Frame):
    """The message with this seq is committed to the daemon's inbox: drop it from the journal."""

    seq: int


@_frame("send_text", DAEMON)
@dataclass(frozen=True, slots=True)
class SendText(Frame):
    """Send a text; `to` is a JID or phone digits; `reply_to` quotes that message (its sender and text)."""

    request_id: RequestId
    to: str
    text: str
    reply_to: str | None = None
    quoted_sender: str | None = None
    quoted_text: str | None = None


@_frame("pair_phone", DAEMON)
@dataclass(frozen=True, slots=True)
class PairPhone(Frame):
    """Request a phone-link code for the configured number (only while SCAN_QR)."""

    request_id: RequestId


@_frame("logout", DAEMON)
@dataclass(frozen=True, slots=True)
class Logout(Frame):
    """Unlink the device; the worker then reports LOGGED_OUT and exits 4."""

    request_id: RequestId | None = None


@_frame("stop", DAEMON)
@dataclass(frozen=True, slots=True)
class Stop(Frame):
    """Exit cleanly (code 0) within about 5 seconds."""


@_frame("sim_scan", DAEMON)
@dataclass(frozen=True, slots=True)
class SimScan(Frame):
    """Simulator only: scan the QR as the configured phone (as_=None) or as another one."""

    as_: str | None = field(default=None, metadata={"wire": "as"})
    request_id: RequestId | None = None


@_frame("sim_message", DAEMON)
@dataclass(frozen=True, slots=True)
class SimMessage(Frame):
    """Simulator only: inject one (partial) normalised message."""

    message: dict[str, Any]
    request_id: RequestId | None = None


@_frame("sim_history", DAEMON)
@dataclass(frozen=True, slots=True)
class SimHistory(Frame):
    """Simulator only: a history sync chunk, as the phone sends after pairing (complete messages)."""

    messages: list[dict[str, Any]]
    sync_type: str = "initial_bootstrap"
    request_id: RequestId | None = None


@_frame("sim_crash", DAEMON)
@dataclass(frozen=True, slots=True)
class SimCrash(Frame):
    """Simulator only: exit abnormally (code 134) without any cleanup."""


@_frame("sim_received", DAEMON)
@dataclass(frozen=True, slots=True)
class SimReceived(Frame):
    """Simulator only: list the messages this number sent that the customers' phones received."""

    request_id: RequestId


WORKER_FRAMES: frozenset[str] = frozenset(t for t, c in FRAMES.items() if c.SENDER == WORKER)
DAEMON_FRAMES: frozenset[str] = frozenset(t for t, c in FRAMES.items() if c.SENDER == DAEMON)
