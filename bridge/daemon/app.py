"""The daemon's composition root: store thread, processor, session supervisor, HTTP, signals.

Lifecycle (mautrix Program, arq worker): `start()` opens and migrates the store,
processes what a previous run left pending (guarantee 1), starts one worker per admin
number and the HTTP server, then tells systemd it is ready; `stop()` undoes it in
reverse order within a bounded time. Every database call runs on one dedicated thread,
so SQLite sees a single writer and the event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import structlog
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlite_utils import Database

from bridge.attendance import EventDesk
from bridge.attribution.service import Attribution
from bridge.backup.litestream import Replicator
from bridge.config import Config, NumberConfig
from bridge.daemon import systemd
from bridge.daemon.intake import Intake
from bridge.daemon.metrics import DaemonCollector
from bridge.daemon.numbers import NumberControl
from bridge.daemon.queries import StoreQueries
from bridge.daemon.sessions import SessionState
from bridge.daemon.simulator import SimControl
from bridge.daemon.supervisor import Session, WorkerSpec
from bridge.daemon.tasks import BackgroundTasks
from bridge.daemon.tokens import ensure_token
from bridge.history.importer import Imported
from bridge.history.sync import HistoryService
from bridge.leads.desk import LeadDesk
from bridge.metrics import Metrics, reason_code
from bridge.outbox.messages import OutgoingMessages
from bridge.outbox.replies import WorkerTransport
from bridge.outbox.service import OutboxService
from bridge.outbox.subscriptions import Subscriptions
from bridge.partners.service import PartnerHooks
from engine.model import Message
from engine.rules import default_env
from engine.ruleset import RuleSet
from store.db import open_db
from store.inbox import pending_count
from store.lead_events import other_writers_version
from store.processor import Processor, ProcessStats
from store.rules import load_rules
from store.runs import prune_runs
from store.subscriptions import Event, Subscription, queue_now, session_event
from store.visitors import VisitorUpgrades

log = structlog.get_logger(__name__)
T = TypeVar("T")
STOP_TIMEOUT = 10.0
OTHER_WRITERS_POLL = 0.25  # seconds between looks for changes another process (the CLI) committed
# Processing that fails (a full disk, an I/O error) is retried after 1 s, 2 s, 4 s … at most
# this long: a disk full for an hour is 120 retries and log lines, not 3,600.
PROCESSING_RETRY_FIRST = 1.0
PROCESSING_RETRY_CAP = 30.0
DEMO_NUMBER = NumberConfig(phone="6281100000001", label="Demo CS (simulated)")


def utc_now() -> datetime:
    """The shell's clock."""
    return datetime.now(UTC)



