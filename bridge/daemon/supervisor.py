"""The supervisor: one worker process per admin number, restarted when it dies.

Policy (neonize-notes §7.2, peers.md):
- a crash (Go abort 134, any unexpected exit) restarts with capped, jittered backoff; a
  number that crashes `BREAKER_CRASHES` times within `BREAKER_WINDOW` goes FAILED
  (too_many_failures) instead of looping forever;
- a worker that cannot be started is reason start_failed, and the daemon runs on: out of
  descriptors, processes or memory it is retried like a connection failure, forever; any
  other failure to run it (the program missing) counts as a crash;
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

Reading what the worker writes (frames on stdout, log lines on stderr) and what each frame
does to the session is `bridge.daemon.worker_output`, the reading half of `Session`.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from bridge.config import NumberConfig
from bridge.daemon.acks import InOrderAcks
from bridge.daemon.sessions import NotAvailableError, SessionState, SessionView, Transition
from bridge.daemon.tasks import BackgroundTasks
from bridge.daemon.worker_output import WorkerOutput
from bridge.errors import OUT_OF_RESOURCES

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


class Session(WorkerOutput):
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
        self.commit_waiters: dict[str, asyncio.Future[None]] = {}  # message id → someone awaiting its commit
        self.reader_alive = False  # the frame reader of the current worker is running
        self.reader_failure: str | None = None  # why the last reader died (until the next launch)
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
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.spec.launcher, "--kind", self.spec.kind, "--phone", self.config.phone,
                "--session-db", str(session_db), "--log-level", self.spec.log_level,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env=env, start_new_session=True,
            )
        except OSError as exc:  # this number waits; the daemon and the other numbers run on
            self.proc = None
            transient = exc.errno in OUT_OF_RESOURCES  # waits for them to come back, retried forever
            self.log.error("worker_start_failed", error=str(exc), retry_forever=transient,
                           hint="too many open files or processes? raise LimitNOFILE / LimitNPROC" if transient
                           else "is wabridge installed completely? (the worker program could not be run)")
            if transient:
                # Descriptors or processes run out for a while (a flood of clients, a busy host):
                # retried until they are back, like a network outage; no breaker.
                self.set_view(restarts=self.view.restarts + 1, state=SessionState.DISCONNECTED,
                              reason="start_failed", detail=str(exc))
                self._spawn(self._relaunch_later(offline=True, code=None))
            elif self._count_crash("start_failed", str(exc)):
                self._spawn(self._relaunch_later(offline=False, code=None))
            return
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
            if self.reader_failure is not None:
                counted = self._count_crash("frame_reader_failed", self.reader_failure)
            else:
                counted = self._count_crash("crashed", f"exit code {code}")
            if not counted:
                return
        else:
            self.set_view(restarts=self.view.restarts + 1)
            if self.view.state is not SessionState.DISCONNECTED:
                self.set_view(state=SessionState.DISCONNECTED, reason=self.last_state_reason or "network")
        await self._relaunch_later(offline=offline, code=code)

    def _count_crash(self, reason: str, detail: str) -> bool:
        """Record a crash (or a failed start); False when it opens the breaker (FAILED, no restart)."""
        now = time.monotonic()
        self.crashes.append(now)
        while self.crashes and now - self.crashes[0] > BREAKER_WINDOW:
            self.crashes.popleft()
        self.set_view(restarts=self.view.restarts + 1)
        if len(self.crashes) >= BREAKER_CRASHES:
            self.wanted = False
            self.log.error("worker_circuit_open", crashes=len(self.crashes), window_s=BREAKER_WINDOW)
            self.set_view(state=SessionState.FAILED, reason="too_many_failures",
                          detail=f"failed {len(self.crashes)} times in {int(BREAKER_WINDOW / 60)} minutes "
                                 f"(last: {detail})")
            return False
        self.set_view(state=SessionState.DISCONNECTED, reason=reason, detail=detail)
        return True

    async def _relaunch_later(self, *, offline: bool, code: int | None) -> None:
        delay = backoff(self.attempt, OFFLINE_BACKOFF_CAP if offline else BACKOFF_CAP)
        self.attempt += 1
        self.log.info("worker_restart_scheduled", delay_s=round(delay, 2), exit_code=code)
        await asyncio.sleep(delay)
        async with self.lock:
            if self.wanted and (self.proc is None or self.proc.returncode is not None):
                await self._launch()

    # ------------------------------------------------------------------ messages (the live intake)

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
        if self.commit_waiters:
            for frame in frames:
                waiter = self.commit_waiters.pop(str(frame.message.get("id")), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
        self.set_view(last_message_at=_now(), messages_received=self.view.messages_received + len(frames))

    def await_commit(self, message_id: str) -> asyncio.Future[None]:
        """A future resolved once the message with this id is in the inbox (ask before sending it)."""
        return self.commit_waiters.setdefault(message_id, asyncio.get_running_loop().create_future())

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
