"""Live messages while a large history sync is stored: does live wait?

Run:  python scripts/bench_history.py [--history 20000] [--chats 400] [--live 100] [--json]

Starts `wabridge run --simulate` (a real subprocess) in a temp dir with the seed's templates,
pairs the simulated number, then measures the time from `POST /sim/{number}/messages` to its
201 (the message is committed to the inbox: what the worker's ack waits for) for `--live`
live messages sent one every 50 ms, twice: with nothing else going on, and while a history
sync of `--history` messages from `--chats` chats is handed to the worker (chunks of 500
through `POST /sim/{number}/history`) and stored frame by frame. Also reports how long the
whole sync took to be stored, and that every live message's lead was processed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.latency import summary  # noqa: E402
from tests.e2e.daemon import RunningDaemon  # noqa: E402

NUMBER = "6281100000001"


def live_round(daemon: RunningDaemon, count: int, tag: str) -> list[float]:
    """Send `count` live messages 50 ms apart; the latency of each 201, in ms."""
    latencies = []
    for index in range(count):
        started = time.perf_counter()
        status, body = daemon.send(NUMBER, id=f"{tag}{index}", sender=f"6285{index:09d}", text="halo kak")
        assert status == 201, body
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(0.05)
    return latencies


def history_chunks(total: int, chats: int) -> list[list[dict[str, object]]]:
    """`total` history messages from `chats` chats, a month old, in chunks of 500."""
    start = datetime.now(UTC) - timedelta(days=30)
    messages = [{"id": f"H{i}", "chat": f"6287{i % chats:09d}", "sender": f"6287{i % chats:09d}",
                 "from_me": i % 4 == 0, "text": f"pesan lama {i}", "sender_name": f"Pelanggan {i % chats}",
                 "timestamp": (start + timedelta(seconds=i)).isoformat()} for i in range(total)]
    for message in messages:
        if message["from_me"]:
            del message["sender"]
            del message["sender_name"]
    return [messages[i:i + 500] for i in range(0, total, 500)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=20_000)
    parser.add_argument("--chats", type=int, default=400)
    parser.add_argument("--live", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        daemon = RunningDaemon(Path(tmp), numbers=(NUMBER,))
        daemon.cli("templates", "install", "identify-hot-lead", "auto-closing")
        daemon.start()
        try:
            daemon.pair(NUMBER)
            quiet = live_round(daemon, args.live, "Q")
            chunks = history_chunks(args.history, args.chats)
            started = time.perf_counter()
            feeder_done = threading.Event()

            def feed() -> None:
                for chunk in chunks:
                    status, body = daemon.request("POST", f"/sim/{NUMBER}/history",
                                                  {"messages": chunk, "sync_type": "recent"})
                    assert status == 202, body
                feeder_done.set()

            threading.Thread(target=feed, daemon=True).start()
            busy = live_round(daemon, args.live, "B")
            stored_at_end_of_live = (daemon.session(NUMBER)["history"] or {}).get("messages", 0)
            daemon.wait(lambda: (daemon.session(NUMBER)["history"] or {}).get("messages") == args.history,
                        timeout=600, what="the whole history stored")
            sync_seconds = time.perf_counter() - started
            leads = {lead["phone"] for lead in daemon.leads(limit="1000")}
        finally:
            daemon.stop()
    result = {
        "history_messages": args.history, "history_chats": args.chats,
        "live_quiet_ms": summary(quiet, digits=1), "live_during_sync_ms": summary(busy, digits=1),
        "history_stored_when_live_round_ended": stored_at_end_of_live,
        "sync_stored_seconds": round(sync_seconds, 1),
        "sync_messages_per_second": round(args.history / sync_seconds),
        "live_leads_present": sum(1 for i in range(args.live) if f"6285{i:09d}" in leads),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
