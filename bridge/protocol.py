"""The versioned line protocol between the daemon and its session workers.

Why a protocol at all: neonize can abort the whole Python process (neonize-notes §7),
so every WhatsApp admin number runs in its own worker process and the daemon never
imports neonize. Daemon and worker exchange one JSON object per line (UTF-8, ``\\n``
terminated): the worker writes to its stdout, the daemon to the worker's stdin.

Every frame is ``{"v": 1, "type": <name>, <fields>...}``. Frame types live in one
registry (`FRAMES`): a frozen dataclass per type whose fields are the wire fields,
registered by its `@_frame(name, sender)` line, so adding a frame is one decorated
class. `WORKER_FRAMES` / `DAEMON_FRAMES` say who may send which type. `decode`
rejects unknown versions, unknown types, missing required fields and wrongly typed
values with a `ProtocolError` that names the problem; unknown *extra* keys are ignored
so a newer peer can add optional fields without a version bump.

Commands that carry a `request_id` are answered with it (`pair_code`, `sent`,
`send_failed`, `command_failed`); any string or integer works. `logout`, `sim_scan`
and `sim_message` accept an optional `request_id` too, so a failure can be matched to
its request; without one, `command_failed.request_id` is null.

Ordering promises (both workers keep them):
- `hello` is always the first frame, then `state STARTING`.
- on pairing: `paired`, then `connected`, then `state CONNECTED`;
  on resume of a stored session: `connected`, then `state CONNECTED`.
- `pair_code` is sent before `state PAIRING_CODE`.
- `message` frames come in journal order, without waiting for acks; the daemon acks each
  seq after its inbox commit (or its deliberate refusal), and a worker restarted after a
  crash sends its unacked journal entries again (seq numbers are per worker process).
- `history` frames (the phone's history sync, from the worker's spool) share the seq
  numbers and are acked the same way, once the daemon committed them; the next `history`
  frame waits for that ack. `message` frames may come in between: live goes first.

Size: a frame is at most `MAX_FRAME_BYTES` (1 MiB, newline included). The largest text a
WhatsApp user can send (65,536 characters, `engine.model.MAX_TEXT_CHARS`; longer texts are
truncated and marked `text_truncated`) is at most ~390 KB as escaped JSON, so every message
fits. `encode` refuses a bigger frame; `LineSplitter` lets the daemon skip one (logged and
counted) and go on reading, instead of losing the session's reader to it.

Pure stdlib: the daemon imports this module, so it must never import neonize.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from enum import IntEnum
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin, get_type_hints

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 1 << 20  # one frame, newline included

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


class ExitCode(IntEnum):
    """Worker process exit codes; the supervisor's restart policy keys on them."""

    OK = 0  # clean stop (stop frame, stdin EOF, SIGTERM)
    INTERNAL_ERROR = 1  # unexpected bug in the worker itself: restart with backoff
    BAD_ARGS = 2  # bad command line: do not restart
    WRONG_NUMBER = 3  # a different phone was linked and has been logged out
    LOGGED_OUT = 4  # device unlinked: report LOGGED_OUT, do not restart
    STREAM_REPLACED = 5  # the session runs elsewhere: do not auto-restart
    BANNED_OR_OUTDATED = 6  # temporary ban / client outdated: no quick restart
    TEMPFAIL = 75  # EX_TEMPFAIL: connection failed, restart in a fresh process
    GO_ABORT = 134  # Go runtime abort (also seen as returncode -6, SIGABRT)


class ProtocolError(ValueError):
    """A line that is not a valid v1 frame."""


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
    """Part of the phone's history sync: normalised messages marked `history`; wait for `ack {seq}`."""

    seq: int
    sync_type: str
    messages: list[dict[str, Any]]
    progress: int = 0


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


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    attr: str
    wire: str
    types: tuple[type, ...]
    required: bool
    choices: tuple[str, ...] | None


def _accepted_types(hint: Any) -> tuple[type, ...]:
    origin = get_origin(hint)
    if origin in (types.UnionType, Union):
        out: list[type] = []
        for arg in get_args(hint):
            out.extend(_accepted_types(arg))
        return tuple(out)
    if hint is type(None):
        return (type(None),)
    if origin is not None:  # dict[str, Any] and friends: check the container only
        return (origin,)
    if hint in (str, int, bool, dict, list, float):
        return (hint,)
    raise TypeError(f"unsupported protocol field type {hint!r}")


