"""The outbox's control surface for the HTTP API: list, retry one, retry dead letters, purge.

A mixin of OutboxService (it runs every query on the daemon's store thread and wakes the
delivery loop after a retry); `wabridge outbox` runs the same store functions directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from typing import Any

from bridge.config import Config
from bridge.outbox.views import describe
from store.outbox import list_outbox
from store.outbox_delivery import purge, retry_dead, retry_entry
from store.subscriptions import Subscription


class OutboxControl:
    """list_entries / retry / retry_dead / purge, as bridge.http.outbox_api expects them."""

    config: Config
    db_call: Callable[..., Awaitable[Any]]
    clock: Callable[[], datetime]
    subscription_of: Callable[[str], Subscription | None]

    def wake(self) -> None:
        """Overridden by the service: something may be due now."""

    async def refresh_gauges(self) -> None:
        """Overridden by the service: recount backlog and dead letters."""

    async def list_entries(self, state: str | None, kind: str | None, limit: int) -> list[dict[str, Any]]:
        """Entries newest first, with their signing status; secrets never included."""
        rows = await self.db_call(list_outbox, state=state, kind=kind, limit=limit)
        return [describe(row, self.config, self.subscription_of) for row in rows]

    async def retry(self, entry_id: int) -> dict[str, Any]:
        """Send one entry again now (NotFoundError / ValueError as store.outbox_delivery says)."""
        row = await self.db_call(retry_entry, entry_id, self.clock())
        await self.refresh_gauges()
        self.wake()
        return describe(row, self.config, self.subscription_of)

    async def retry_dead(self) -> int:
        """Send every dead letter again; returns how many."""
        count = int(await self.db_call(retry_dead, self.clock()))
        await self.refresh_gauges()
        self.wake()
        return count

    async def purge(self, older_than: float, states: Collection[str]) -> int:
        """Delete delivered/dead entries last changed more than `older_than` seconds ago."""
        count = int(await self.db_call(purge, self.clock() - timedelta(seconds=older_than), tuple(states)))
        await self.refresh_gauges()
        return count
