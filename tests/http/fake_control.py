"""An in-memory SessionControl: the protocol's behaviour, driven by the test.

States change only when the test (or a control call) says so; every change bumps the
session's version and wakes `wait_for_change`, as the daemon's supervisor does.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from bridge.daemon.sessions import (
    NotAvailableError,
    QrCode,
    SessionState,
    SessionView,
    Transition,
    UnknownNumberError,
)
from bridge.daemon.simulator import complete_sim_message
from bridge.history.importer import Imported, store_history
from bridge.leads.desk import LeadDesk
from engine.model import Message, Workspace, parse_message, parse_timestamp
from engine.operators import CompileEnv
from engine.rules import default_env
from engine.ruleset import RuleSet
from store.db import open_db
from store.leads import get_lead, lead_changes
from store.processor import Processor
from tests.attribution.services import make_services
from tests.http.fake_events import make_desk
from tests.http.fake_messages import make_messages, make_subscriptions
from tests.outbox.fake_outbox import FakeOutbox

T = TypeVar("T")
ADMIN = "6281100000001"
OTHER_ADMIN = "6281100000002"
LEAD_FILTER_NAMES = frozenset({"status", "source", "utm_source", "utm_medium", "utm_campaign",
                               "city", "phone", "tag", "q", "updated_since"})
STATUSES = ("new", "responded", "hot", "purchase", "won", "lost")


class FakeControl:
    """SessionControl in memory, with helpers the tests use to drive it."""

    def __init__(self, *, simulate: bool = True,
                 numbers: Mapping[str, str] | None = None) -> None:
        self.simulate = simulate
        self.outbox = FakeOutbox()  # the /api/outbox routes (issue #4)
        self.events = make_desk()  # the event routes (issue #5): a real desk over in-memory SQLite
        self.messages = make_messages()  # POST /api/messages (issue #17): real checks, in-memory SQLite
        self.subscriptions = make_subscriptions()  # event webhook subscriptions (issue #17)
        # Rotator links and partner hooks (issue #6): the real services over an in-memory store.
        services = make_services(connected=lambda phone: phone in self._views
                                 and self._views[phone].state is SessionState.CONNECTED)
        self.attribution, self.partners = services.attribution, services.partners
        self.calls: list[tuple[str, Any]] = []
        self.active_waiters = 0
        self.ready = True
        self.leads: list[dict[str, Any]] = []
        self.db = open_db(":memory:")  # rules (issue #7) live here, in the real schema
        self.runs: list[dict[str, Any]] = []  # newest first, as store.runs.recent_runs
        self.inbox_rows: list[dict[str, Any]] = []  # newest first, as store.inbox.inbox_rows
        self.lead_history: dict[str, dict[str, list[dict[str, Any]]]] = {}  # phone → messages/changes
        self._waiters: set[asyncio.Future[None]] = set()
        self._codes = itertools.count(1)
        self._views: dict[str, SessionView] = {}
        # Lead changes (issue #13): the real desk and processor over the in-memory store.
        self.workspace = Workspace("Toko Budi", ZoneInfo("Asia/Jakarta"), STATUSES)
        self.processor = Processor(self.db, RuleSet([], STATUSES), self.workspace, lambda: datetime.now(UTC))
        self.lead_desk = LeadDesk(self.db_call, self._wake_processor, STATUSES, lambda: datetime.now(UTC))
        for number, label in (numbers or {ADMIN: "CS Budi", OTHER_ADMIN: "CS Sari"}).items():
            self._views[number] = SessionView(number=number, label=label, rotator="default",
                                              state=SessionState.STARTING, version=1)

    # -- driving the fake from tests -------------------------------------------------
    def _get(self, number: str) -> SessionView:
        try:
            return self._views[number]
        except KeyError:
            raise UnknownNumberError(f"{number} is not a configured number") from None

    def set(self, number: str, state: SessionState, reason: str | None = None,
            **changes: Any) -> SessionView:
        """Move a session to a state (clearing the QR unless one is given) and wake waiters."""
        old = self._get(number)
        now = datetime.now(UTC)
        changes.setdefault("qr", None)
        if state is not SessionState.PAIRING_CODE:
            changes.setdefault("pair_code", None)
        view = replace(old, state=state, reason=reason, version=old.version + 1,
                       transitions=(*old.transitions, Transition(now, state, reason, None))[-10:],
                       **changes)
        self._views[number] = view
        self._notify()
        return view

    def show_qr(self, number: str, lifetime: float = 20.0) -> QrCode:
        """Enter SCAN_QR with the next QR of the round (a rotation when already scanning)."""
        old = self._get(number)
        seq = old.qr.seq + 1 if old.qr else 1
        now = datetime.now(UTC)
        qr = QrCode(seq=seq, code=f"2@fakeRef{seq:03d}{number},NoiseKey{seq},Identity,Adv",
                    issued_at=now, expires_at=now + timedelta(seconds=lifetime))
        self.set(number, SessionState.SCAN_QR, qr=qr)
        return qr

    def connect(self, number: str, *, push_name: str = "Budi HP") -> SessionView:
        """The right phone scanned: CONNECTED."""
        return self.set(number, SessionState.CONNECTED, linked_jid=f"{number}:12@s.whatsapp.net",
                        push_name=push_name, attempted_phone=None)

    def _wake_processor(self) -> None:
        asyncio.get_running_loop().call_soon(self.process)

    def process(self) -> None:
        """What the daemon's processing loop does: drain the inbox, hand results to the desk."""
        self.lead_desk.settled(self.processor.run().changes)

    def _notify(self) -> None:
        for waiter in list(self._waiters):
            if not waiter.done():
                waiter.set_result(None)

    # -- SessionControl ------------------------------------------------------------------
    def sessions(self) -> list[SessionView]:
        return list(self._views.values())

    def session(self, number: str) -> SessionView:
        return self._get(number)

    async def wait_for_change(self, number: str, after_version: int, timeout: float) -> SessionView:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self.active_waiters += 1
        try:
            while self._get(number).version <= after_version:
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiters.add(waiter)
                try:
                    await asyncio.wait_for(waiter, max(0.0, deadline - loop.time()))
                except TimeoutError:
                    break
                finally:
                    self._waiters.discard(waiter)
        finally:
            self.active_waiters -= 1
        return self._get(number)

    async def logout(self, number: str) -> None:
        self.calls.append(("logout", number))
        if self._get(number).state is not SessionState.CONNECTED:
            raise NotAvailableError("this number is not linked")
        self.set(number, SessionState.LOGGED_OUT, "logged_out_by_owner", linked_jid=None, push_name=None)

    async def restart(self, number: str) -> None:
        self.calls.append(("restart", number))
        self._get(number)
        self.set(number, SessionState.STARTING)
        self.show_qr(number)

    async def reload_rules(self) -> dict[str, Any]:
        self.calls.append(("reload_rules", ""))
        return {"rules": 3, "invalid": []}

    async def request_pair_code(self, number: str) -> str:
        self.calls.append(("pair_code", number))
        if self._get(number).state is SessionState.CONNECTED:
            raise NotAvailableError("this number is already linked")
        code = f"ABCD-{next(self._codes):04d}"
        self.set(number, SessionState.PAIRING_CODE, pair_code=code)
        return code

    async def sim_scan(self, number: str, as_phone: str | None) -> None:
        self.calls.append(("sim_scan", (number, as_phone)))
        if self._get(number).state not in (SessionState.SCAN_QR, SessionState.PAIRING_CODE):
            raise NotAvailableError("nothing to scan: the number is not waiting for pairing")
        if as_phone and as_phone != number:
            self.set(number, SessionState.FAILED, "wrong_number", attempted_phone=as_phone)
        else:
            self.connect(number)

    async def sim_inject(self, number: str, message: Mapping[str, Any]) -> dict[str, Any]:
        self.calls.append(("sim_inject", (number, dict(message))))
        self._get(number)
        raw = {"id": f"SIM{len(self.calls)}", "timestamp": datetime.now(UTC).isoformat(),
               "session": number, "from_me": False, "type": "text", **message}
        parsed = parse_message(raw)  # MessageFormatError names the field
        return {"id": parsed.id}

    async def import_history(self, messages: Sequence[Message], *, run_rules: bool) -> Imported:
        """Real storing into the fake's database, through a processor with no rules."""
        self.calls.append(("import_history", (len(messages), run_rules)))
        processor = Processor(self.db, RuleSet([], STATUSES), Workspace("Fake", UTC, STATUSES),
                              lambda: datetime.now(UTC))
        return store_history(processor, messages, datetime.now(UTC), rules=run_rules)

    async def sim_history(self, number: str, messages: list[Mapping[str, Any]], sync_type: str) -> int:
        self.calls.append(("sim_history", (number, len(messages), sync_type)))
        return len(messages)

    async def sim_backlog(self, number: str, messages: list[Mapping[str, Any]]) -> int:
        self.calls.append(("sim_backlog", (number, len(messages))))
        self._get(number)
        for message in messages:
            parse_message(complete_sim_message(number, message))  # MessageFormatError names the field
        return len(messages)

    async def sim_received(self, number: str) -> list[dict[str, Any]]:
        self.calls.append(("sim_received", number))
        return []

    async def sim_crash(self, number: str) -> None:
        self.calls.append(("sim_crash", number))
        self.set(number, SessionState.DISCONNECTED, "crashed")

    def _matching(self, filters: Mapping[str, str]) -> list[dict[str, Any]]:
        unknown = sorted(set(filters) - LEAD_FILTER_NAMES)
        if unknown:
            raise ValueError(f"{unknown[0]}: not a lead filter")
        if "status" in filters and filters["status"] not in STATUSES:
            raise ValueError(f"status: {filters['status']!r} is not one of {', '.join(STATUSES)}")
        if "updated_since" in filters:
            parse_timestamp(filters["updated_since"], "updated_since")
        return [lead for lead in self.leads
                if all(str(lead.get(k)) == v for k, v in filters.items() if k != "updated_since")]

    async def list_leads(self, filters: Mapping[str, str], limit: int,
                         offset: int) -> list[dict[str, Any]]:
        self.calls.append(("list_leads", (dict(filters), limit, offset)))
        return self._matching(filters)[offset:offset + limit]

    async def list_leads_after(self, filters: Mapping[str, str], after_phone: str,
                               limit: int) -> list[dict[str, Any]]:
        self.calls.append(("list_leads_after", (dict(filters), after_phone, limit)))
        rows = sorted((lead for lead in self._matching(filters) if lead["phone"] > after_phone),
                      key=lambda lead: lead["phone"])
        return [dict(lead) for lead in rows[:limit]]

    async def db_call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Store calls run inline on the fake's in-memory database (real migrations)."""
        return fn(self.db, *args, **kwargs)

    def rule_env(self) -> CompileEnv:
        return default_env(STATUSES, frozenset({"crm"}))

    async def lead_detail(self, phone: str) -> dict[str, Any] | None:
        self.calls.append(("lead_detail", phone))
        lead = next((lead for lead in self.leads if lead.get("phone") == phone), None)
        if lead is None:
            stored = get_lead(self.db, phone)  # a lead created through the desk
            if stored is None:
                return None
            return {"lead": stored.to_dict(), "messages": [], "runs": [], "changes": lead_changes(self.db, phone)}
        history = self.lead_history.get(phone, {})
        return {"lead": dict(lead), "messages": list(history.get("messages", [])),
                "runs": [r for r in self.runs if r.get("lead_phone") == phone],
                "changes": list(history.get("changes", []))}

    async def inbox(self, state: str, limit: int) -> list[dict[str, Any]]:
        self.calls.append(("inbox", (state, limit)))
        return [row for row in self.inbox_rows if row["state"] == state][:limit]

    async def recent_runs(self, limit: int, errors_only: bool) -> list[dict[str, Any]]:
        self.calls.append(("recent_runs", (limit, errors_only)))
        return [r for r in self.runs if not errors_only or r.get("error")][:limit]

    def readiness(self) -> dict[str, Any]:
        return {"ready": self.ready,
                "checks": {"store": {"ok": self.ready, "detail": "writable" if self.ready
                                     else "database is locked"}}}

    async def metrics(self) -> bytes:
        lines = ["# HELP wabridge_session_state 1 for the session's current state.",
                 "# TYPE wabridge_session_state gauge"]
        for view in self._views.values():
            lines.append(f'wabridge_session_state{{number="{view.number}",'
                         f'state="{view.state.value}"}} 1')
        return ("\n".join(lines) + "\n").encode()
