"""The simulator's control surface (`wabridge run --simulate` only): pair, inject a message,
list what the simulated customers' phones received, crash a worker. A mixin of the Daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from bridge import protocol as p
from bridge.config import normalise_phone
from bridge.daemon.sessions import NotAvailableError, SessionState
from bridge.daemon.supervisor import Session
from engine.model import parse_message

SIM_SCAN_WAIT_SECONDS = 15.0  # `sim scan`: for the QR to show, then for the state after the scan


class SimControl:
    """sim_scan / sim_inject / sim_backlog / sim_history / sim_received / sim_crash over the daemon's sessions."""

    simulate: bool
    _session: Callable[[str], Session]  # the Daemon's: the session of a configured number

    def _require_sim(self) -> None:
        if not self.simulate:
            raise NotAvailableError("the simulator is only present with `wabridge run --simulate`")

    async def sim_scan(self, number: str, as_phone: str | None) -> None:
        """Pair a simulated number (as another phone to exercise the wrong-number guard)."""
        self._require_sim()
        session = self._session(number)
        waiting = (SessionState.SCAN_QR, SessionState.PAIRING_CODE)
        if session.view.state is SessionState.CONNECTED:
            raise NotAvailableError(f"{number} is already CONNECTED: nothing is waiting to be scanned")
        if session.proc is None or session.proc.returncode is not None:
            await session.restart()
        with contextlib.suppress(TimeoutError):  # a fresh worker shows its first QR within a second or two
            await session.wait_for(lambda v: v.state in waiting, SIM_SCAN_WAIT_SECONDS)
        if session.view.state not in waiting:
            raise NotAvailableError(f"{number} is {session.view.state.value}: nothing is waiting to be scanned")
        await session.send_command(p.SimScan(as_=normalise_phone(as_phone) if as_phone else None))
        with contextlib.suppress(TimeoutError):  # answer with the state after the scan, not the one before
            await session.wait_for(lambda v: v.state not in waiting, SIM_SCAN_WAIT_SECONDS)

    async def sim_inject(self, number: str, message: Mapping[str, Any]) -> dict[str, Any]:
        """Deliver one message through the simulated worker (defaults filled, validated)."""
        self._require_sim()
        session = self._session(number)
        if session.view.state is not SessionState.CONNECTED:
            raise NotAvailableError(f"{number} is {session.view.state.value}, not CONNECTED: pair it first")
        complete = complete_sim_message(session.config.phone, message)
        parse_message(complete)  # MessageFormatError → 400 naming the field
        committed = session.await_commit(complete["id"])
        try:
            await session.send_command(p.SimMessage(message=complete))
            # 201 means committed to the inbox, not merely handed to the worker.
            await asyncio.wait_for(asyncio.shield(committed), 10)
        except TimeoutError:
            raise NotAvailableError("the simulated phone did not deliver the message (worker restarting?)") from None
        finally:
            session.commit_waiters.pop(complete["id"], None)
        return {"id": complete["id"], "session": complete["session"]}

    def _connected_messages(self, number: str, messages: list[Mapping[str, Any]]
                            ) -> tuple[Session, list[dict[str, Any]]]:
        """The connected session of a simulated number and its messages with defaults filled,
        each validated (MessageFormatError → 400 naming the field)."""
        self._require_sim()
        session = self._session(number)
        if session.view.state is not SessionState.CONNECTED:
            raise NotAvailableError(f"{number} is {session.view.state.value}, not CONNECTED: pair it first")
        complete = [complete_sim_message(session.config.phone, m) for m in messages]
        for item in complete:
            parse_message(item)
        return session, complete

    async def sim_history(self, number: str, messages: list[Mapping[str, Any]], sync_type: str) -> int:
        """Hand a simulated history sync chunk to the worker (defaults filled, validated); its count."""
        session, complete = self._connected_messages(number, messages)
        await session.send_command(p.SimHistory(messages=complete, sync_type=sync_type))
        return len(complete)

    async def sim_backlog(self, number: str, messages: list[Mapping[str, Any]]) -> int:
        """The offline backlog a phone delivers after a reconnect: every message handed to the
        simulated worker at once (journaled and forwarded as message frames); not awaited."""
        session, complete = self._connected_messages(number, messages)
        for item in complete:
            await session.send_command(p.SimMessage(message=item))
        return len(complete)

    async def sim_received(self, number: str) -> list[dict[str, Any]]:
        """What the simulated customers' phones received from this number, oldest first."""
        self._require_sim()
        answer = await self._session(number).request(lambda rid: p.SimReceived(request_id=rid))
        assert isinstance(answer, p.SimInbox)
        return [dict(m) for m in answer.messages if isinstance(m, Mapping)]

    async def sim_crash(self, number: str) -> None:
        """Make the simulated worker exit like a Go abort."""
        self._require_sim()
        await self._session(number).send_command(p.SimCrash())


def complete_sim_message(number: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Fill a partial simulated message with DESIGN's defaults (id, now, the number, …)."""
    message = dict(raw)
    message.setdefault("id", "SIM" + uuid.uuid4().hex[:20].upper())
    message.setdefault("timestamp", datetime.now(UTC).isoformat())
    message["session"] = number
    message.setdefault("from_me", False)
    message.setdefault("type", "text")
    own = f"{number}@s.whatsapp.net"
    if message.get("from_me"):
        message.setdefault("sender", own)
    for key in ("chat", "sender"):
        value = message.get(key)
        if isinstance(value, str) and value and "@" not in value:
            message[key] = f"{normalise_phone(value)}@s.whatsapp.net"
    if "chat" not in message and "sender" in message and not message.get("from_me"):
        message["chat"] = message["sender"]
    if "sender" not in message and "chat" in message:
        message["sender"] = message["chat"]
    return message
