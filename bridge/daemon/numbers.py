"""The admin numbers' control surface (a mixin of the Daemon): their snapshots, waiting for a
change, logout, restart, phone-code pairing, and the lookups the intake and rotator use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection

from bridge import protocol as p
from bridge.config import normalise_phone
from bridge.daemon.sessions import NotAvailableError, SessionState, SessionView, UnknownNumberError
from bridge.daemon.supervisor import Session


class NumberControl:
    """sessions / session / wait_for_change / logout / restart / request_pair_code over `workers`."""

    workers: dict[str, Session]  # the Daemon's: one session per configured number

    def _sent_ids(self, number: str) -> Collection[str]:
        """WhatsApp ids this number just sent: their echoes are no message events."""
        return self.workers[number].sent_ids if number in self.workers else ()

    def _connected(self, phone: str) -> bool:
        """Whether an admin number can take a rotator click right now."""
        session = self.workers.get(phone)
        return session is not None and session.view.state is SessionState.CONNECTED

    def _session(self, number: str) -> Session:
        session = self.workers.get(normalise_phone(number))
        if session is None:
            raise UnknownNumberError(number)
        return session

    def sessions(self) -> list[SessionView]:
        """Every configured number, in config order."""
        return [s.view for s in self.workers.values()]

    def session(self, number: str) -> SessionView:
        """One number's snapshot."""
        return self._session(number).view

    async def wait_for_change(self, number: str, after_version: int, timeout: float) -> SessionView:
        """Return when the session changed past `after_version`, or at timeout."""
        session = self._session(number)
        with contextlib.suppress(TimeoutError):
            return await session.wait_for(lambda v: v.version > after_version, timeout)
        return session.view

    async def logout(self, number: str) -> None:
        """Unlink the device (the worker logs out and exits 4: LOGGED_OUT)."""
        session = self._session(number)
        if session.proc is None or session.proc.returncode is not None:
            raise NotAvailableError("the number is not running; restart it first")
        await session.send_command(p.Logout())
        with contextlib.suppress(TimeoutError):
            await session.wait_for(lambda v: v.state in (SessionState.LOGGED_OUT, SessionState.STOPPED), 15)

    async def restart(self, number: str) -> None:
        """Restart the worker: a fresh QR round for an unpaired number, reconnect otherwise."""
        await self._session(number).restart()

    async def request_pair_code(self, number: str) -> str:
        """Phone-code pairing: returns the 8-character code to type on the phone."""
        session = self._session(number)
        if session.view.state is SessionState.CONNECTED:
            raise NotAvailableError("this number is already connected")
        if session.proc is None or session.proc.returncode is not None:
            await session.restart()
            await session.wait_for(lambda v: v.state in (SessionState.SCAN_QR, SessionState.FAILED), 30)
        answer = await session.request(lambda rid: p.PairPhone(request_id=rid))
        assert isinstance(answer, p.PairCode)
        session.set_view(pair_code=answer.code)
        return answer.code