class Daemon(NumberControl, StoreQueries, SimControl):
    """`wabridge run`: everything a running bridge is, behind the SessionControl surface."""

    def __init__(self, config: Config, *, simulate: bool = False, listen: tuple[str, int] | None = None,
                 qr_round_seconds: float = 165.0, worker_env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.simulate = simulate
        self.listen = listen or (config.http.host, config.http.port)
        numbers = config.numbers or ((DEMO_NUMBER,) if simulate else ())
        self.numbers = {n.phone: n for n in numbers}
        self.workspace = config.workspace.to_workspace()
        self.store_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self.db: Database | None = None
        self.processor: Processor | None = None
        self.broken_rules: list[str] = []
        spec = WorkerSpec(kind="sim" if simulate else "neonize", sessions_dir=config.store.data_dir / "sessions",
                          log_level=config.logging.level, qr_round_seconds=qr_round_seconds, env=worker_env)
        # The phone's history sync (issue #16): stored frame by frame behind live messages.
        self.history = HistoryService(config.history, self.db_call, lambda: self.processor, utc_now,
                                      self._history_stored)
        self.fresh: dict[int, Message] = {}  # inbox id → message just ingested, not yet processed
        self.work = asyncio.Event()
        self.telemetry = Metrics()  # this daemon's Prometheus registry (GET /metrics)
        # Worker messages arriving together share one inbox commit (group commit), acked after it.
        self.intake = Intake(self.db_call, utc_now, self.telemetry, sent_ids=self._sent_ids,
                             fresh=lambda: self.fresh, committed=self.work.set)
        self.workers = {phone: Session(n, spec, self.intake.submit, self._session_changed, self.intake.unreadable,
                                       self.history.store)
                         for phone, n in self.numbers.items()}
        self.telemetry.add_collector(DaemonCollector(self))
        # Rotator links and partner webhooks (issue #6): clicks are buffered, flushed by the store thread.
        self.attribution = Attribution(config, connected=self._connected, db_call=self.db_call, clock=utc_now,
                                       numbers=tuple(self.numbers.values()))
        self.partners = PartnerHooks(config.attribution, db_call=self.db_call, wake=self.work.set, clock=utc_now,
                                     metrics=self.telemetry)
        self.stopping = asyncio.Event()
        self.tasks = BackgroundTasks("background_task_failed", log)
        self.totals = ProcessStats()
        self.store_ok = False
        self.backlog = 0
        self.runner: web.AppRunner | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.token = ""
        self.started_at = utc_now()
        # Webhooks, replies (through the receiving number's worker) and conversion events.
        self.outbox = OutboxService(config, self.db_call, WorkerTransport(self.workers), metrics=self.telemetry,
                                    on_sent=self.work.set)
        # Messages people send (API, CLI, a lead's page): checked here, delivered by the outbox.
        self.messages = OutgoingMessages(config.sending, tuple(self.numbers), self.db_call, self.outbox.wake,
                                         utc_now)
        # Event webhook subscriptions: config.toml's and the dashboard's; the processor queues, the outbox sends.
        self.subscribed: tuple[Subscription, ...] = config.subscriptions
        self.subscriptions = Subscriptions(config.subscriptions, tuple(self.numbers), self.db_call,
                                           workspace=self.workspace.name, clock=utc_now, wake=self.outbox.wake,
                                           changed=self._subscriptions_changed)
        self.outbox.subscription_of = self.subscriptions.get
        self.session_states: dict[str, str] = {}  # number → last state told to the subscriptions
        # Event check-ins (issue #5): the door pages' store access and their change signal.
        # [backup] replica: Litestream beside the daemon, stopped after the store is closed.
        self.replicator = (Replicator(config.store.db_path, config.backup)
                           if config.backup.replica else None)
        self.events = EventDesk(self.db_call, tz=self.workspace.tz, statuses=self.workspace.statuses,
                                numbers={p: n.label for p, n in self.numbers.items()}, clock=utc_now)
        self.events.subscribed, self.events.queued = (lambda: self.subscribed), self.outbox.wake
        self.events.workspace_name = self.workspace.name
        # Leads people and systems change (issue #13): committed as events, answered once applied.
        self.lead_desk = LeadDesk(self.db_call, self.work.set, self.workspace.statuses, utc_now)

    # ------------------------------------------------------------------ store thread

    async def db_call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(db, …)` on the store thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.store_thread, partial(fn, self.db, *args, **kwargs))

    def _open_store(self) -> None:
        self.db = open_db(self.config.store.db_path)
        self.store_ok = True

    def _load_processor(self) -> None:
        assert self.db is not None
        env = default_env(self.workspace.statuses, self.config.endpoint_names())
        loaded = load_rules(self.db, env)
        ruleset = RuleSet(loaded.rules, self.workspace.statuses, self.config.endpoint_names())
        self.broken_rules = [e.describe() for e in loaded.broken]
        self.broken_rules += [f'rule "{rule.name}": rules#{rule.id}: cannot be compiled ({problem})'
                              for rule, problem in ruleset.skipped]
        for problem in self.broken_rules:
            log.warning("rule_skipped_invalid", problem=problem)
        if self.processor is None:
            self.processor = Processor(self.db, ruleset, self.workspace, utc_now, upgrades=VisitorUpgrades(
                self.workspace.name, overwrite=self.config.attribution.overwrite))
            self.processor.outbox_policy = self.outbox.policy
            self.processor.history_rules = self.config.history.run_rules
            self.processor.subscriptions = self.subscribed
        else:
            self.processor.ruleset = ruleset
        log.info("rules_loaded", rules=len(ruleset.rules), enabled=sum(r.enabled for r in ruleset.rules),
                 invalid=len(self.broken_rules))

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the store, catch up, start workers and HTTP, report readiness."""
        loop = asyncio.get_running_loop()
        self.token = ensure_token(self.config.http.token, self.config.store.data_dir)
        await loop.run_in_executor(self.store_thread, self._open_store)
        if self.replicator is not None:
            await self.replicator.start()  # the database is in WAL mode now, as Litestream needs
        await loop.run_in_executor(self.store_thread, self._load_processor)
        await self.subscriptions.load()  # before the first processing run queues anything
        await self.db_call(self.attribution.load)  # every code on file, before the first click
        for number, totals in (await self.history.totals()).items():
            if number in self.workers:
                self.workers[number].set_view(history=totals)
        self._spawn(self.attribution.run())
        self._spawn(self._processing_loop())
        self._spawn(self.intake.run())
        self._spawn(self._watch_other_writers())
        self.work.set()  # whatever a previous run left pending goes first
        from bridge.http import create_app
        from bridge.http.server import GuardedSite, limit_accept_errors

        http = self.config.http
        app = create_app(self, token=self.token, workspace_name=self.workspace.name,
                         page_language=self.config.workspace.language,
                         state_dir=self.config.store.data_dir, body_timeout=http.body_timeout_seconds)
        limit_accept_errors(loop)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0,
                                    keepalive_timeout=http.idle_timeout_seconds)
        await self.runner.setup()
        site = GuardedSite(self.runner, self.listen[0], self.listen[1], max_connections=http.max_connections)
        await site.start()
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.scheduler.add_job(self._prune, "interval", hours=6, next_run_time=utc_now())
        self.scheduler.start()
        await self.outbox.start(self.scheduler)
        for session in self.workers.values():
            await session.start()
        interval = systemd.watchdog_interval()
        if interval:
            self._spawn(self._watchdog(interval))
        systemd.notify("READY=1\nSTATUS=wabridge running")
        log.info("daemon_started", listen=f"{self.listen[0]}:{self.listen[1]}", simulate=self.simulate,
                 numbers=len(self.workers))

    async def stop(self) -> None:
        """Stop accepting, stop workers, flush processing, close the store (bounded)."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        systemd.notify("STOPPING=1")
        log.info("daemon_stopping")
        if self.runner is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.runner.cleanup(), 5)
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        await self.outbox.stop()  # before the workers (replies in flight) and the store
        await asyncio.gather(*(s.stop() for s in self.workers.values()), return_exceptions=True)
        self.work.set()
        await self.tasks.cancel_all()
        for session in self.workers.values():
            await session.tasks.cancel_all()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):
            await loop.run_in_executor(self.store_thread, self._drain)
        await loop.run_in_executor(self.store_thread, self._close_store)
        self.store_thread.shutdown(wait=True)
        if self.replicator is not None:
            await self.replicator.stop()  # after the last commit: Litestream ships it on SIGTERM
        log.info("daemon_stopped")

    def _drain(self) -> None:
        if self.db is not None:
            self.attribution.flush_into(self.db)
        if self.processor is not None:
            self._account(self.processor.run())

    def _close_store(self) -> None:
        if self.db is not None:
            self.db.conn.close()
            self.db = None

    async def run_until_signalled(self, on_started: Callable[[], None] | None = None) -> None:
        """Start, then run until SIGTERM/SIGINT; SIGHUP reloads rules. `on_started` runs once
        the daemon listens (the CLI prints the pairing pages then, not before a failed start)."""
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, done.set)
        loop.add_signal_handler(signal.SIGINT, done.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self.reload_rules()))
        try:
            await self.start()
            if on_started is not None:
                on_started()
            await done.wait()
        finally:
            await asyncio.wait_for(self.stop(), STOP_TIMEOUT + 10)

    async def reload_rules(self) -> dict[str, Any]:
        """Reload rules from the database without touching sessions (SIGHUP, the API)."""
        await asyncio.get_running_loop().run_in_executor(self.store_thread, self._load_processor)
        assert self.processor is not None
        return {"rules": len(self.processor.ruleset.rules), "invalid": list(self.broken_rules)}

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        return self.tasks.spawn(coro)

    async def _watchdog(self, interval: float) -> None:
        while not self.stopping.is_set():
            # Pinged from the event loop: a wedged loop stops the pings and systemd restarts us.
            systemd.notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    async def _prune(self) -> None:
        removed = await self.db_call(prune_runs, utc_now(), self.config.store.rule_run_retention_days)
        if removed:
            log.info("rule_runs_pruned", removed=removed)

    # ------------------------------------------------------------------ messages

    async def _processing_loop(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0  # in a row: the messages wait in the inbox meanwhile (guarantee 4)
        while True:
            await self.work.wait()
            self.work.clear()
            if self.db is None:
                return
            try:
                stats = await loop.run_in_executor(self.store_thread, self._process)
            except Exception as exc:
                failures += 1
                delay = min(PROCESSING_RETRY_CAP, PROCESSING_RETRY_FIRST * 2 ** min(failures - 1, 16))
                if failures == 1:
                    log.exception("processing_failed", retry_in_s=delay)
                else:  # the traceback was logged once; the same failure again is one line
                    log.error("processing_still_failing", failures=failures, retry_in_s=delay,
                              error=f"{type(exc).__name__}: {exc}"[:300])
                # Messages arriving meanwhile wait too: the store would fail them the same way.
                await asyncio.sleep(delay)
                self.work.set()
                continue
            if failures:
                log.info("processing_recovered", failures=failures)
                failures = 0
            self.lead_desk.settled(stats.changes)
            for inbox_id, error in stats.errors:
                log.warning("message_not_processed", inbox_id=inbox_id, error=error)
                self.telemetry.messages_unreadable.labels(source="inbox", reason=reason_code(error)).inc()
            if stats.queued or stats.status_changes:  # status changes may queue conversion events
                self.outbox.wake()
            if stats.processed:
                self.events.changed()  # live door pages re-read their counts
                log.info("messages_processed", processed=stats.processed, fired=stats.fired,
                         status_changes=stats.status_changes, queued=stats.queued)

    async def _watch_other_writers(self) -> None:
        """Process what another process committed (`wabridge leads set` while we run), and
        deliver what it queued."""
        seen: int | None = None
        while not self.stopping.is_set():
            await asyncio.sleep(OTHER_WRITERS_POLL)
            if self.db is None:
                continue
            version = await self.db_call(other_writers_version)
            if seen is not None and version != seen:
                self.work.set()
                self.outbox.wake()  # e.g. `wabridge events checkin` queued a checkin.recorded event
            seen = version

    def _process(self) -> ProcessStats:
        assert self.processor is not None and self.db is not None
        self.attribution.flush_into(self.db)  # a message's visitor code is on file before it is processed
        fresh, self.fresh = self.fresh, {}
        stats = self.processor.run(parsed=fresh)
        self._account(stats)
        self.backlog = pending_count(self.db)
        return stats

    def _history_stored(self, stats: ProcessStats) -> None:
        self._account(stats)
        if stats.queued or stats.status_changes:
            self.outbox.wake()
        if stats.processed:
            self.events.changed()

    def _account(self, stats: ProcessStats) -> None:
        self.totals.processed += stats.processed
        self.totals.fired += stats.fired
        self.totals.status_changes += stats.status_changes
        self.totals.queued += stats.queued
        self.telemetry.messages_processed.inc(stats.processed)
        self.telemetry.rules_fired.inc(stats.fired)
        self.telemetry.status_changes.inc(stats.status_changes)
        self.telemetry.outbox_queued.inc(stats.queued)
        self.totals.errors.extend(stats.errors[-100:])
        del self.totals.errors[:-100]

    def _subscriptions_changed(self, subscriptions: tuple[Subscription, ...]) -> None:
        self.subscribed = subscriptions
        if self.processor is not None:
            self.processor.subscriptions = subscriptions  # read by the store thread at its next batch

    async def _tell_session_state(self, event: Event) -> None:
        if self.db is None or self.stopping.is_set():
            return  # the store is closing; the next start reports the states afresh
        if await self.db_call(queue_now, [event], self.subscribed, workspace=self.workspace.name, now=utc_now()):
            self.outbox.wake()

    def _session_changed(self, session: Session) -> None:
        state, number = session.view.state.value, session.config.phone
        previous = self.session_states.get(number)
        if previous != state:
            self.session_states[number] = state
            if any(s.wants("session.state_changed", number) for s in self.subscribed):
                self._spawn(self._tell_session_state(session_event(number, state, session.view.reason,
                                                                   session.view.detail, previous)))
        systemd_status = ", ".join(f"{s.config.phone}={s.view.state.value}" for s in self.workers.values())
        if self.runner is not None and not self.stopping.is_set():
            systemd.notify(f"STATUS={systemd_status}")

    # ------------------------------------------------------------------ SessionControl

    async def import_history(self, messages: Sequence[Message], *, run_rules: bool) -> Imported:
        """A chat export's messages, stored in chunks on the store thread (live messages take turns)."""
        return await self.history.import_messages(messages, run_rules=run_rules)

    def readiness(self) -> dict[str, Any]:
        """Ready when the store is open and every number has a live worker or needs a person."""
        checks: dict[str, dict[str, Any]] = {
            "store": {"ok": self.store_ok and self.db is not None, "detail": str(self.config.store.db_path)},
        }
        for phone, session in self.workers.items():
            alive = session.proc is not None and session.proc.returncode is None and session.reader_alive
            waiting_for_person = session.view.state in (SessionState.LOGGED_OUT, SessionState.FAILED)
            detail = session.view.state.value
            if session.reader_failure is not None:
                detail = f"{detail}: {session.reader_failure}"
            checks[f"worker:{phone}"] = {"ok": (alive or waiting_for_person) and session.reader_failure is None,
                                         "detail": detail}
        return {"ready": all(c["ok"] for c in checks.values()), "checks": checks}

    async def metrics(self) -> bytes:
        """Prometheus text exposition; the inbox and outbox backlogs are read from SQLite first."""
        if self.db is not None and not self.stopping.is_set():
            self.backlog = await self.db_call(pending_count)
            await self.outbox.refresh_gauges()
        return self.telemetry.render()

