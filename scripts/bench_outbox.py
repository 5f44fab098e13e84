"""Outbox numbers: webhook delivery throughput and latency to a loopback receiver, and how
long a new message takes to be processed while a slow receiver's backlog drains.

Run:  python scripts/bench_outbox.py [--webhooks 2000] [--backlog 1000] [--messages 20]

1. In-process: the daemon's OutboxService on a real SQLite file (synchronous=FULL) behind
   one store thread, N webhooks queued to a receiver answering 200 at once (its own thread
   and loop): deliveries per second, and queued → delivered latency (p50/p99).
2. End to end: `wabridge run --simulate` (a subprocess) with `--backlog` webhooks queued by
   `wabridge replay` to a receiver that takes 100 ms per request; `--messages` new messages
   are sent one by one while it drains, each timed from the simulator's 201 to its lead
   showing status "hot" in /api/leads (poll interval 10 ms); then the same with no backlog.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.config import parse_config  # noqa: E402
from bridge.outbox.service import OutboxService  # noqa: E402
from store.db import open_db  # noqa: E402
from store.outbox import list_outbox  # noqa: E402
from tests.e2e.daemon import RunningDaemon  # noqa: E402
from tests.outbox.conftest import FakeTransport, queue, webhook  # noqa: E402
from tests.outbox.receiver import Receiver, Reply  # noqa: E402
from tests.outbox.test_outbox_daemon import A, daemon_with  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def throughput(count: int, concurrency: int, tmp: Path) -> dict[str, Any]:
    receiver = Receiver()
    url = receiver.start_in_thread()
    executor = ThreadPoolExecutor(max_workers=1)
    loop = asyncio.get_running_loop()
    db = await loop.run_in_executor(executor, open_db, tmp / f"tp{concurrency}.db")

    async def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await loop.run_in_executor(executor, partial(fn, db, *args, **kwargs))

    def fill(db: Any) -> None:
        with db.atomic():
            for n in range(count):
                queue(db, "webhook", webhook(url, secret="bench-secret"), inbox_id=n)

    config = parse_config({"webhooks": {"concurrency": concurrency, "max_in_flight": max(32, concurrency)}},
                          base_dir=tmp)
    service = OutboxService(config, call, FakeTransport())
    await service.start()
    idle: list[float] = []
    for n in range(50):  # one at a time, as messages trickle in: commit → receiver
        before = len(receiver.requests)
        queued = time.monotonic()
        await call(lambda db, n=n: queue(db, "webhook", webhook(url), inbox_id=10**6 + n))
        service.wake()  # what the processor does after a commit that queued something
        while len(receiver.requests) == before:
            await asyncio.sleep(0.0005)
        idle.append(time.monotonic() - queued)
    started = time.monotonic()
    await call(fill)
    service.wake()
    while len(receiver.ok()) < count + 50:
        await asyncio.sleep(0.01)
    while True:  # until every result is recorded in the database
        rows = await call(list_outbox, state="delivered", limit=count + 51)
        if len(rows) == count + 50:
            break
        await asyncio.sleep(0.01)
    elapsed = time.monotonic() - started
    await service.stop()
    latencies = [(datetime.fromisoformat(r["delivered_at"]) - datetime.fromisoformat(r["created_at"])).total_seconds()
                 for r in rows if r["inbox_id"] < 10**6]
    await loop.run_in_executor(executor, db.conn.close)
    executor.shutdown()
    receiver.stop_thread()
    return {"webhooks": count, "concurrency": concurrency, "seconds": round(elapsed, 2),
            "per_second": round(count / elapsed), "latency_p50_s": round(pct(latencies, 50), 2),
            "latency_p99_s": round(pct(latencies, 99), 2),
            "idle_one_at_a_time_p50_ms": round(pct(idle, 50) * 1000, 1), "idle_p99_ms": round(pct(idle, 99) * 1000, 1)}


def message_latency(backlog: int, messages: int, tmp: Path) -> dict[str, Any]:
    receiver = Receiver(Reply(delay=0.1))
    url = receiver.start_in_thread()
    daemon: RunningDaemon = daemon_with(tmp, url)
    if backlog:
        lines = tmp / "backlog.jsonl"
        lines.write_text("".join(json.dumps({
            "id": f"OLD{n:06d}", "session": A, "chat": f"62813{n:08d}@s.whatsapp.net",
            "sender": f"62813{n:08d}@s.whatsapp.net", "timestamp": "2026-11-20T09:00:00+07:00", "text": "halo"}) + "\n"
            for n in range(backlog)), encoding="utf-8")
        assert daemon.cli("replay", str(lines)).returncode == 0
    latencies: list[float] = []
    try:
        daemon.start()
        daemon.pair(A)
        if backlog:
            daemon.wait(lambda: len(receiver.requests) >= 20, what="draining")
        for n in range(messages):
            phone = f"6281400{n:06d}"
            started = time.monotonic()
            assert daemon.send(A, sender=phone, text="saya mau order")[0] == 201
            while [lead["status"] for lead in daemon.leads(phone=phone)] != ["hot"]:
                time.sleep(0.01)
            latencies.append(time.monotonic() - started)
        delivered_meanwhile = len(receiver.requests)
    finally:
        daemon.stop(signal.SIGTERM)
        receiver.stop_thread()
    return {"backlog": backlog, "messages": messages, "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "max_ms": round(max(latencies) * 1000, 1), "webhooks_received_meanwhile": delivered_meanwhile}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--webhooks", type=int, default=2000)
    parser.add_argument("--backlog", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # errors only
    with tempfile.TemporaryDirectory(prefix="wabridge-outbox-") as tmp:
        root = Path(tmp)
        for concurrency in (4, 16):
            print(json.dumps(asyncio.run(throughput(args.webhooks, concurrency, root))))
        for backlog in (args.backlog, 0):
            work = root / f"e2e-{backlog}"
            work.mkdir()
            print(json.dumps(message_latency(backlog, args.messages, work)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
