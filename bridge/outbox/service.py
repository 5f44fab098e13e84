"""The daemon's outbox delivery: claim due entries on the store thread, deliver them on the
event loop, record the results on the store thread.

Why an asyncio loop woken by the processor, with APScheduler only as the heartbeat: the
processor commits outbox rows and wakes this loop at once, so a webhook leaves within
milliseconds of its message instead of up to one scheduler interval later, and the loop
sleeps exactly until the next retry falls due. APScheduler runs `tick` every few seconds
(dead-letters replies that waited too long, refreshes the gauges, notices `outbox retry`
run from the command line by another process) and the hourly retention purge.

Lanes: an entry's `target` (endpoint, URL origin, reply number, conversions). Webhook and
conversion lanes carry up to [webhooks].concurrency requests each, all lanes together
[webhooks].max_in_flight; a reply lane carries one reply at a time, only while its number
is CONNECTED and its pacer allows. Results are written in batches (one transaction per
batch), so a slow or huge backlog costs the store thread little and never holds up the
inbox: message processing and deliveries share the store thread in short turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from bridge.config import Config
from bridge.metrics import Metrics
from bridge.outbox.control import OutboxControl
from bridge.outbox.guard import AddressGuard
from bridge.outbox.metrics import OutboxMetrics
from bridge.outbox.pacing import HOUR, Pacer
from bridge.outbox.policy import RetryPolicy, Verdict, judge_http, retry_or_give_up
from bridge.outbox.replies import Quote, ReplyFailed, ReplyTransport, team_message
from bridge.outbox.sender import USER_AGENT, HttpSender, webhook_headers
from bridge.outbox.views import outbox_policy
from engine.model import Message
from store.outbox_delivery import (
    DeliveryResult,
    OutboxEntry,
    backlog_by_kind,
    claim_due,
    dead_by_kind,
    expire_waiting,
    mark_sending,
    recent_sends,
    record_results,
    release_on_start,
)
from store.outbox_delivery import (
    purge as purge_finished,
)
from store.sending import forget_old_keys
from store.subscriptions import Subscription

log = structlog.get_logger(__name__)
DbCall = Callable[..., Awaitable[Any]]
STOP_GRACE = 3.0
REPLY_KINDS = ("reply", "message")  # sent through a number's worker, paced on its reply lane
REPLY_LEASE = 120.0  # typing delay + the worker's 30 s answer time, with room to spare


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OutboxService(OutboxControl):
    """Delivers the outbox for the daemon; also answers the CLI/API's list, retry and purge."""

    def __init__(self, config: Config, db_call: DbCall, transport: ReplyTransport, *,
                 clock: Callable[[], datetime] = _utc_now, rng: random.Random | None = None,
                 tick_seconds: float = 5.0, metrics: Metrics | None = None,
                 on_sent: Callable[[], None] | None = None) -> None:
        self.config = config
        self.webhooks = config.webhooks
        self.replies = config.replies
        self.endpoints = {e.name: e for e in config.endpoints}
        # Where a subscription's events go; the daemon swaps in its registry (dashboard ones too).
        configured = {s.name: s for s in config.subscriptions}
        self.subscription_of: Callable[[str], Subscription | None] = configured.get
        self.policy = outbox_policy(config)
        self.retry_policy = RetryPolicy(self.webhooks.retry_base, self.webhooks.retry_max,
                                        self.webhooks.max_attempts, self.webhooks.max_age)
        self.db_call = db_call
        self.transport = transport
        self.clock = clock
        self.rng = rng or random.Random()
        self.tick_seconds = tick_seconds
        self.on_sent = on_sent  # people's messages landed in the inbox: the processor has work
        self.sender = HttpSender(AddressGuard(self.webhooks), max_connections=self.webhooks.max_in_flight,
                                 clock=clock)
        self.metrics = OutboxMetrics(metrics or Metrics())
        self.pacers: dict[str, Pacer] = {}
        self.waiting_reason: dict[str, str] = {}  # reply lane -> why its replies wait
        self.inflight: dict[str, int] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.results: list[tuple[DeliveryResult, str]] = []
        self.flusher: asyncio.Task[None] | None = None
        self.loop_task: asyncio.Task[None] | None = None
        self.wakeup = asyncio.Event()
        self.stopping = False

    # ------------------------------------------------------------------ lifecycle

    def wake(self) -> None:
        """Something may be due now (the processor queued entries, a retry was asked for)."""
        self.wakeup.set()

    async def start(self, scheduler: Any | None = None) -> None:
        """Resume what a previous run left, then start delivering."""
        await self.sender.start()
        now = self.clock()
        released, interrupted = await self.db_call(release_on_start, now)
        if released or interrupted:
            log.info("outbox_resumed", released=released, replies_interrupted=interrupted)
        for target, at in await self.db_call(recent_sends, REPLY_KINDS, now - HOUR):
            self._pacer(target).record(at)  # pacing survives restarts
        await self.refresh_gauges()
        self.loop_task = asyncio.ensure_future(self._run())
        if scheduler is not None:
            scheduler.add_job(self.tick, "interval", seconds=self.tick_seconds, id="outbox_tick",
                              max_instances=1, coalesce=True)
            scheduler.add_job(self.housekeeping, "interval", hours=1, id="outbox_housekeeping",
                              max_instances=1, coalesce=True, next_run_time=now + timedelta(minutes=1))

    async def stop(self) -> None:
        """Stop claiming, give in-flight deliveries a moment, record what finished (bounded)."""
        self.stopping = True
        self.wakeup.set()
        if self.loop_task is not None:
            self.loop_task.cancel()
            await asyncio.gather(self.loop_task, return_exceptions=True)
        if self.tasks:
            _, pending = await asyncio.wait(set(self.tasks), timeout=STOP_GRACE)
            for task in pending:
                task.cancel()  # its lease is released at the next start: delivered again, at least once
            await asyncio.gather(*pending, return_exceptions=True)
        if self.flusher is not None:
            await asyncio.gather(self.flusher, return_exceptions=True)
        await self._flush()
        await self.sender.close()

    async def tick(self) -> None:
        """Heartbeat: dead-letter replies that waited too long, refresh gauges, look for work."""
        now = self.clock()
        cutoff = now - timedelta(seconds=self.replies.max_wait)
        for number in self.transport.numbers():
            lane = f"reply:{number}"
            reason = self.waiting_reason.get(lane, "it could not be sent in time")
            expired = await self.db_call(expire_waiting, lane, cutoff, f"not sent within max_wait "
                                         f"{self.replies.max_wait:g} s: {reason}", now)
            if expired:
                self.metrics.count_dead("reply", expired)
                log.warning("outbox_replies_expired", number=number, count=expired, reason=reason)
        await self.refresh_gauges()
        self.wake()

    async def housekeeping(self) -> None:
        """Purge delivered entries older than [outbox].retention_days (dead letters are kept)."""
        cutoff = self.clock() - timedelta(days=self.config.outbox.retention_days)
        removed = await self.db_call(purge_finished, cutoff, ("delivered",))
        if removed:
            log.info("outbox_purged", removed=removed, states="delivered")
        await self.db_call(forget_old_keys, self.clock())  # Idempotency-Keys live 24 h

    async def refresh_gauges(self) -> None:
        """Backlog and dead-letter counts from the database."""
        backlog = await self.db_call(backlog_by_kind)
        dead = await self.db_call(dead_by_kind)
        self.metrics.set_gauges(backlog, dead)

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        while not self.stopping:
            self.wakeup.clear()
            try:
                delay = await self._pass()
            except Exception:
                log.exception("outbox_pass_failed")
                delay = 1.0
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), delay)

    async def _pass(self) -> float:
        """Claim what can go now; return how long to sleep unless woken earlier."""
        now = self.clock()
        free = self.webhooks.max_in_flight - sum(self.inflight.values())
        exclude, limits, wake_at = self._lanes(now)
        lease = timedelta(seconds=max(self.webhooks.timeout * 2 + 30, REPLY_LEASE + self.replies.jitter))
        claim = await self.db_call(claim_due, now, limit=max(free, 0), exclude=exclude, lane_limits=limits,
                                   default_lane_limit=self.webhooks.concurrency, lease=lease)
        for entry in claim.entries:
            self._start(entry)
        moments = [t for t in (claim.next_due, wake_at) if t is not None]
        if not moments:
            return self.tick_seconds
        return max(0.0, min((t - self.clock()).total_seconds() for t in moments))

    def _lanes(self, now: datetime) -> tuple[list[str], dict[str, int], datetime | None]:
        """Lanes not to claim from now, free room per lane, and when a paced lane opens."""
        exclude: list[str] = []
        limits: dict[str, int] = {}
        wake_at: datetime | None = None
        for lane, busy in self.inflight.items():
            room = (1 if lane.startswith("reply:") else self.webhooks.concurrency) - busy
            limits[lane] = room
            if room <= 0:
                exclude.append(lane)
        for number in self.transport.numbers():
            lane = f"reply:{number}"
            limits.setdefault(lane, 1)
            if lane in exclude:
                continue
            state = self.transport.state(number)
            if state != "CONNECTED":
                self.waiting_reason[lane] = f"{number} was {state}, not CONNECTED"
                exclude.append(lane)
                continue
            ready, reason = self._pacer(lane).ready_at(now)
            if ready > now:
                self.waiting_reason[lane] = reason or "paced"
                exclude.append(lane)
                wake_at = ready if wake_at is None else min(wake_at, ready)
            else:
                self.waiting_reason.pop(lane, None)
        return exclude, limits, wake_at

    def _pacer(self, lane: str) -> Pacer:
        if lane not in self.pacers:
            self.pacers[lane] = Pacer(self.replies)
        return self.pacers[lane]

    def _start(self, entry: OutboxEntry) -> None:
        self.inflight[entry.target] = self.inflight.get(entry.target, 0) + 1
        task = asyncio.ensure_future(self._deliver(entry))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver(self, entry: OutboxEntry) -> None:
        try:
            if entry.kind in REPLY_KINDS:
                result = await self._deliver_reply(entry)
            elif entry.kind in ("webhook", "conversion"):
                result = await self._deliver_http(entry)
            else:
                result = self._result(entry, Verdict("dead", f"unknown outbox kind {entry.kind!r}"))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must not lose the entry: retry it like a failure
            log.exception("outbox_delivery_crashed", entry_id=entry.id, kind=entry.kind)
            reason = f"internal error: {type(exc).__name__}"
            if entry.kind in REPLY_KINDS:  # it may have reached WhatsApp: never risk a duplicate
                verdict = Verdict("dead", f"{reason}; not sent again to avoid a duplicate")
            else:
                verdict = retry_or_give_up(reason, attempts=entry.attempts, age=self._age(entry),
                                           policy=self.retry_policy, rng=self.rng)
            result = self._result(entry, verdict)
        finally:
            left = self.inflight.get(entry.target, 1) - 1
            if left > 0:
                self.inflight[entry.target] = left
            else:
                self.inflight.pop(entry.target, None)
        self._finish(entry, result)

    def _age(self, entry: OutboxEntry) -> float:
        return (self.clock() - entry.retry_since).total_seconds()

    def _result(self, entry: OutboxEntry, verdict: Verdict, *, status: int | None = None,
                snippet: str | None = None, external_id: str | None = None,
                sent: Message | None = None) -> DeliveryResult:
        now = self.clock()
        after = now + timedelta(seconds=verdict.delay) if verdict.delay is not None else None
        return DeliveryResult(entry.id, verdict.state, now, status, verdict.reason, snippet, after, external_id,
                              sent)

    def _finish(self, entry: OutboxEntry, result: DeliveryResult) -> None:
        fields = {"entry_id": entry.id, "kind": entry.kind, "target": entry.target, "attempt": entry.attempts,
                  "status": result.status}
        latency = None
        if result.state == "delivered":
            latency = max(0.0, (result.at - entry.created_at).total_seconds())
            log.info("outbox_delivered", **fields, latency_ms=round(latency * 1000, 1))
        elif result.state == "failed":
            retry_in = (result.next_attempt_at - result.at).total_seconds() if result.next_attempt_at else None
            log.warning("outbox_attempt_failed", **fields, error=result.error, retry_in_s=retry_in)
        else:
            log.warning("outbox_dead_lettered", **fields, reason=result.error)
        self.metrics.count(result.state, entry.kind, latency)
        self.results.append((result, entry.kind))
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.ensure_future(self._flush_loop())

    async def _flush_loop(self) -> None:
        while self.results:
            await self._flush()
        self.wake()

    async def _flush(self) -> None:
        if not self.results:
            return
        batch, self.results = self.results, []
        try:
            added = await self.db_call(record_results, [r for r, _ in batch])
        except Exception:
            # Not recorded: the entries keep their lease and are tried again once it lapses.
            log.exception("outbox_results_not_recorded", count=len(batch))
            return
        if added and self.on_sent is not None:
            self.on_sent()
        for result, kind in batch:
            if result.state != "failed":
                self.metrics.backlog[kind] = max(0, self.metrics.backlog.get(kind, 0) - 1)
            if result.state == "dead":
                self.metrics.dead_letters[kind] = self.metrics.dead_letters.get(kind, 0) + 1

    # ------------------------------------------------------------------ webhooks and conversions

    def _http_request(self, entry: OutboxEntry, now: datetime) -> tuple[str, bytes, dict[str, str]] | str:
        """(url, body, headers) for one attempt, or why it cannot be sent at all."""
        payload = entry.payload
        body = json.dumps(payload.get("body"), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if len(body) > self.webhooks.max_body_bytes:
            return f"body is {len(body)} bytes, over [webhooks] max_body_bytes = {self.webhooks.max_body_bytes}"
        if entry.kind == "conversion":
            conv = self.config.conversions
            if conv is None:
                return "no [conversions] endpoint in config.toml any more"
            headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
            if conv.access_token:
                headers["Authorization"] = f"Bearer {conv.access_token}"
            return conv.url, body, headers
        secret = payload.get("secret")
        url = payload.get("url")
        if payload.get("subscription"):
            subscription = self.subscription_of(str(payload["subscription"]))
            if subscription is None:
                return f"no webhook subscription named {payload['subscription']!r} any more"
            url, secret = subscription.url, subscription.secret
        elif payload.get("endpoint"):
            endpoint = self.endpoints.get(str(payload["endpoint"]))
            if endpoint is None:
                return f"no webhook endpoint named {payload['endpoint']!r} in config.toml any more"
            url, secret = endpoint.url, secret or endpoint.secret
        if not url:
            return "the entry has no URL"
        body_type = payload.get("body", {}).get("type") or payload.get("event") or "rule.fired"
        headers = webhook_headers(event_id=str(payload.get("event_id")), event_type=str(body_type),
                                  timestamp=str(int(now.timestamp())), attempt=entry.attempts, body=body,
                                  secret=secret)
        return str(url), body, headers

    async def _deliver_http(self, entry: OutboxEntry) -> DeliveryResult:
        request = self._http_request(entry, self.clock())
        if isinstance(request, str):
            return self._result(entry, Verdict("dead", request))
        url, body, headers = request
        outcome = await self.sender.post(url, body, headers, timeout=self.webhooks.timeout)
        if outcome.refused:
            return self._result(entry, Verdict("dead", outcome.error))
        verdict = judge_http(outcome.status, outcome.error, attempts=entry.attempts, age=self._age(entry),
                             policy=self.retry_policy, rng=self.rng, retry_after=outcome.retry_after)
        return self._result(entry, verdict, status=outcome.status, snippet=outcome.snippet)

    # ------------------------------------------------------------------ replies

    async def _deliver_reply(self, entry: OutboxEntry) -> DeliveryResult:
        payload = entry.payload
        number = str(payload.get("session") or "")
        if number not in self.transport.numbers():
            return self._result(entry, Verdict("dead", f"{number or '(none)'} is not a configured admin number; "
                                                       "a reply only goes out from the number that received "
                                                       "the message"))
        if self._age(entry) > self.replies.max_wait:
            return self._result(entry, Verdict("dead", f"not sent within max_wait {self.replies.max_wait:g} s"))
        if self.replies.jitter > 0:
            await asyncio.sleep(self.rng.uniform(0, self.replies.jitter))  # a human-like typing delay
        state = self.transport.state(number)
        if state != "CONNECTED":
            return self._result(entry, Verdict("failed", f"{number} was {state}, not CONNECTED", 0.0))
        await self.db_call(mark_sending, entry.id, self.clock())
        self._pacer(entry.target).record(self.clock())
        quote = Quote(str(payload["reply_to"]), payload.get("quoted_sender"), payload.get("quoted_text")) \
            if payload.get("reply_to") else None
        try:
            message_id = await self.transport.send_text(number, str(payload.get("to")), str(payload.get("text")),
                                                        quote)
        except ReplyFailed as exc:
            if exc.maybe_sent or not exc.retryable:
                why = "; not sent again to avoid a duplicate" if exc.maybe_sent else ""
                return self._result(entry, Verdict("dead", f"{exc.error}{why}"))
            retry = RetryPolicy(self.webhooks.retry_base, self.webhooks.retry_max, 10**6, self.replies.max_wait)
            verdict = retry_or_give_up(exc.error, attempts=entry.attempts, age=self._age(entry), policy=retry,
                                       rng=self.rng)
            return self._result(entry, verdict)
        sent = team_message(entry, number, message_id, self.clock()) if entry.kind == "message" else None
        return self._result(entry, Verdict("delivered"), external_id=message_id, sent=sent)
