"""An in-memory OutboxControl for the HTTP tests (the route table, auth, input checks)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from store.errors import NotFoundError


class FakeOutbox:
    """Entries held in a dict; records the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.entries: dict[int, dict[str, Any]] = {
            1: {"id": 1, "kind": "webhook", "state": "dead", "target": "endpoint:crm", "attempts": 1,
                "last_status": 404, "signing": "unsigned"},
            2: {"id": 2, "kind": "reply", "state": "delivered", "target": "reply:6281100000001", "attempts": 1,
                "last_status": None, "signing": None},
        }

    async def list_entries(self, state: str | None, kind: str | None, limit: int) -> list[dict[str, Any]]:
        self.calls.append(("list", (state, kind, limit)))
        rows = [e for e in self.entries.values() if (state is None or e["state"] == state)
                and (kind is None or e["kind"] == kind)]
        return sorted(rows, key=lambda e: -int(e["id"]))[:limit]

    async def retry(self, entry_id: int) -> dict[str, Any]:
        self.calls.append(("retry", entry_id))
        entry = self.entries.get(entry_id)
        if entry is None:
            raise NotFoundError(f"no outbox entry {entry_id}")
        if entry["state"] == "delivered":
            raise ValueError(f"outbox entry {entry_id} was already delivered")
        entry.update(state="pending", attempts=0)
        return dict(entry)

    async def retry_dead(self) -> int:
        self.calls.append(("retry_dead", None))
        dead = [e for e in self.entries.values() if e["state"] == "dead"]
        for entry in dead:
            entry.update(state="pending", attempts=0)
        return len(dead)

    async def purge(self, older_than: float, states: Collection[str]) -> int:
        self.calls.append(("purge", (older_than, tuple(states))))
        return 0
