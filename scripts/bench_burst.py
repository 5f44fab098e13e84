"""The live path under a reconnect burst: N numbers each deliver an offline backlog at once.

Run:  python scripts/bench_burst.py [--numbers 5] [--messages 1000] [--json]

Starts a real `wabridge run --simulate` daemon (subprocess, fresh temp data dir, a free
loopback port) with N simulated numbers, installs the heavy rule set of scripts/bench.py
(`scripts/workload.py` `make_heavy_rules`: 100 rules, most fire, every message queues a
webhook) with `wabridge rules import` as a user would, pairs every number and sends one
warm-up message through each. Then every number delivers its backlog at once, the way
WhatsApp hands a linked device the messages that arrived while it was offline:
`POST /sim/{number}/backlog` (500 messages per request) gives them all to the simulated
worker, whose message handler journals each and whose forwarder sends them to the daemon as
`message` frames: the same frames, journal and acks as the neonize worker after a reconnect.
The messages are the heavy bench's (Indonesian/English, 25% typed on the phone by the
team), each number with its own customers.

Measured from just before the first backlog request until every message is processed
and its webhooks queued (the processor queues them in the same transaction that marks the
message processed), by polling the daemon's database read-only every 20 ms: end-to-end
msg/s, p50/p99 of each message's time from the burst's start to its inbox commit and to its
processing, rules fired and webhooks queued per message, the inbox transactions that
committed the burst (`wabridge_inbox_commits_total`), and the daemon's peak RSS (VmHWM).
`--path messages` measures the older way instead (the issue's 264–326 msg/s): `--clients`
concurrent clients send the same messages through `POST /sim/{number}/messages`, each
waiting for its 201 (the message committed) before the next.
The webhooks' URL is the workload's (a closed loopback port): each is tried once and
retried later, so the outbox does its usual work beside the burst.

Bounded: at most 10 numbers × 2,000 messages, `--timeout` (default 300 s) for the burst.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.latency import summary  # noqa: E402
from scripts.workload import make_heavy_rules, make_messages  # noqa: E402
from tests.e2e.daemon import RunningDaemon  # noqa: E402

PER_REQUEST = 500  # the route's limit (SIM_BACKLOG_MAX)
MAX_NUMBERS, MAX_MESSAGES = 10, 2_000


def numbers_of(count: int) -> tuple[str, ...]:
    return tuple(f"62811000000{i:02d}" for i in range(1, count + 1))


def backlog(number: str, index: int, count: int, seed: int) -> list[dict[str, Any]]:
    """This number's offline backlog: the heavy bench's messages, its own customers and ids."""
    rng = random.Random(seed * 100 + index)
    messages = make_messages(rng, count, max(1, count // 3), session=number)
    for message in messages:
        message["id"] = f"BURST{index:02d}{message['id'][5:]}"
        message.pop("timestamp")  # stamped by the simulated phone as it delivers them
    return messages


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def run(count: int, per_number: int, seed: int, timeout: float, path: str = "backlog",
        clients: int = 25) -> dict[str, Any]:
    numbers = numbers_of(count)
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp:
        daemon = RunningDaemon(Path(tmp), numbers=numbers)
        rules = Path(tmp) / "heavy-rules.json"
        rules.write_text(json.dumps(make_heavy_rules(random.Random(seed))))
        imported = daemon.cli("rules", "import", str(rules))
        if imported.returncode != 0:
            raise SystemExit(f"wabridge rules import failed:\n{imported.stdout}{imported.stderr}")
        daemon.start()
        try:
            for number in numbers:
                daemon.pair(number)
            for number in numbers:  # warm-up: one message each, not counted
                status, body = daemon.send(number, sender="6281299999999", text="halo kak, warm up")
                assert status == 201, body
            db = sqlite3.connect(f"file:{daemon.data / 'wabridge.db'}?mode=ro", uri=True)

            def done_count() -> int:
                return int(db.execute("SELECT COUNT(*) FROM inbox WHERE state != 'pending' AND kind = 'message' "
                                      "AND message_id LIKE 'BURST%'").fetchone()[0])

            daemon.wait(lambda: db.execute("SELECT COUNT(*) FROM inbox WHERE state = 'pending'").fetchone()[0] == 0,
                        60, "the warm-up to be processed")
            _, before = daemon.request("GET", "/metrics")
            commits_before = metric(before.decode(), "wabridge_inbox_commits_total")
            assert daemon.proc is not None
            workers = [daemon.session(n)["worker_pid"] for n in numbers]
            cpu_before = cpu_seconds(daemon.proc.pid), sum(cpu_seconds(w) for w in workers)
            payloads = {number: backlog(number, i, per_number, seed) for i, number in enumerate(numbers)}
            total = count * per_number
            failures: list[str] = []

            def deliver(number: str) -> None:
                messages = payloads[number]
                for start in range(0, len(messages), PER_REQUEST):
                    status, body = daemon.request("POST", f"/sim/{number}/backlog",
                                                  {"messages": messages[start:start + PER_REQUEST]})
                    if status != 202:
                        failures.append(f"{number}: {status} {body}")

            # --path messages: the older measure, clients each waiting for their 201 (committed).
            one_by_one = [(number, m) for ms in zip(*payloads.values(), strict=True)
                          for number, m in zip(numbers, ms, strict=True)]

            def client(index: int) -> None:
                for number, message in one_by_one[index::clients]:
                    status, body = daemon.request("POST", f"/sim/{number}/messages", message)
                    if status != 201:
                        failures.append(f"{number}: {status} {body}")

            senders = ([threading.Thread(target=deliver, args=(n,)) for n in numbers] if path == "backlog"
                       else [threading.Thread(target=client, args=(i,)) for i in range(clients)])
            started_wall, started = time.time(), time.monotonic()
            for thread in senders:
                thread.start()
            for thread in senders:
                thread.join()
            handed_over = time.monotonic() - started
            if failures:
                raise SystemExit("backlog refused: " + "; ".join(failures))
            deadline = started + timeout
            done = 0
            while time.monotonic() < deadline:
                done = done_count()
                if done >= total:
                    break
                time.sleep(0.02)
            elapsed = time.monotonic() - started
            cpu_after = cpu_seconds(daemon.proc.pid), sum(cpu_seconds(w) for w in workers)
            if done < total:
                raise SystemExit(f"only {done} of {total} messages processed within {timeout:.0f} s")
            rows = db.execute("SELECT received_at, processed_at, fired, state FROM inbox "
                              "WHERE kind = 'message' AND message_id LIKE 'BURST%'").fetchall()
            webhooks = db.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'webhook' AND inbox_id IN "
                                  "(SELECT id FROM inbox WHERE message_id LIKE 'BURST%')").fetchone()[0]
            db.close()
            _, after = daemon.request("GET", "/metrics")
            commits = metric(after.decode(), "wabridge_inbox_commits_total") - commits_before
            assert daemon.proc is not None
            rss = peak_rss_mb(daemon.proc.pid)
        finally:
            daemon.stop()

    def since_start_ms(stamp: str) -> float:
        return (datetime.fromisoformat(stamp).timestamp() - started_wall) * 1000

    return {
        "numbers": count, "messages_per_number": per_number, "messages": total,
        "path": path if path == "backlog" else f"messages, {clients} clients",
        "handed_over_s": round(handed_over, 3),
        "elapsed_s": round(elapsed, 3),
        "messages_per_s": round(total / elapsed),
        "committed_after_ms": summary([since_start_ms(r[0]) for r in rows], 0),
        "processed_after_ms": summary([since_start_ms(r[1]) for r in rows], 0),
        "errors": sum(1 for r in rows if r[3] == "error"),
        "rules_fired_per_message": round(sum(r[2] for r in rows) / total, 2),
        "webhooks_per_message": round(webhooks / total, 2),
        "inbox_commits": int(commits),
        "daemon_peak_rss_mb": round(rss, 1),
        "daemon_cpu_ms_per_message": round((cpu_after[0] - cpu_before[0]) * 1000 / total, 3),
        "workers_cpu_ms_per_message": round((cpu_after[1] - cpu_before[1]) * 1000 / total, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, default=5, help=f"simulated numbers (default 5, at most {MAX_NUMBERS})")
    parser.add_argument("--messages", type=int, default=1000,
                        help=f"backlog per number (default 1,000, at most {MAX_MESSAGES:,})")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds the burst may take (default 300)")
    parser.add_argument("--path", choices=("backlog", "messages"), default="backlog",
                        help="backlog (default): POST /sim/{number}/backlog, the reconnect burst; messages: "
                             "--clients concurrent clients POST /sim/{number}/messages one at a time, each "
                             "waiting for its 201 (committed)")
    parser.add_argument("--clients", type=int, default=25, help="clients for --path messages (default 25, at most 50)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    result = run(max(1, min(args.numbers, MAX_NUMBERS)), max(1, min(args.messages, MAX_MESSAGES)), args.seed,
                 min(args.timeout, 600.0), args.path, max(1, min(args.clients, 50)))
    if args.json:
        print(json.dumps(result))
        return
    committed, processed = result["committed_after_ms"], result["processed_after_ms"]
    print(f"{result['numbers']} numbers x {result['messages_per_number']} messages, heavy rules, via {result['path']}")
    print(f"all {result['messages']} processed, webhooks queued: {result['elapsed_s']} s = "
          f"{result['messages_per_s']} msg/s end to end (handed over in {result['handed_over_s']} s)")
    print(f"since the burst's start, committed:  p50 {committed['p50']:.0f} ms, p99 {committed['p99']:.0f} ms")
    print(f"since the burst's start, processed:  p50 {processed['p50']:.0f} ms, p99 {processed['p99']:.0f} ms")
    print(f"rules fired per message {result['rules_fired_per_message']}, webhooks queued per message "
          f"{result['webhooks_per_message']}, errors {result['errors']}")
    print(f"inbox commits {result['inbox_commits']} ({result['messages'] / max(result['inbox_commits'], 1):.0f} "
          f"messages per commit), daemon peak RSS {result['daemon_peak_rss_mb']} MB")
    print(f"CPU per message: daemon {result['daemon_cpu_ms_per_message']} ms, "
          f"workers {result['workers_cpu_ms_per_message']} ms")


if __name__ == "__main__":
    main()
