"""Sending replies through the session worker of the number that received the message.

A reply is never routed through another number: the transport only knows how to send
from a given number, and the delivery loop only claims a number's replies while that
number is CONNECTED.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bridge import protocol as p
from bridge.daemon.sessions import NotAvailableError
from engine.model import Message, phone_to_jid
from store.outbox_delivery import OutboxEntry

SEND_TIMEOUT = 30.0


class ReplyFailed(Exception):
    """The worker did not send the text; `maybe_sent` when nobody can tell whether it did."""

    def __init__(self, error: str, *, retryable: bool, maybe_sent: bool = False) -> None:
        super().__init__(error)
        self.error = error
        self.retryable = retryable
        self.maybe_sent = maybe_sent


@dataclass(frozen=True, slots=True)
class Quote:
    """The message a reply quotes (WhatsApp shows it above the text)."""

    message_id: str
    sender: str | None = None
    text: str | None = None


def team_message(entry: OutboxEntry, number: str, message_id: str, at: datetime) -> Message:
    """A person's message as WhatsApp accepted it: the Team message the inbox records.

    The same shape the worker gives a message typed on the admin phone, with WhatsApp's
    id, so an echo of it is the same inbox row.
    """
    payload = entry.payload
    to = str(payload.get("to"))
    return Message(id=message_id, session=number, chat=to, sender=phone_to_jid(number), timestamp=at,
                   from_me=True, is_group=to.endswith("@g.us"), type="text", text=str(payload.get("text")),
                   is_reply=bool(payload.get("reply_to")), channel_id=number,
                   reply_to=str(payload["reply_to"]) if payload.get("reply_to") else None)


class ReplyTransport(Protocol):
    """What the outbox needs from the daemon's session workers."""

    def numbers(self) -> Collection[str]:
        """The configured admin numbers."""
        ...

    def state(self, number: str) -> str | None:
        """The number's session state (SessionState value), None if not configured."""
        ...

    async def send_text(self, number: str, to: str, text: str, quote: Quote | None = None) -> str:
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

    async def send_text(self, number: str, to: str, text: str, quote: Quote | None = None) -> str:
        """`send_text` frame to the worker; wait for `sent` / `send_failed`."""
        session = self.workers[number]
        if session.proc is None or session.proc.returncode is not None:
            raise ReplyFailed("the WhatsApp worker of this number is not running", retryable=True)
        try:
            answer = await session.request(
                lambda rid: p.SendText(request_id=rid, to=to, text=text,
                                       reply_to=quote.message_id if quote else None,
                                       quoted_sender=quote.sender if quote else None,
                                       quoted_text=quote.text if quote else None),
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
