"""The loop every session worker shares: frame I/O, commands, acks and exiting.

Threads of a worker process:
- the main thread runs `WorkerBase.run`: says hello, starts the others, calls the
  subclass `start()`, then waits for an exit request and leaves with `os._exit`
  (neonize can leave non-daemon threads that never end, notes §2.1, so a normal
  interpreter exit could hang);
- a stdin reader decodes daemon frames: `ack` releases a waiting message, `stop` and
  EOF (the daemon is gone) request a clean exit at once, everything else goes to
- a single command thread, which runs the subclass handlers one at a time (neonize
  calls must never overlap a connect/stop, notes §7.1).

`emit_message` never waits for the daemon: neonize acknowledges a message to WhatsApp
without waiting for our handler (docs/linked-device-capture.md), so the handler appends
the message to the number's journal (bridge/worker/journal.py: in the kernel before it
returns) and returns at once, keeping neonize's 100-event queue from filling up. A
forwarder thread sends journal entries to the daemon as `message` frames; the daemon's
`ack {seq}` after its inbox commit removes them; whatever is still in the journal when
the process dies is sent again by the next worker of this number.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO, ClassVar, NoReturn, TypeVar, cast

import structlog

from bridge.protocol import (
    DAEMON,
    Ack,
    CommandFailed,
    ExitCode,
    Frame,
    Hello,
    MessageFrame,
    ProtocolError,
    SendFailed,
    SendText,
    State,
    Stop,
    decode,
    encode,
)
from bridge.worker.journal import MessageJournal, journal_path
from bridge.worker.normalise import recipient_jid

HISTORY_SEQ_START = 10**12  # history frames' seqs; the message journal's stay far below
HISTORY_ACK_TIMEOUT = 60.0  # a history frame not acked by then is sent again later

log = structlog.get_logger("bridge.worker")

T = TypeVar("T")
Handler = Callable[[Any], None]
Job = Frame | Callable[[], None]


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Return ISO 8601 UTC with offset, millisecond precision (protocol timestamps)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def in_seconds(moment: datetime, seconds: float) -> datetime:
    """Return `moment` plus some seconds."""
    return moment + timedelta(seconds=seconds)


def ensure_private_file(path: Path) -> None:
    """Create `path` (and missing parents, 0700) as an empty 0600 file; fix its mode.

    Session databases hold device keys (DESIGN guarantee 6), so the file must exist
    with mode 0600 *before* SQLite or neonize open it.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def wipe_session_files(path: Path) -> None:
    """Delete a SQLite session database with its journal files (credentials gone)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    shutil.rmtree(path.with_name(path.name + ".history"), ignore_errors=True)  # spooled history sync
    log.warning("session_file_wiped")


def call_bounded(lock: threading.Lock, what: str, call: Callable[[], T], timeout: float) -> T:
    """Run `call` under `lock` on a helper thread; raise TimeoutError after `timeout` s.

    For library calls that can hang forever (neonize `stop()` during a stuck dial was
    measured to never return): the caller gets control back and may exit the process.
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            if not lock.acquire(timeout=timeout):
                raise TimeoutError(f"{what}: another call is still running")
            try:
                box["result"] = call()
            finally:
                lock.release()
        except Exception as exc:
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"call-{what}", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"{what} did not return within {timeout:.0f} s")
    if "error" in box:
        raise box["error"]
    return cast(T, box["result"])


class FrameWriter:
    """Writes whole frames to the protocol fd; one lock, so lines never interleave."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self.broken = False

    def write(self, frame: Frame) -> bool:
        """Write one frame; return False once the daemon's end of the pipe is gone."""
        data = memoryview(encode(frame))
        with self._lock:
            if self.broken:
                return False
            try:
                while data:
                    written = os.write(self._fd, data)
                    data = data[written:]
            except OSError:
                self.broken = True
                return False
        return True