def _build_specs() -> dict[type[Frame], tuple[_FieldSpec, ...]]:
    specs: dict[type[Frame], tuple[_FieldSpec, ...]] = {}
    for name, cls in FRAMES.items():
        if not name or cls.SENDER not in (WORKER, DAEMON):
            raise TypeError(f"frame class {cls.__name__} lacks TYPE or SENDER")
        hints = get_type_hints(cls)
        specs[cls] = tuple(
            _FieldSpec(
                attr=f.name,
                wire=f.metadata.get("wire", f.name),
                types=_accepted_types(hints[f.name]),
                required=f.default is MISSING and f.default_factory is MISSING,
                choices=f.metadata.get("choices"),
            )
            for f in fields(cls)
        )
    return specs


_SPECS = _build_specs()


def _type_ok(value: Any, accepted: tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # bool is an int subclass; never let it pass as a number
        return bool in accepted
    return isinstance(value, accepted)


def _type_names(accepted: tuple[type, ...]) -> str:
    names = {str: "string", int: "integer", bool: "boolean", dict: "object", list: "array"}
    return " or ".join("null" if t is type(None) else names.get(t, t.__name__) for t in accepted)


def _check_fields(cls: type[Frame], raw: dict[str, Any]) -> dict[str, Any]:
    """Validate the wire fields of one frame; return constructor keyword arguments."""
    kwargs: dict[str, Any] = {}
    for spec in _SPECS[cls]:
        if spec.wire not in raw:
            if spec.required:
                raise ProtocolError(f"{cls.TYPE}: missing field {spec.wire!r}")
            continue
        value = raw[spec.wire]
        if not _type_ok(value, spec.types):
            raise ProtocolError(
                f"{cls.TYPE}.{spec.wire}: expected {_type_names(spec.types)}, "
                f"got {type(value).__name__}"
            )
        if spec.choices is not None and value is not None and value not in spec.choices:
            raise ProtocolError(
                f"{cls.TYPE}.{spec.wire}: {value!r} is not one of {', '.join(spec.choices)}"
            )
        kwargs[spec.attr] = value
    return kwargs


def frame_to_dict(frame: Frame) -> dict[str, Any]:
    """Return the wire object of a frame (with `v` and `type`)."""
    cls = type(frame)
    if FRAMES.get(cls.TYPE) is not cls:
        raise ProtocolError(f"{cls.__name__} is not a registered frame type")
    out: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": cls.TYPE}
    for spec in _SPECS[cls]:
        out[spec.wire] = getattr(frame, spec.attr)
    _check_fields(cls, out)  # refuse to send what the peer would reject
    return out


def encode(frame: Frame) -> bytes:
    """Serialise a frame as one UTF-8 JSON line ending in a newline."""
    obj = frame_to_dict(frame)
    try:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"{frame.TYPE}: not JSON-serialisable ({exc})") from None
    data = text.encode("utf-8") + b"\n"
    if len(data) > MAX_FRAME_BYTES:
        raise ProtocolError(f"{frame.TYPE}: {len(data)} bytes is over the {MAX_FRAME_BYTES}-byte frame limit")
    return data


@dataclass(frozen=True, slots=True)
class OversizedFrame:
    """A line longer than the frame limit, skipped by `LineSplitter` (its size in bytes)."""

    size: int


class LineSplitter:
    """Split a byte stream into frame lines, never holding more than `limit` bytes.

    A line over the limit is dropped as it streams past and reported once as an
    `OversizedFrame`, so one bad frame costs that frame, not the reader.
    """

    def __init__(self, limit: int = MAX_FRAME_BYTES) -> None:
        self.limit = limit
        self._buffer = bytearray()
        self._skipped = 0  # bytes of an oversized line dropped so far (0: not skipping)

    def feed(self, data: bytes) -> list[bytes | OversizedFrame]:
        """Add bytes; return the complete lines (newline included) and oversized markers."""
        out: list[bytes | OversizedFrame] = []
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            piece = data[start:] if end < 0 else data[start:end + 1]
            start += len(piece)
            if self._skipped:
                self._skipped += len(piece)
                if end >= 0:
                    out.append(OversizedFrame(self._skipped))
                    self._skipped = 0
                continue
            self._buffer += piece
            if end >= 0:
                if len(self._buffer) > self.limit:
                    out.append(OversizedFrame(len(self._buffer)))
                else:
                    out.append(bytes(self._buffer))
                self._buffer.clear()
            elif len(self._buffer) > self.limit:
                self._skipped = len(self._buffer)
                self._buffer.clear()
        return out


def decode(line: bytes | str) -> Frame:
    """Parse one line into its frame; raise `ProtocolError` naming what is wrong."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("frame is not valid UTF-8") from None
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"frame is not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(raw, dict):
        raise ProtocolError("frame must be a JSON object")
    version = raw.get("v")
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise ProtocolError(
            f"unsupported protocol version {version!r} (this side speaks {PROTOCOL_VERSION})"
        )
    type_name = raw.get("type")
    cls = FRAMES.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        raise ProtocolError(f"unknown frame type {type_name!r}")
    return cls(**_check_fields(cls, raw))
