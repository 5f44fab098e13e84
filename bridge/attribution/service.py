"""Rotator clicks: `/r/{slug}` → a CONNECTED admin number, a Website Visitor with a code such as `K-7F3Q`
code, and a 302 to wa.me with the greeting pre-filled.

The click path never waits for the disk: the visitor is created in memory (its code is
checked against every code on file, loaded at start) and committed by the store thread in
small batches, at most FLUSH_INTERVAL later and always before the inbox is processed, so
a message carrying the code always finds its visitor. A crash can lose at most the last
FLUSH_INTERVAL of clicks (their codes then read as unknown: no attribution, no wrong one).
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlite_utils import Database

from bridge.attribution.rotator import (
    Connected,
    RateLimiter,
    Rotator,
    build_rotators,
    client_address,
    greeting_text,
    is_bot,
    wa_link,
)
from bridge.config import Config, NumberConfig
from engine.attribution import code_from_bytes
from store.visitors import (
    ClickCount,
    NewVisitor,
    all_codes,
    attribution_log,
    expire_visitors,
    list_visitors,
    purge_visitors,
    rotator_stats,
    save_clicks,
)

log = structlog.get_logger(__name__)

DbCall = Callable[..., Awaitable[Any]]
FLUSH_INTERVAL = 0.1  # seconds
EXPIRE_INTERVAL = 60.0  # seconds between expiry sweeps
MAX_BUFFERED = 100_000  # visitors kept in memory while the database refuses writes
PURGE_AFTER = timedelta(days=30)  # expired visitors are deleted (their codes reusable) after this
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
_MAX_VALUE = 200
_MAX_REFERRER = 500


@dataclass(frozen=True, slots=True)
class Click:
    """What the HTTP layer hands over about one `/r/{slug}` request."""

    slug: str
    query: Mapping[str, str]
    user_agent: str | None
    referrer: str | None
    remote: str | None
    forwarded_for: str | None = None
    probe: bool = False  # HEAD: a link checker, never a visitor


@dataclass(frozen=True, slots=True)
class ClickResult:
    """The answer: 302 with `location`, 404 unknown rotator, 429 limited, 503 nobody connected."""

    status: int
    location: str | None = None
    number: str | None = None
    code: str | None = None
    retry_after: int | None = None


def _clean(value: str | None, limit: int = _MAX_VALUE) -> str | None:
    if value is None:
        return None
    text = "".join(ch for ch in value if ch.isprintable()).strip()[:limit]
    return text or None


class Attribution:
    """Rotator links and their visitors, for the daemon (one instance, event-loop side)."""

    def __init__(self, config: Config, *, connected: Connected, db_call: DbCall,
                 clock: Callable[[], datetime], numbers: Sequence[NumberConfig] | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> None:
        settings = config.attribution
        numbers = config.numbers if numbers is None else tuple(numbers)  # the daemon's (a demo number)
        self.workspace = config.workspace.name
        self.rotators = build_rotators(settings.rotators, numbers)
        self.labels = {n.phone: n.label for n in numbers}
        self.ttl = timedelta(hours=settings.visitor_ttl_hours)
        self.limiter = RateLimiter(settings.rate_limit_per_minute)
        self.proxies = tuple(ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies)
        self.connected = connected
        self.db_call = db_call
        self.clock = clock
        self.monotonic = monotonic
        self.random_bytes = random_bytes
        self.codes: set[str] = set()
        self._visitors: deque[NewVisitor] = deque()
        self._clicks: deque[tuple[str, str, str, bool]] = deque()
        self._warned: dict[str, float] = {}

    # ------------------------------------------------------------------ clicks (event loop)

    def click(self, click: Click) -> ClickResult:
        """Choose the number, create the visitor, build the wa.me link. No I/O."""
        rotator = self.rotators.get(click.slug)
        if rotator is None:
            return ClickResult(404)
        client = client_address(click.remote, click.forwarded_for, self.proxies)
        if not self.limiter.allow(client, self.monotonic()):
            log.debug("rotator_click_limited", rotator=rotator.name)
            return ClickResult(429, retry_after=self.limiter.retry_after(client))
        bot = click.probe or is_bot(click.user_agent)
        phone = rotator.pick(self.connected, advance=not bot)
        if phone is None:
            if self.monotonic() - self._warned.get(rotator.name, float("-inf")) >= 60:  # once a minute
                self._warned[rotator.name] = self.monotonic()
                log.warning("rotator_no_number_connected", rotator=rotator.name, numbers=len(rotator.phones))
            return ClickResult(503, retry_after=30)
        now = self.clock()
        code = None if bot else self._new_code()
        if code is not None:
            self._visitors.append(self._visitor(code, rotator, phone, click, now))
        self._clicks.append((rotator.name, phone, now.date().isoformat(), bot))
        text = greeting_text(rotator.config.greeting, code)
        return ClickResult(302, wa_link(phone, text), phone, code)

    def _new_code(self) -> str | None:
        for _ in range(32):
            code = code_from_bytes(self.random_bytes(16))
            if code not in self.codes:
                self.codes.add(code)
                return code
        log.error("visitor_codes_exhausted", on_file=len(self.codes),
                  hint="shorten [attribution].visitor_ttl_hours so expired codes are freed sooner")
        return None

    def _visitor(self, code: str, rotator: Rotator, phone: str, click: Click, now: datetime) -> NewVisitor:
        query = {key: _clean(click.query.get(key)) for key in (*UTM_KEYS, "fbclid", "gclid")}
        source = "ads" if query["fbclid"] or query["gclid"] else rotator.config.source
        return NewVisitor(code=code, workspace=self.workspace, rotator=rotator.name, number=phone, source=source,
                          utm_source=query["utm_source"], utm_medium=query["utm_medium"],
                          utm_campaign=query["utm_campaign"], utm_term=query["utm_term"],
                          utm_content=query["utm_content"], fbclid=query["fbclid"], gclid=query["gclid"],
                          referrer=_clean(click.referrer, _MAX_REFERRER), landed_at=now.isoformat(),
                          expires_at=(now + self.ttl).isoformat())

    # ------------------------------------------------------------------ store thread

    def load(self, db: Database) -> None:
        """Remember every code on file, so none is issued twice (store thread, at start)."""
        self.codes.update(all_codes(db))

    def flush_into(self, db: Database) -> None:
        """Commit buffered visitors and click counts (store thread; before every processing run)."""
        visitors: list[NewVisitor] = []
        while self._visitors:
            visitors.append(self._visitors.popleft())
        counts: Counter[tuple[str, str, str, bool]] = Counter()
        while self._clicks:
            counts[self._clicks.popleft()] += 1
        totals: dict[tuple[str, str, str], list[int]] = {}
        for (rotator, number, day, bot), n in counts.items():
            entry = totals.setdefault((rotator, number, day), [0, 0])
            entry[0] += n
            entry[1] += n if bot else 0
        clicks = [ClickCount(r, p, d, c, b) for (r, p, d), (c, b) in totals.items()]
        try:
            lost = save_clicks(db, visitors, clicks)
        except Exception:
            # Clicks must never hold up message processing: keep them for the next flush (bounded).
            log.exception("visitor_flush_failed", visitors=len(visitors))
            if len(self._visitors) + len(visitors) <= MAX_BUFFERED:
                self._visitors.extendleft(reversed(visitors))
                self._clicks.extendleft(counts.elements())
            return
        if lost:  # only if another process wrote the same code meanwhile
            log.error("visitor_code_collision", codes=len(lost))

    def sweep(self, db: Database) -> tuple[int, list[str]]:
        """Expire visitors whose time is up; purge long-expired ones (store thread)."""
        now = self.clock()
        return expire_visitors(db, now), purge_visitors(db, now - PURGE_AFTER)

    async def run(self) -> None:
        """Flush clicks every FLUSH_INTERVAL and sweep expiry every EXPIRE_INTERVAL, until cancelled."""
        last_sweep = float("-inf")
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            try:
                if self._visitors or self._clicks:
                    await self.db_call(self.flush_into)
                if self.monotonic() - last_sweep >= EXPIRE_INTERVAL:
                    last_sweep = self.monotonic()
                    expired, purged = await self.db_call(self.sweep)
                    self.codes.difference_update(purged)
                    if expired or purged:
                        log.info("visitors_expired", expired=expired, purged=len(purged))
            except Exception:
                log.exception("visitor_flush_failed")

    # ------------------------------------------------------------------ reports

    async def report(self) -> list[dict[str, Any]]:
        """Per rotator and number: state, weight, clicks, visitors, upgraded leads."""
        stats = await self.db_call(self._stats)
        return rotator_report(self.rotators, self.labels, stats, self.connected)

    def _stats(self, db: Database) -> dict[tuple[str, str], dict[str, int]]:
        self.flush_into(db)
        return rotator_stats(db)

    async def visitors(self, *, state: str | None, rotator: str | None, code: str | None,
                       limit: int) -> list[dict[str, Any]]:
        """The Website Visitors, newest first."""
        def query(db: Database) -> list[dict[str, Any]]:
            self.flush_into(db)
            return list_visitors(db, state=state, rotator=rotator, code=code, limit=limit)

        return await self.db_call(query)  # type: ignore[no-any-return]

    async def log(self, *, code: str | None, limit: int) -> list[dict[str, Any]]:
        """The identity-upgrade log: upgrades and ignored codes with their reason."""
        return await self.db_call(attribution_log, code=code, limit=limit)  # type: ignore[no-any-return]


def rotator_report(rotators: Mapping[str, Rotator], labels: Mapping[str, str],
                   stats: Mapping[tuple[str, str], Mapping[str, int]],
                   connected: Connected | None) -> list[dict[str, Any]]:
    """The `/api/rotators` and `wabridge rotators list` shape (connected is None offline)."""
    out: list[dict[str, Any]] = []
    for name, rotator in rotators.items():
        numbers: list[dict[str, Any]] = []
        for phone in rotator.phones:
            counts = stats.get((name, phone), {})
            numbers.append({"number": phone, "label": labels.get(phone, ""), "weight": rotator.weights[phone],
                            "connected": connected(phone) if connected is not None else None,
                            "clicks": counts.get("clicks", 0), "bot_clicks": counts.get("bot_clicks", 0),
                            "visitors": counts.get("visitors", 0), "waiting": counts.get("waiting", 0),
                            "upgraded": counts.get("upgraded", 0), "expired": counts.get("expired", 0)})
        totals = {key: sum(n[key] for n in numbers) for key in ("clicks", "bot_clicks", "visitors", "upgraded")}
        out.append({"rotator": name, "link": f"/r/{name}", "strategy": rotator.config.strategy,
                    "greeting": rotator.config.greeting, **totals, "numbers": numbers})
    return out
