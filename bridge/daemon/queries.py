"""Read-side queries the HTTP layer asks of the daemon (leads, lead detail, rule runs).

A mixin of `bridge.daemon.app.Daemon`: the daemon is about lifecycle and sessions; these only
read the store, always on its single store thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from sqlite_utils import Database

from bridge.config import Config
from engine.model import Workspace
from engine.operators import CompileEnv
from engine.rules import default_env
from store.inbox import inbox_rows, last_message_at, messages_of_lead
from store.leads import LeadQuery, checked_filters, get_lead, iter_leads, lead_changes
from store.runs import recent_runs

T = TypeVar("T")


class StoreQueries:
    """Leads and rule runs for the API and the dashboard."""

    config: Config
    workspace: Workspace
    store_thread: ThreadPoolExecutor
    db: Database | None

    async def _read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(db, …)` on the store thread (the only thread that touches SQLite)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.store_thread, partial(fn, self.db, *args, **kwargs))

    async def list_leads(self, filters: Mapping[str, str], limit: int, offset: int) -> list[dict[str, Any]]:
        """Leads in the export format, filtered."""
        filters = checked_filters(filters, self.workspace.statuses)

        def query(db: Database) -> list[dict[str, Any]]:
            return [lead.to_dict() for lead in iter_leads(db, LeadQuery(dict(filters), limit, offset))]

        return await self._read(query)

    async def list_leads_after(self, filters: Mapping[str, str], after_phone: str,
                               limit: int) -> list[dict[str, Any]]:
        """Up to `limit` filtered leads with a phone after `after_phone`, in phone order (full exports)."""
        filters = checked_filters(filters, self.workspace.statuses)

        def query(db: Database) -> list[dict[str, Any]]:
            page = LeadQuery(dict(filters), limit, after_phone=after_phone)
            return [lead.to_dict() for lead in iter_leads(db, page)]

        return await self._read(query)

    def rule_env(self) -> CompileEnv:
        """The validation environment for rules (workspace statuses, webhook endpoints)."""
        return default_env(self.workspace.statuses, self.config.endpoint_names())

    async def lead_detail(self, phone: str) -> dict[str, Any] | None:
        """One lead for the dashboard: export fields, messages, rule runs, value/status history."""

        def query(db: Database) -> dict[str, Any] | None:
            lead = get_lead(db, phone)
            if lead is None:
                return None
            return {"lead": lead.to_dict(), "messages": messages_of_lead(db, phone, 100),
                    "last_message_at": last_message_at(db, phone),
                    "runs": recent_runs(db, limit=100, lead_phone=phone), "changes": lead_changes(db, phone)}

        return await self._read(query)

    async def inbox(self, state: str, limit: int) -> list[dict[str, Any]]:
        """Newest inbox rows of one state; "error" lists what could not be read, with the reason."""
        return await self._read(inbox_rows, state, limit)

    async def recent_runs(self, limit: int, errors_only: bool) -> list[dict[str, Any]]:
        """Newest rule runs (or only the failed ones), for the dashboard's Activity screen."""
        return await self._read(recent_runs, limit=limit, errors_only=errors_only)

