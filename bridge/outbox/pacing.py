"""Anti-ban pacing of replies, per admin number, as a small pure object (the time comes in).

WhatsApp bans accounts that behave like bots (peers.md #10). Replies from one number are
therefore spaced: at least `min_gap` seconds apart, at most `hourly_cap` in any rolling
hour, and each preceded by a random 0..`jitter` s "typing" delay (drawn by the sender).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from bridge.outbox.settings import ReplySettings

HOUR = timedelta(hours=1)


class Pacer:
    """When the next reply of one number may go out."""

    def __init__(self, settings: ReplySettings) -> None:
        self.settings = settings
        self.sent: deque[datetime] = deque()

    def record(self, at: datetime) -> None:
        """A reply was handed to WhatsApp at `at`."""
        self.sent.append(at)
        if len(self.sent) > 1 and self.sent[-2] > at:  # seeded out of order: keep it sorted
            self.sent = deque(sorted(self.sent))

    def ready_at(self, now: datetime) -> tuple[datetime, str | None]:
        """The earliest time the next reply may start, and why it must wait (None: it need not)."""
        while self.sent and self.sent[0] <= now - HOUR:
            self.sent.popleft()
        ready, reason = now, None
        if self.sent:
            gap_end = self.sent[-1] + timedelta(seconds=self.settings.min_gap)
            if gap_end > ready:
                ready, reason = gap_end, f"minimum gap of {self.settings.min_gap:g} s between replies"
        cap = self.settings.hourly_cap
        if len(self.sent) >= cap:
            cap_end = self.sent[-cap] + HOUR
            if cap_end > ready:
                ready, reason = cap_end, f"hourly cap of {cap} replies reached"
        return ready, reason
