"""The supervisor: one worker process per admin number, restarted when it dies.

Policy (neonize-notes §7.2, peers.md):
- a crash (Go abort 134, any unexpected exit) restarts with capped, jittered backoff; a
  number that crashes `BREAKER_CRASHES` times within `BREAKER_WINDOW` goes FAILED
  (too_many_failures) instead of looping forever;
- a connection failure (exit 75) restarts with backoff in a fresh process, forever: a
  server that is offline for a night must come back by itself in the morning;
- a QR round that nobody scans ends after `qr_round_seconds` (~165 s): the worker is
  killed and the number waits in FAILED qr_exhausted until someone asks for a new round;
- logged out, stream replaced, banned, outdated, wrong number: no automatic restart,
  the owner is told why;
- a pairing that links another phone than the configured number is logged out at once
  and nothing from it is processed (the worker refuses it too: defence in depth);
- the frame reader never dies of a frame: one over `MAX_FRAME_BYTES` is skipped, logged and
  counted. Should it die anyway, the number must not look healthy while every message is
  lost: the worker is killed and restarted like a crash, with reason frame_reader_failed
  (in /api/sessions and, while it lasts, /readyz).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from bridge import protocol as p
from bridge.config import NumberConfig, normalise_phone
from bridge.daemon.acks import InOrderAcks
from bridge.daemon.sessions import NotAvailableError, QrCode, SessionState, SessionView, Transition
from bridge.daemon.tasks import BackgroundTasks

log = structlog.get_logger(__name__)

MessageSink = Callable[[str, Mapping[str, Any]], Awaitable[None]]
UnreadableSink = Callable[[str, p.Unreadable], Awaitable[None]]
# Stores a history frame (the phone's history sync); returns the number's history totals, if stored.
HistorySink = Callable[[str, "p.HistoryFrame"], Awaitable[Any]]


async def _log_unreadable(number: str, frame: p.Unreadable) -> None:
    log.warning("message_unreadable", number=number, reference=frame.reference, reason=frame.reason)

BREAKER_CRASHES = 5
BREAKER_WINDOW = 600.0
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
OFFLINE_BACKOFF_CAP = 300.0
STOP_GRACE = 5.0
READ_CHUNK = 1 << 16
COMMAND_TIMEOUT = 30.0
NO_RESTART = {
    p.ExitCode.BAD_ARGS: ("FAILED", "crashed"),
    p.ExitCode.WRONG_NUMBER: ("FAILED", "wrong_number"),
    p.ExitCode.LOGGED_OUT: ("LOGGED_OUT", "logged_out"),
    p.ExitCode.STREAM_REPLACED: ("FAILED", "stream_replaced"),
    p.ExitCode.BANNED_OR_OUTDATED: ("FAILED", "temporary_ban"),
}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """How to start workers: kind (neonize or sim), where sessions live, extra env."""

    kind: str
    sessions_dir: Path
    log_level: str = "INFO"
    qr_round_seconds: float = 165.0
    env: Mapping[str, str] | None = None
    # The worker program; its arguments (--kind, --phone, --session-db, --log-level) follow.
    launcher: tuple[str, ...] = (sys.executable, "-m", "bridge.worker")


class Session:
    """One admin number: its worker process, its state, its pending commands."""

    def __init__(self, number: NumberConfig, spec: WorkerSpec, sink: MessageSink,
                 on_change: Callable[[Session], None], on_unreadable: UnreadableSink = _log_unreadable,
                 history_sink: HistorySink | None = None) -> None:
        self.config = number
        self.history_sink = history_sink
        self.spec = spec
        self.sink = sink
        self.on_unreadable = on_unreadable
        self.on_change = on_change
        self.view = SessionView(number.phone, number.label, number.rotator, SessionState.STOPPED)
        self.log = log.bind(number=number.phone)
        self.proc: asyncio.subprocess.Process | None = None
        self.tasks = BackgroundTasks("session_task_failed", self.log)
        self.pending: dict[str, asyncio.Future[p.Frame]] = {}
        self.crashes: deque[float] = deque()
        self.attempt = 0
        self.wanted = False  # should a worker be running?
        self.refuse_messages = False
        self.last_state_reason: str | None = None
        self.qr_deadline: float | None = None
        self.changed = asyncio.Condition()
        self.request_counter = 0
        self.lock = asyncio.Lock()
        self.committed: deque[str] = deque(maxlen=10_000)  # ids of messages committed (acks come in batches)
        self.reader_alive = False  # the frame reader of the current worker is running
        self.reader_failure: str | None = None  # why the last reader died (until the next launch)
        self.frames_oversized = 0  # frames skipped for being over the frame limit
        self.sent_ids: deque[str] = deque(maxlen=2000)  # WhatsApp ids of messages this number just sent
        # Message frames handed to the sink, acked in order once committed (the reader reads on).
        self.acks = InOrderAcks(self._send_to, self._committed, self._spawn, self.log)

    # ------------------------------------------------------------------ state

    def set_view(self, **changes: Any) -> None:
        """Change the snapshot (recording state transitions) and wake waiters."""
        old = self.view
        new = replace(old, **changes, version=old.version + 1)
        if new.state != old.state or new.reason != old.reason:
            transitions = (*old.transitions, Transition(_now(), new.state, new.reason, new.detail))[-20:]
            new = replace(new, transitions=transitions)
            self.log.info("session_state_changed", state=new.state.value, reason=new.reason,
                          previous=old.state.value)
        self.view = new
        self.on_change(self)
        self._notify()

    def _notify(self) -> None:
        async def wake() -> None:
            async with self.changed:
                self.changed.notify_all()

        self._spawn(wake())

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        return self.tasks.spawn(coro)

    # ------------------------------------------------------------------ process

    async def start(self) -> None:
        """Start the worker (no-op if it runs)."""
        async with self.lock:
            self.wanted = True
            if self.proc is not None and self.proc.returncode is None:
                return
            await self._launch()

    async def _launch(self) -> None:
        self.spec.sessions_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        session_db = self.spec.sessions_dir / f"{self.config.phone}.sqlite3"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(self.spec.env or {})}
        self.refuse_messages = False
        self.qr_deadline = None
        self.reader_failure = None
        self.set_view(state=SessionState.STARTING, reason=None, detail=None, qr=None, pair_code=None)
        self.proc = await asyncio.create_subprocess_exec(
            *self.spec.launcher, "--kind", self.spec.kind, "--phone", self.config.phone,
            "--session-db", str(session_db), "--log-level", self.spec.log_level,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env, start_new_session=True,
        )
        self.set_view(worker_pid=self.proc.pid)
        self.log.info("worker_started", pid=self.proc.pid, kind=self.spec.kind)
        proc = self.proc
        self.reader_alive = True
        self._spawn(self._read_frames(proc))
        self._spawn(self._read_logs(proc))
        self._spawn(self._watch(proc))

    async def stop(self, *, grace: float = STOP_GRACE) -> None:
        """Ask the worker to stop; kill it if it has not exited within `grace` seconds."""
        self.wanted = False
        proc = self.proc
        if proc is None or proc.returncode is not None:
            self.set_view(state=SessionState.STOPPED, qr=None, worker_pid=None)
            return
        with contextlib.suppress(Exception):
            await self._send(p.Stop())
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            self.log.warning("worker_kill", pid=proc.pid, reason="did not stop in time")
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    async def restart(self) -> None:
        """Stop, forget failures, start again (a fresh QR round for an unpaired number)."""
        await self.stop()
        self.crashes.clear()
        self.attempt = 0
        await self.start()

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        for future in self.pending.values():
            if not future.done():
                future.set_exception(NotAvailableError("the WhatsApp worker stopped"))
        self.pending.clear()
        if proc is not self.proc:
            return
        self.log.info("worker_exited", pid=proc.pid, code=code)
        self.set_view(worker_pid=None, qr=None)
        if not self.wanted:
            if self.view.state not in (SessionState.LOGGED_OUT, SessionState.FAILED):
                self.set_view(state=SessionState.STOPPED, reason=None, detail=None)
            return
        await self._after_exit(code)

    async def _after_exit(self, code: int) -> None:
        if code in NO_RESTART:
            state, reason = NO_RESTART[p.ExitCode(code)]
            if code == p.ExitCode.BANNED_OR_OUTDATED and self.last_state_reason:
                reason = self.last_state_reason
            if code == p.ExitCode.LOGGED_OUT and self.view.reason == "logged_out_by_owner":
                reason = self.view.reason  # the owner's own logout, not the phone's
            self.wanted = False
            if self.view.state.value != state or self.view.reason != reason:
                self.set_view(state=SessionState(state), reason=reason)
            return
        if self.view.state is SessionState.FAILED and self.view.reason == "qr_exhausted":
            self.wanted = False  # we ended the round ourselves: wait for a person
            return
        offline = code == p.ExitCode.TEMPFAIL
        if not offline:
            now = time.monotonic()
            self.crashes.append(now)
            while self.crashes and now - self.crashes[0] > BREAKER_WINDOW:
                self.crashes.popleft()
            self.set_view(restarts=self.view.restarts + 1)
            if len(self.crashes) >= BREAKER_CRASHES:
                self.wanted = False
                self.log.error("worker_circuit_open", crashes=len(self.crashes), window_s=BREAKER_WINDOW)
                self.set_view(state=SessionState.FAILED, reason="too_many_failures",
                              detail=f"exited {len(self.crashes)} times in {int(BREAKER_WINDOW / 60)} minutes "
                                     f"(last exit code {code})")
                return
            if self.reader_failure is not None:
                self.set_view(state=SessionState.DISCONNECTED, reason="frame_reader_failed",
                              detail=self.reader_failure)
            else:
                self.set_view(state=SessionState.DISCONNECTED, reason="crashed", detail=f"exit code {code}")
        else:
            self.set_view(restarts=self.view.restarts + 1)
            if self.view.state is not SessionState.DISCONNECTED:
                self.set_view(state=SessionState.DISCONNECTED, reason=self.last_state_reason or "network")
        delay = backoff(self.attempt, OFFLINE_BACKOFF_CAP if offline else BACKOFF_CAP)
        self.attempt += 1
        self.log.info("worker_restart_scheduled", delay_s=round(delay, 2), exit_code=code)
        await asyncio.sleep(delay)
        async with self.lock:
            if self.wanted and (self.proc is None or self.proc.returncode is not None):
                await self._launch()

    # ------------------------------------------------------------------ frames

    async def _read_frames(self, proc: asyncio.subprocess.Process) -> None:
        try:
            await self._read_frame_lines(proc)
        except Exception as exc:
            self._reader_died(proc, f"{type(exc).__name__}: {exc}"[:300])
        finally:
            if proc is self.proc:
                self.reader_alive = False

    async def _read_frame_lines(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        splitter = p.LineSplitter()
        while True:
            # A read from a full buffer does not yield: let the intake start committing what this
            # chunk queued (and HTTP answer) before the next one, however fast the worker writes.
            await asyncio.sleep(0)
            data = await proc.stdout.read(READ_CHUNK)
            if not data:
                return
            for line in splitter.feed(data):
                if isinstance(line, p.OversizedFrame):
                    self.frames_oversized += 1
                    self.log.error("worker_frame_oversized", size=line.size, limit=p.MAX_FRAME_BYTES)
                    continue
                try:
                    frame = p.decode(line)
                except p.ProtocolError as exc:
                    self.log.warning("worker_protocol_error", error=str(exc))
                    continue
                try:
                    await self._handle(frame, proc)
                except Exception:
                    self.log.exception("worker_frame_failed", frame=frame.TYPE)

    def _reader_died(self, proc: asyncio.subprocess.Process, why: str) -> None:
        """A dead reader would silently refuse every later message: kill the worker instead."""
        if proc is not self.proc or proc.returncode is not None:
            return
        self.log.error("worker_frame_reader_failed", pid=proc.pid, error=why)
        self.reader_failure = f"frame reader failed: {why}"
        self.set_view(state=SessionState.DISCONNECTED, reason="frame_reader_failed", detail=self.reader_failure)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()  # _watch sees the exit and restarts it like a crash

    async def _handle(self, frame: p.Frame, proc: asyncio.subprocess.Process) -> None:
        if isinstance(frame, p.MessageFrame):
            await self._on_message(frame, proc)
        elif isinstance(frame, p.HistoryFrame):
            await self._on_history(frame)
        elif isinstance(frame, p.State):
            self._on_state(frame)
        elif isinstance(frame, p.Qr):
            self._on_qr(frame)
        elif isinstance(frame, p.Paired):
            await self._on_paired(frame)
        elif isinstance(frame, p.Connected):
            if not self.refuse_messages:
                self.set_view(linked_jid=frame.jid, push_name=frame.push_name)
        elif isinstance(frame, p.Unreadable):
            await self.on_unreadable(self.config.phone, frame)
        elif isinstance(frame, p.Hello):
            self.log.info("worker_hello", worker=frame.worker, pid=frame.pid)
        else:
            if isinstance(frame, p.Sent):
                self.sent_ids.append(frame.message_id)  # before anything else: an echo may follow at once
            request_id = getattr(frame, "request_id", None)
            future = self.pending.pop(str(request_id), None)
            if future is not None and not future.done():
                future.set_result(frame)

    def _on_state(self, frame: p.State) -> None:
        state = SessionState(frame.state)
        self.last_state_reason = frame.reason
        if self.refuse_messages and state is SessionState.CONNECTED:
            return  # never report a wrongly linked phone as connected
        changes: dict[str, Any] = {"state": state, "reason": frame.reason, "detail": frame.detail}
        if state is SessionState.CONNECTED:
            changes.update(qr=None, pair_code=None)
            self.attempt = 0
            self.qr_deadline = None
        if state not in (SessionState.SCAN_QR, SessionState.PAIRING_CODE):
            changes["qr"] = None
        self.set_view(**changes)

    def _on_qr(self, frame: p.Qr) -> None:
        qr = QrCode(frame.seq, frame.code, _parse_time(frame.issued_at), _parse_time(frame.expires_at))
        self.log.info("qr_issued", seq=frame.seq)  # never the payload
        changes: dict[str, Any] = {"qr": qr}
        if self.view.state is not SessionState.PAIRING_CODE:
            changes["state"] = SessionState.SCAN_QR
            changes["reason"] = None
        self.set_view(**changes)
        if self.qr_deadline is None:
            self.qr_deadline = time.monotonic() + self.spec.qr_round_seconds
            self._spawn(self._qr_round_timer(self.proc, self.qr_deadline))

    async def _qr_round_timer(self, proc: asyncio.subprocess.Process | None, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        if proc is None or proc is not self.proc or proc.returncode is not None:
            return
        if self.view.state not in (SessionState.SCAN_QR, SessionState.PAIRING_CODE):
            return
        # neonize can wedge at the end of a QR round (notes §7.1.3): end it from outside.
        self.log.info("qr_round_expired", seconds=self.spec.qr_round_seconds)
        self.wanted = False
        self.set_view(state=SessionState.FAILED, reason="qr_exhausted", qr=None, pair_code=None,
                      detail="nobody scanned the QR code; start a new round from the pairing page")
        with contextlib.suppress(ProcessLookupError):
            proc.kill()

    async def _on_paired(self, frame: p.Paired) -> None:
        linked = normalise_phone(frame.phone)
        if linked == self.config.phone:
            self.set_view(linked_jid=frame.jid, push_name=frame.push_name, attempted_phone=None)
            return
        # Wrong number: log it out now and never use it (the worker does the same).
        self.refuse_messages = True
        self.log.warning("pairing_wrong_number", linked_phone=linked)
        self.set_view(state=SessionState.FAILED, reason="wrong_number", attempted_phone=linked,
                      linked_jid=None, qr=None, pair_code=None,
                      detail=f"phone {linked} scanned the code, but this page pairs {self.config.phone}")
        with contextlib.suppress(Exception):
            await self._send(p.Logout())

    async def _on_history(self, frame: p.HistoryFrame) -> None:
        if self.refuse_messages:
            self.log.warning("history_refused_wrong_number", seq=frame.seq)
        elif self.history_sink is not None:
            # A failure raises past the ack: the worker keeps the chunk in its spool and sends it again.
            totals = await self.history_sink(self.config.phone, frame)
            if totals is not None:
                self.set_view(history=totals)
        # Acked once committed (or refused): the worker then drops that part of its spool.
        with contextlib.suppress(NotAvailableError, ConnectionError):
            await self._send(p.Ack(seq=frame.seq))

    async def _on_message(self, frame: p.MessageFrame, proc: asyncio.subprocess.Process) -> None:
        """Hand the message to the sink (queued in frame order) and read on; `acks` acks it once committed."""
        committing: asyncio.Future[None] | None = None
        if self.refuse_messages:
            self.log.warning("message_refused_wrong_number", seq=frame.seq)
        else:
            # Fails when the inbox commit fails: then no ack, and the entry stays in the
            # worker's journal, sent again by the next worker of this number.
            committing = asyncio.ensure_future(self.sink(self.config.phone, frame.message))
        await self.acks.add(frame, committing, proc)

    def _committed(self, frames: list[p.MessageFrame]) -> None:
        self.committed.extend(str(frame.message.get("id")) for frame in frames)
        self.set_view(last_message_at=_now(), messages_received=self.view.messages_received + len(frames))

    async def _read_logs(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        worker_log = self.log.bind(source="worker")
        while True:
            line = await proc.stderr.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip()
            if not text:
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError:
                worker_log.warning("worker_output", line=text[:500])  # e.g. a Go panic trace
                continue
            if not isinstance(record, dict):
                continue
            event = str(record.pop("event", "worker_log"))
            level = str(record.pop("level", "info")).lower()
            record.pop("timestamp", None)
            emit = getattr(worker_log, level if level in ("debug", "info", "warning", "error") else "info")
            emit(event, **{k: v for k, v in record.items() if k not in ("number", "source")})

    # ------------------------------------------------------------------ commands

    async def _send(self, frame: p.Frame) -> None:
        await self._send_to(self.proc, [frame])

    async def _send_to(self, proc: asyncio.subprocess.Process | None, frames: list[p.Frame]) -> None:
        if proc is None or proc.returncode is not None or proc.stdin is None:
            raise NotAvailableError("the WhatsApp worker of this number is not running")
        proc.stdin.write(b"".join(p.encode(frame) for frame in frames))
        await proc.stdin.drain()

    async def request(self, make: Callable[[str], p.Frame], timeout: float = COMMAND_TIMEOUT) -> p.Frame:
        """Send a command with a fresh request id and wait for its answer frame."""
        self.request_counter += 1
        request_id = f"{self.config.phone}-{self.request_counter}"
        future: asyncio.Future[p.Frame] = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        try:
            await self._send(make(request_id))
            answer = await asyncio.wait_for(future, timeout)
        finally:
            self.pending.pop(request_id, None)
        if isinstance(answer, p.CommandFailed):
            raise NotAvailableError(answer.error)
        return answer

    async def send_command(self, frame: p.Frame) -> None:
        """Send a command that has no answer."""
        await self._send(frame)

    async def wait_for(self, predicate: Callable[[SessionView], bool], timeout: float) -> SessionView:
        """Wait until the view satisfies `predicate` (or raise TimeoutError)."""
        async def until() -> SessionView:
            async with self.changed:
                await self.changed.wait_for(lambda: predicate(self.view))
            return self.view

        return await asyncio.wait_for(until(), timeout)


def backoff(attempt: int, cap: float) -> float:
    """Capped exponential backoff with jitter: ~1 s, 2 s, 4 s … up to `cap`."""
    ceiling = min(cap, BACKOFF_BASE * (2 ** min(attempt, 16)))
    return ceiling * random.uniform(0.5, 1.0)


def _parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return _now()
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
