"""The lead desk: a person's or a system's change is committed as an event, the processor is
woken, and the caller waits until the change and the rules it fired have committed.

The daemon's processing loop calls `settled` with the results of every change it applied
(`ProcessStats.changes`); a result may arrive before its waiter registers (the processing
run may start right after the commit), so unclaimed results are kept for a short while.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from store.lead_events import ChangeResult, LeadChange, submit_changes

T = TypeVar("T")
DbCall = Callable[..., Awaitable[Any]]
APPLY_TIMEOUT = 30.0  # seconds an answer waits for the processor before saying "accepted"
KEEP_UNCLAIMED = 1000  # results of changes nobody here waits for (another process's)


class LeadDesk:
    """Submit changes and wait for them to be applied."""

    def __init__(self, db_call: DbCall, wake: Callable[[], None], statuses: tuple[str, ...],
                 clock: Callable[[], datetime], *, timeout: float = APPLY_TIMEOUT) -> None:
        self.db_call = db_call
        self.wake = wake
        self.statuses = statuses
        self.clock = clock
        self.timeout = timeout
        self._waiting: dict[int, asyncio.Future[ChangeResult]] = {}
        self._unclaimed: OrderedDict[int, ChangeResult] = OrderedDict()
        # Changes waiting for their commit: whoever finds no commit under way commits them
        # all in one transaction (group commit: 8 people saving at once cost one fsync).
        self._queued: list[tuple[LeadChange, asyncio.Future[int]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def _commit(self, change: LeadChange) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queued.append((change, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._queued:
            batch, self._queued = self._queued, []
            try:
                ids = await self.db_call(submit_changes, [change for change, _ in batch], self.clock())
            except Exception as exc:  # the callers answer with the error; the desk goes on
                for _, waiter in batch:
                    if not waiter.done():
                        waiter.set_exception(exc)
                continue
            for (_, waiter), event_id in zip(batch, ids, strict=True):
                if not waiter.done():
                    waiter.set_result(event_id)

    async def submit(self, change: LeadChange) -> ChangeResult | None:
        """Commit the change, then wait for its result (None: still pending after the timeout)."""
        event_id = await self._commit(change)
        early = self._unclaimed.pop(event_id, None)
        if early is not None:
            return early
        future: asyncio.Future[ChangeResult] = asyncio.get_running_loop().create_future()
        self._waiting[event_id] = future
        self.wake()
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(event_id, None)

    def settled(self, results: Mapping[int, ChangeResult]) -> None:
        """Hand applied changes to their waiters (called on the event loop after a run)."""
        for event_id, result in results.items():
            future = self._waiting.get(event_id)
            if future is not None and not future.done():
                future.set_result(result)
            else:
                self._unclaimed[event_id] = result
        while len(self._unclaimed) > KEEP_UNCLAIMED:
            self._unclaimed.popitem(last=False)
