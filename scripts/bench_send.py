"""Sending latency through the real daemon: POST /api/messages → the simulated phone has it.

Run:  python scripts/bench_send.py [--messages 200] [--json]

Starts `wabridge run --simulate` (a real subprocess) in a temp dir with the reply pacing
set to zero (`min_gap = 0`, `jitter = 0`, an hourly cap above the run), pairs the simulated
number, then sends one message at a time through `POST /api/messages` and waits for its
`sent` state before the next (a person typing, not a burst: pacing is what keeps bursts
away from WhatsApp).

Measured per message, from just before the HTTP request to the moment the simulated
customer's phone stored it (`received_at` of `GET /sim/{number}/received`, stamped by the
simulated worker on the same machine's clock): the API's checks and the outbox commit, the
delivery loop's wake-up and claim, `mark_sending`'s commit, the hand-over to the worker.
Also the 202 answer time alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.latency import summary  # noqa: E402
from tests.e2e.daemon import RunningDaemon  # noqa: E402

NUMBER = "6281100000001"
CUSTOMER = "6281234567890"
UNPACED = '\n[replies]\nmin_gap = "0s"\njitter = "0s"\nhourly_cap = 1000000\n'


def run(count: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-send-") as tmp:
        daemon = RunningDaemon(Path(tmp), numbers=(NUMBER,), extra_config=UNPACED)
        daemon.start()
        try:
            daemon.pair(NUMBER)
            started: dict[int, float] = {}
            answered: list[float] = []
            for n in range(count):
                before = time.time()
                status, body = daemon.request("POST", "/api/messages",
                                              {"to": CUSTOMER, "text": f"Pesanan #{n} sudah dikirim", "number": NUMBER})
                answered.append((time.time() - before) * 1000)
                if status != 202:
                    raise SystemExit(f"POST /api/messages answered {status}: {body}")
                started[int(body["id"])] = before
                deadline = time.monotonic() + 30
                while True:
                    status, state = daemon.request("GET", f"/api/messages/{body['id']}")
                    if state["state"] == "sent":
                        break
                    if state["state"] == "failed" or time.monotonic() > deadline:
                        raise SystemExit(f"message {body['id']} not sent: {state}")
                    time.sleep(0.002)
            status, got = daemon.request("GET", f"/sim/{NUMBER}/received?to={CUSTOMER}")
            by_text = {m["text"]: datetime.fromisoformat(m["received_at"]).timestamp() for m in got}
            latencies = [(by_text[f"Pesanan #{n} sudah dikirim"] - before) * 1000
                         for n, (_, before) in enumerate(sorted(started.items()))]
        finally:
            daemon.stop()
    return {"messages": count, "api_to_phone_ms": summary(latencies), "answer_202_ms": summary(answered)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200, help="how many messages (default 200, at most 2000)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(max(1, min(args.messages, 2000)))
    if args.json:
        print(json.dumps(result))
        return
    phone, answer = result["api_to_phone_ms"], result["answer_202_ms"]
    assert isinstance(phone, dict) and isinstance(answer, dict)
    print(f"{result['messages']} messages, pacing off, one at a time")
    print(f"API call → simulated phone has it: p50 {phone['p50']} ms, p90 {phone['p90']} ms, "
          f"p99 {phone['p99']} ms, max {phone['max']} ms")
    print(f"202 answer:                         p50 {answer['p50']} ms, p99 {answer['p99']} ms, max {answer['max']} ms")


if __name__ == "__main__":
    main()
