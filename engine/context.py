"""What a rule sees while it is evaluated: one event, one lead snapshot, the time."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from engine.model import Lead, LeadDraft, Message
from engine.text import normalise

if TYPE_CHECKING:
    from engine.regexes import RegexBank


class EvalContext:
    """One evaluation's inputs plus per-event caches (normalised text, regex hits).

    Mutable only in its caches: every rule of a pass reads the same snapshot.
    """

    __slots__ = (
        "message",
        "lead",
        "now",
        "tz",
        "status_from",
        "status_to",
        "first_contact",
        "_bank",
        "_normalised",
        "_regex_hits",
    )

    def __init__(
        self,
        *,
        message: Message | None,
        lead: Lead | LeadDraft,
        now: datetime,
        tz: tzinfo,
        first_contact: bool = False,
        status_from: str | None = None,
        status_to: str | None = None,
        bank: RegexBank | None = None,
    ) -> None:
        self.message = message
        self.lead = lead
        self.now = now
        self.tz = tz
        self.first_contact = first_contact
        self.status_from = status_from
        self.status_to = status_to
        self._bank = bank
        self._normalised: dict[str, str] = {}
        self._regex_hits: dict[str, frozenset[int]] = {}

    def normalised(self, field: str, raw: str) -> str:
        """Return `raw` normalised, computed once per field per event."""
        cached = self._normalised.get(field)
        if cached is None:
            cached = normalise(raw)
            self._normalised[field] = cached
        return cached

    def regex_hits(self, field: str, raw: str) -> frozenset[int]:
        """Return the indices of every rule regex on `field` that matches `raw` (one RE2 pass)."""
        hits = self._regex_hits.get(field)
        if hits is None:
            hits = self._bank.match(field, raw) if self._bank is not None else frozenset()
            self._regex_hits[field] = hits
        return hits

    def local_time(self) -> datetime:
        """The event's time in the workspace timezone (message time, else now)."""
        moment = self.message.timestamp if self.message is not None else self.now
        return moment.astimezone(self.tz)
