"""Acks of worker message frames: each after ITS inbox commit, in frame order, while the
frame reader reads on.

The reader hands every message frame to the sink (the intake queues it in frame order) and
goes on reading, so frames that arrive together commit together. This queue holds the
frames whose commit is under way; one task per number waits for the oldest, then acks it
and every later one already committed with one write to the worker that sent it (a seq
means nothing to another worker process). A frame whose commit failed is never acked: it
stays in the worker's journal and the next worker of this number sends it again. At most
`MAX_UNACKED` frames wait; then the reader waits too, and the worker's journal holds the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bridge import protocol as p
from bridge.daemon.sessions import NotAvailableError

MAX_UNACKED = 5_000  # message frames read ahead of their commit (a reconnect backlog), per number

Process = asyncio.subprocess.Process
SendFrames = Callable[[Process, list[p.Frame]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Unacked:
    """A message frame whose inbox commit is under way (None: refused, acked as is)."""

    frame: p.MessageFrame
    committing: asyncio.Future[None] | None
    proc: Process  # the worker that sent it


class InOrderAcks:
    """The frames of one number waiting for their commit, and the task that acks them."""

    def __init__(self, send: SendFrames, committed: Callable[[list[p.MessageFrame]], None],
                 spawn: Callable[[Awaitable[Any]], asyncio.Task[Any]], log: Any, limit: int = MAX_UNACKED) -> None:
        self.send = send
        self.committed = committed  # the frames just committed (not the refused ones), in order
        self.spawn = spawn
        self.log = log
        self.limit = limit
        self.waiting: deque[Unacked] = deque()
        self.arrived = asyncio.Event()
        self.room = asyncio.Event()
        self.task: asyncio.Task[Any] | None = None

    async def add(self, frame: p.MessageFrame, committing: asyncio.Future[None] | None, proc: Process) -> None:
        """Queue a frame behind the earlier ones; waits while `limit` frames are uncommitted."""
        while len(self.waiting) >= self.limit:
            self.room.clear()
            await self.room.wait()
        self.waiting.append(Unacked(frame, committing, proc))
        self.arrived.set()
        if self.task is None or self.task.done():
            self.task = self.spawn(self.run())

    def _done(self, item: Unacked) -> bool:
        return item.committing is None or item.committing.done()

    async def run(self) -> None:
        """Ack frames as their commits finish, oldest first; frames committed together in one write."""
        while True:
            if not self.waiting:
                self.arrived.clear()
                await self.arrived.wait()
                continue
            first = self.waiting[0].committing
            if first is not None:
                await asyncio.wait((first,))
            ready: list[Unacked] = []
            while self.waiting and self._done(self.waiting[0]):
                ready.append(self.waiting.popleft())
            self.room.set()
            committed: list[p.MessageFrame] = []
            acks: dict[Process, list[p.Frame]] = {}
            for item in ready:
                failure = item.committing.exception() if item.committing is not None else None
                if failure is not None:
                    self.log.warning("message_not_committed", seq=item.frame.seq,
                                     error=f"{type(failure).__name__}: {failure}"[:300])
                    continue
                if item.committing is not None:
                    committed.append(item.frame)
                # The ack says "committed" (or deliberately refused): the worker drops it from its journal.
                acks.setdefault(item.proc, []).append(p.Ack(seq=item.frame.seq))
            if committed:
                self.committed(committed)
            for proc, frames in acks.items():
                with contextlib.suppress(NotAvailableError, ConnectionError):
                    await self.send(proc, frames)
