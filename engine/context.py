"""What a rule sees while it is evaluated: one event, one lead snapshot, the time."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from engine.lead_draft import LeadDraft
from engine.memo import TextMemo
from engine.model import Lead, Message
from engine.text import normalise

if TYPE_CHECKING:
    from engine.regexes import RegexBank

# Normalised texts across events (engine.memo): a pure function, so shared by every rule set.
_NORMALISED: TextMemo[str, str] = TextMemo()


class EvalCache:
    """What one event computes once for all its passes (a message's status-change passes
    see the same text): normalised strings, regex hits, the anchor mask of the message,
    the event's local time."""

    __slots__ = ("normalised", "regex_hits", "message_mask", "local_time")

    def __init__(self) -> None:
        self.normalised: dict[str, str] = {}  # raw → normalised (a pure function of raw)
        self.regex_hits: dict[str, tuple[str, frozenset[int]]] = {}  # field → (raw, hits)
        self.message_mask: int | None = None
        self.local_time: datetime | None = None


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
        "change_by",
        "cache",
        "_bank",
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
        cache: EvalCache | None = None,
        change_by: str | None = None,
    ) -> None:
        self.message = message
        self.lead = lead
        self.now = now
        self.tz = tz
        self.first_contact = first_contact
        self.status_from = status_from
        self.status_to = status_to
        # Who made the change this pass reacts to (engine.changes.CHANGE_SOURCES).
        self.change_by = change_by
        self._bank = bank
        self.cache = cache if cache is not None else EvalCache()

    def normalised(self, field: str, raw: str) -> str:
        """Return `raw` normalised, computed once per event (`field` names where it came from)."""
        cache = self.cache.normalised
        cached = cache.get(raw)
        if cached is None:
            cached = _NORMALISED.values.get(raw)
            if cached is None:
                cached = _NORMALISED.keep(raw, raw, normalise(raw))
            cache[raw] = cached
        return cached

    def regex_hits(self, field: str, raw: str) -> frozenset[int]:
        """Return the indices of every rule regex on `field` that matches `raw` (one RE2 pass)."""
        cache = self.cache.regex_hits
        cached = cache.get(field)
        if cached is not None and cached[0] == raw:
            return cached[1]
        hits = self._bank.match(field, raw) if self._bank is not None else frozenset()
        cache[field] = (raw, hits)
        return hits

    def local_time(self) -> datetime:
        """The event's time in the workspace timezone (message time, else now)."""
        cached = self.cache.local_time
        if cached is None:
            moment = self.message.timestamp if self.message is not None else self.now
            cached = self.cache.local_time = moment.astimezone(self.tz)
        return cached
