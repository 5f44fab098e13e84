"""Sending replies through the session worker of the number that received the message.

A reply is never routed through another number: the transport only knows how to send
from a given number, and the delivery loop only claims a number's replies while that
number is CONNECTED.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Protocol

from bridge import protocol as p
from bridge.daemon.sessions import NotAvailableError

SEND_TIMEOUT = 30.0


class ReplyFailed(Exception):
    """The worker did not send the text; `maybe_sent` when nobody can tell whether it did."""

    def __init__(self, error: str, *, retryable: bool, maybe_sent: bool = False) -> None:
        super().__init__(error)
        self.error = error
        self.retryable = retryable
        self.maybe_sent = maybe_sent


class ReplyTransport(Protocol):
    """What the outbox needs from the daemon's session workers."""

    def numbers(self) -> Collection[str]:
        """The configured admin numbers."""
        ...

    def state(self, number: str) -> str | None:
        """The number's session state (SessionState value), None if not configured."""
        ...

    async def send_text(self, number: str, to: str, text: str) -> str:
        """Send from `number`; return WhatsApp's message id or raise ReplyFailed."""
        ...


class WorkerTransport:
    """ReplyTransport over the daemon's `Session` objects (bridge.daemon.supervisor)."""

    def __init__(self, workers: Mapping[str, Any]) -> None:
        self.workers = workers

    def numbers(self) -> Collection[str]:
        """The configured admin numbers."""
        return tuple(self.workers)

    def state(self, number: str) -> str | None:
        """The number's session state."""
        session = self.workers.get(number)
        return None if session is None else str(session.view.state.value)

    async def send_text(self, number: str, to: str, text: str) -> str:
        """`send_text` frame to the worker; wait for `sent` / `send_failed`."""
        session = self.workers[number]
        if session.proc is None or session.proc.returncode is not None:
            raise ReplyFailed("the WhatsApp worker of this number is not running", retryable=True)
        try:
            answer = await session.request(lambda rid: p.SendText(request_id=rid, to=to, text=text),
                                           timeout=SEND_TIMEOUT)
        except TimeoutError:
            raise ReplyFailed(f"no answer from the worker within {SEND_TIMEOUT:g} s", retryable=False,
                              maybe_sent=True) from None
        except NotAvailableError as exc:
            raise ReplyFailed(f"the worker stopped while sending: {exc}", retryable=False, maybe_sent=True) from None
        if isinstance(answer, p.Sent):
            return answer.message_id
        if isinstance(answer, p.SendFailed):
            raise ReplyFailed(answer.error, retryable=answer.retryable)
        raise ReplyFailed(f"unexpected answer {answer.TYPE!r}", retryable=False, maybe_sent=True)
