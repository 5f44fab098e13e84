"""Background asyncio tasks the daemon owns: kept referenced until done, failures logged, cancelled together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import structlog


class BackgroundTasks:
    """A set of running tasks (asyncio keeps only weak references to tasks it runs)."""

    def __init__(self, failure_event: str, log: Any = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._failure_event = failure_event
        self._log = log or structlog.get_logger(__name__)

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run `coro` in the background; an exception it raises is logged, not lost."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error(self._failure_event, error=repr(task.exception()))

    async def cancel_all(self) -> None:
        """Cancel every task and wait until they have all ended."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
