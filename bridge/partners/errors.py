"""What can go wrong with a partner webhook, as values the HTTP layer maps to status codes."""

from __future__ import annotations


class PartnerError(Exception):
    """A refused partner request: its HTTP status, a stable code and a message for the partner."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class PayloadError(ValueError):
    """A signed body that is not the shape the source's format promises (names the field)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class UnreadableMessage(PayloadError):
    """One message of a signed body that carries nothing to read (kept visibly as unreadable)."""

    def __init__(self, reference: str, reason: str, raw: str) -> None:
        super().__init__("messages", reason)
        self.reference = reference
        self.reason = reason
        self.raw = raw
