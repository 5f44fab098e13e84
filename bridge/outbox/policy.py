"""Retry decisions for webhooks and conversion events, as pure functions (time and
randomness come in as arguments, arq's `next_cron` style).

- 2xx: delivered.
- 3xx: dead (redirects are not followed: a redirect could point anywhere, metadata included).
- 4xx: dead, except 408, 409, 425 and 429, which are retried (honouring Retry-After).
- 5xx, timeouts and connection errors: retried with exponential backoff and jitter
  (base, doubling, capped), until `max_attempts` attempts or `max_age` after queueing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRYABLE_4XX = frozenset({408, 409, 425, 429})
JITTER = 0.2  # each delay is the nominal one ±20 %


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try again and when to give up."""

    base: float = 10.0
    cap: float = 3600.0
    max_attempts: int = 30
    max_age: float = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """An attempt's consequence: delivered, failed (try again after `delay` s) or dead."""

    state: str
    reason: str | None = None
    delay: float | None = None


def backoff(attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Seconds before attempt `attempt + 1`: base·2^(attempt-1), capped, with ±20 % jitter."""
    nominal = min(policy.cap, policy.base * float(2 ** min(max(attempt - 1, 0), 40)))
    return min(policy.cap, nominal * rng.uniform(1 - JITTER, 1 + JITTER))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _human(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def retry_or_give_up(reason: str, *, attempts: int, age: float, policy: RetryPolicy, rng: random.Random,
                     retry_after: float | None = None) -> Verdict:
    """A retryable failure: schedule the next attempt, or give up when the limits are reached."""
    delay = retry_after if retry_after is not None else backoff(attempts, policy, rng)
    if attempts >= policy.max_attempts:
        return Verdict("dead", f"{reason}; gave up after {attempts} attempts")
    if age + delay > policy.max_age:
        return Verdict("dead", f"{reason}; gave up: no attempt is allowed later than "
                               f"{_human(policy.max_age)} after it was queued")
    return Verdict("failed", reason, delay)


def judge_http(status: int | None, error: str | None, *, attempts: int, age: float, policy: RetryPolicy,
               rng: random.Random, retry_after: float | None = None) -> Verdict:
    """Decide what an HTTP attempt (a status, or an error without one) means for the entry."""
    if status is not None and 200 <= status < 300:
        return Verdict("delivered")
    if status is not None and 300 <= status < 400:
        return Verdict("dead", f"HTTP {status}: redirects are not followed; point the URL at the final address")
    if status is not None and 400 <= status < 500 and status not in RETRYABLE_4XX:
        return Verdict("dead", f"HTTP {status}: the receiver refused it; not retried")
    reason = f"HTTP {status}" if status is not None else (error or "no response")
    honoured = retry_after if status is not None else None
    return retry_or_give_up(reason, attempts=attempts, age=age, policy=policy, rng=rng, retry_after=honoured)
