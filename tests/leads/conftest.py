"""A real HTTP server whose control changes leads for real: the in-memory store of the fake
control, a real Processor and LeadDesk (the daemon's processing loop in miniature)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from engine.rules import parse_rules
from engine.ruleset import RuleSet
from store.inbox import messages_of_lead
from store.leads import LeadQuery, get_lead, iter_leads, lead_changes
from store.runs import recent_runs
from tests.http.conftest import BEARER, TOKEN, Serve, client, control, login, serve  # noqa: F401
from tests.http.fake_control import STATUSES, FakeControl

__all__ = ["BEARER", "TOKEN", "LeadsControl", "login"]


class LeadsControl(FakeControl):
    """FakeControl whose leads are the store's (listing and detail read SQLite)."""

    def use_rules(self, document: Mapping[str, Any]) -> None:
        rules = [replace(rule, id=index) for index, rule in
                 enumerate(parse_rules(dict(document), self.rule_env()), start=1)]
        self.processor.ruleset = RuleSet(rules, STATUSES, frozenset({"crm"}))

    async def list_leads(self, filters: Mapping[str, str], limit: int, offset: int) -> list[dict[str, Any]]:
        return [lead.to_dict() for lead in iter_leads(self.db, LeadQuery(dict(filters), limit, offset))]

    async def lead_detail(self, phone: str) -> dict[str, Any] | None:
        lead = get_lead(self.db, phone)
        if lead is None:
            return None
        return {"lead": lead.to_dict(), "messages": messages_of_lead(self.db, phone, 100),
                "runs": recent_runs(self.db, limit=100, lead_phone=phone), "changes": lead_changes(self.db, phone)}


@pytest.fixture
def leads_control() -> LeadsControl:
    return LeadsControl()


@pytest.fixture
async def leads_client(serve: Serve, leads_control: LeadsControl) -> TestClient:  # noqa: F811
    return await serve(leads_control)
