"""What a worker writes, as its `Session` reads it: frames on stdout, log lines on stderr.

`WorkerOutput` is the reading half of `bridge.daemon.supervisor.Session`, mixed into it: its
methods use the session's state (`view` through `set_view`, `proc`, `refuse_messages`,
`pending`, `qr_deadline`, ...), which `Session.__init__` sets up.

- The frame reader never dies of a frame: one over `MAX_FRAME_BYTES` is skipped, logged and
  counted, a line that is not a valid frame is logged and skipped. Should the reader die
  anyway, the worker is killed (`_watch` restarts it like a crash, reason frame_reader_failed).
- Each frame then does its part: state changes, the QR round (ended from outside after
  `qr_round_seconds`), pairing and the wrong-number guard, the history sync (acked once
  stored), answers to pending requests. `message` frames go to `Session._on_message`, the
  live intake.
- stderr carries the worker's structlog JSON lines, re-emitted as the daemon's own log
  events with `source=worker`; anything else (a Go panic trace) is logged as `worker_output`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import UTC, datetime
from typing import Any

from bridge import protocol as p
from bridge.config import normalise_phone
from bridge.daemon.sessions import NotAvailableError, QrCode, SessionState

READ_CHUNK = 1 << 16


class WorkerOutput:
    """The frames and log lines of a session's worker, and what each frame does to the session."""

    # ------------------------------------------------------------------ frames (stdout)

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
                    self.set_view(frames_oversized=self.view.frames_oversized + 1)
                    self.log.error("worker_frame_oversized", size=line.size, limit=p.MAX_FRAME_BYTES)
                    continue
                try:
                    frame = p.decode(line)
                except p.ProtocolError as exc:
                    self.set_view(frames_unreadable=self.view.frames_unreadable + 1)
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

    # ------------------------------------------------------------------ logs (stderr)

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


def _parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