class WorkerBase:
    """One session worker: subclasses implement `start`, `command_handlers`, `shutdown`."""

    kind: ClassVar[str] = ""

    def __init__(
        self,
        *,
        phone: str,
        session_db: Path,
        out_fd: int,
        stdin: BinaryIO,
    ) -> None:
        self.phone = phone
        self.session_db = session_db
        self.journal = MessageJournal(journal_path(session_db))
        self._writer = FrameWriter(out_fd)
        self._stdin = stdin
        self._jobs: queue.Queue[Job] = queue.Queue()
        self._handlers: Mapping[type[Frame], Handler] = {}
        self._exit = threading.Event()
        self._exit_lock = threading.Lock()
        self._exit_code = int(ExitCode.OK)
        self._state_lock = threading.Lock()
        self._state: tuple[str, str | None, str | None] | None = None
        # History frames (bridge.worker.history): acked by seq like journal entries, own seq range.
        self._history_lock = threading.Lock()
        self._history_seq = HISTORY_SEQ_START
        self._history_acks: dict[int, threading.Event] = {}

    # ---- subclass hooks -----------------------------------------------------------

    def start(self) -> None:
        """Begin the session (called on the main thread after hello/STARTING)."""
        raise RuntimeError(f"{type(self).__name__} must override start()")

    def command_handlers(self) -> Mapping[type[Frame], Handler]:
        """Return the handler of each daemon command this worker supports."""
        return {}

    def shutdown(self, code: int) -> None:
        """Release resources before the process exits with `code` (keep it short)."""

    # ---- frames -------------------------------------------------------------------

    def send(self, frame: Frame) -> None:
        """Write a frame to the daemon; a vanished daemon means: exit cleanly."""
        if not self._writer.write(frame):
            self.request_exit(ExitCode.OK, "daemon_gone")

    @property
    def state(self) -> str | None:
        """The last state reported to the daemon."""
        with self._state_lock:
            return self._state[0] if self._state else None

    def set_state(self, state: str, reason: str | None = None, detail: str | None = None) -> None:
        """Report a state change (repeats of the same state/reason/detail are dropped)."""
        if detail is not None:
            detail = detail[:300]
        with self._state_lock:
            if self._state == (state, reason, detail):
                return
            self._state = (state, reason, detail)
            log.info("state_changed", state=state, reason=reason, detail=detail)
            self.send(State(state=state, reason=reason, detail=detail))

    def command_failed(self, request_id: str | int | None, error: str) -> None:
        """Tell the daemon a command failed."""
        log.info("command_failed", request_id=request_id, error=error)
        self.send(CommandFailed(request_id=request_id, error=error))

    def checked_recipient(self, frame: SendText, connected: bool) -> str | None:
        """Return the JID to send `frame` to, or answer `send_failed` and return None."""
        to = recipient_jid(frame.to)
        if to is None:
            self.send_failed(frame, f"to: {frame.to!r} is neither a JID nor phone digits", False)
        elif not frame.text.strip():
            self.send_failed(frame, "text is empty", False)
        elif not connected:
            self.send_failed(frame, "not connected", True)
        else:
            return to
        return None

    def send_failed(self, frame: SendText, error: str, retryable: bool) -> None:
        """Answer a `send_text` with `send_failed`."""
        log.info("send_failed", request_id=frame.request_id, error=error[:200], retryable=retryable)
        self.send(SendFailed(request_id=frame.request_id, error=error[:300], retryable=retryable))

    def emit_message(self, message: dict[str, Any]) -> int:
        """Journal a normalised message for the daemon and return at once (its journal seq)."""
        return self.journal.append(message)

    def emit_and_wait(self, make: Callable[[int], Frame]) -> bool:
        """Send a frame the daemon acks by seq (a history chunk) and wait for the ack.

        Its seq comes from a range of its own (from HISTORY_SEQ_START up), apart from the
        message journal's. False after HISTORY_ACK_TIMEOUT or once an exit was requested: the
        caller keeps what it sent (the history spool) and tries again later, or the next process does.
        """
        with self._history_lock:
            self._history_seq += 1
            seq = self._history_seq
            waiter = threading.Event()
            self._history_acks[seq] = waiter
        try:
            self.send(make(seq))
            deadline = time.monotonic() + HISTORY_ACK_TIMEOUT
            while not waiter.wait(0.1):
                if self._exit.is_set() or time.monotonic() > deadline:
                    return False
            return True
        finally:
            with self._history_lock:
                self._history_acks.pop(seq, None)

    def park(self) -> NoReturn:
        """Block this thread until the process exits (a handler that must not return)."""
        while True:
            threading.Event().wait(3600)

    def _forward(self) -> None:
        """Send journal entries to the daemon, oldest first, without waiting for acks."""
        while not self._exit.is_set():
            entry = self.journal.next_unsent(0.5)
            if entry is not None:
                self.send(MessageFrame(seq=entry[0], message=entry[1]))

    def _on_ack(self, seq: int) -> None:
        if seq >= HISTORY_SEQ_START:
            with self._history_lock:
                waiter = self._history_acks.get(seq)
            if waiter is not None:
                waiter.set()
                return
        if not self.journal.ack(seq):
            log.debug("ack_ignored", seq=seq)

    # ---- lifecycle ----------------------------------------------------------------

    @property
    def exiting(self) -> bool:
        """True once an exit was requested."""
        return self._exit.is_set()

    def request_exit(self, code: int, why: str) -> None:
        """Ask the main thread to end the process with `code` (first request wins)."""
        with self._exit_lock:
            if self._exit.is_set():
                return
            self._exit_code = int(code)
            self._exit.set()
        log.info("exit_requested", code=int(code), why=why)

    def submit(self, job: Callable[[], None]) -> None:
        """Run `job` on the command thread (serialised with daemon commands)."""
        self._jobs.put(job)

    def run(self) -> NoReturn:
        """Run the worker until an exit is requested, then end the process."""
        code = int(ExitCode.INTERNAL_ERROR)
        try:
            self._handlers = dict(self.command_handlers())
            self.send(Hello(worker=self.kind, pid=os.getpid(), phone=self.phone))
            self.set_state("STARTING")
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
            # The reader starts first so stop/EOF work even during a slow start; commands
            # wait in the queue until start() has set the session up.
            threading.Thread(target=self._read_stdin, name="stdin-reader", daemon=True).start()
            threading.Thread(target=self._forward, name="journal-forwarder", daemon=True).start()
            self.start()
            threading.Thread(target=self._run_jobs, name="commands", daemon=True).start()
            while not self._exit.wait(0.5):
                pass
            code = self._exit_code
            self.shutdown(code)
        except Exception as exc:
            log.exception("worker_crashed", error_type=type(exc).__name__)
            self.set_state("FAILED", "crashed", f"{type(exc).__name__}: {exc}")
            code = int(ExitCode.INTERNAL_ERROR)
        finally:
            log.info("worker_exited", code=code)
            sys.stderr.flush()
            os._exit(code)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.request_exit(ExitCode.OK, signal.Signals(signum).name.lower())

    def _read_stdin(self) -> None:
        try:
            for line in iter(self._stdin.readline, b""):
                if line.strip():
                    self._dispatch_line(line)
        except (OSError, ValueError) as exc:
            log.warning("stdin_failed", error=str(exc))
        self.request_exit(ExitCode.OK, "stdin_eof")

    def _dispatch_line(self, line: bytes) -> None:
        try:
            frame = decode(line)
        except ProtocolError as exc:
            log.warning("protocol_error", error=str(exc)[:200], length=len(line))
            return
        if frame.SENDER != DAEMON:
            log.warning("unexpected_frame", type=frame.TYPE)
        elif isinstance(frame, Ack):
            self._on_ack(frame.seq)
        elif isinstance(frame, Stop):
            self.request_exit(ExitCode.OK, "stop")
        else:
            self._jobs.put(frame)

    def _run_jobs(self) -> None:
        while True:
            job = self._jobs.get()
            if self._exit.is_set():
                continue
            try:
                if isinstance(job, Frame):
                    self._run_command(job)
                else:
                    job()
            except Exception as exc:
                log.exception("command_crashed", error_type=type(exc).__name__)
                if isinstance(job, SendText):
                    self.send_failed(job, f"{type(exc).__name__}: {exc}", True)
                elif isinstance(job, Frame):
                    self.command_failed(getattr(job, "request_id", None), str(exc))

    def _run_command(self, frame: Frame) -> None:
        handler = self._handlers.get(type(frame))
        if handler is None:
            self.command_failed(
                getattr(frame, "request_id", None),
                f"{frame.TYPE} is not supported by the {self.kind} worker",
            )
            return
        log.debug("command_received", type=frame.TYPE)
        handler(frame)
