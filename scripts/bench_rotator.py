"""Latency of rotator links (`GET /r/{slug}` → 302) under a steady, bounded load on loopback.

Run:  python scripts/bench_rotator.py [--rate 200] [--seconds 10]
Starts `wabridge run --simulate` with two paired numbers in a temp dir, then sends clicks at a
fixed rate (open loop: each request leaves at its scheduled time, whether or not earlier ones
are done), as phones from 2,000 different addresses (X-Forwarded-For behind a trusted loopback
proxy, so the per-address rate limit is exercised as in production) with 5% link-preview bots.
Latency is measured in the client, request sent to redirect received. Exits 1 if p99 >= 10 ms.
The load is bounded (at most 60 s at 400 requests/s) so it cannot run away on a shared machine.
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
from collections import Counter
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.daemon import NUMBERS, RunningDaemon  # noqa: E402

PHONE = "Mozilla/5.0 (Linux; Android 13; SM-A045F) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"
BOT = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
CONFIG = '\n[attribution]\ntrusted_proxies = ["127.0.0.1"]\n\n[rotators.default]\ngreeting = "Halo kak {code}"\n'
MAX_SECONDS = 60
MAX_RATE = 400.0
TARGET_P99_MS = 10.0


async def load(port: int, rate: float, seconds: float) -> tuple[list[float], Counter[int], float]:
    """Send rate*seconds clicks on schedule; return latencies (ms), status counts, elapsed seconds."""
    total = int(rate * seconds)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    url = f"http://127.0.0.1:{port}/r/default?utm_source=facebook&utm_medium=cpc&utm_campaign=bench"
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> None:
            headers = {"User-Agent": BOT if i % 20 == 0 else PHONE,
                       "X-Forwarded-For": f"10.{i % 2000 // 250}.{i % 250}.{i % 7 + 1}"}
            started = time.perf_counter()
            async with session.get(url, headers=headers, allow_redirects=False) as response:
                await response.read()
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[response.status] += 1

        loop = asyncio.get_running_loop()
        begin = loop.time()
        tasks = []
        for i in range(total):
            delay = begin + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(i)))
        await asyncio.gather(*tasks)
        elapsed = loop.time() - begin
    return latencies, statuses, elapsed


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered))) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0,
                        help=f"requests per second, at most {MAX_RATE:g} (default 200)")
    parser.add_argument("--seconds", type=float, default=10.0, help=f"duration, at most {MAX_SECONDS} (default 10)")
    args = parser.parse_args()
    seconds = min(args.seconds, MAX_SECONDS)
    rate = min(args.rate, MAX_RATE)
    with tempfile.TemporaryDirectory(prefix="wabridge-rotator-") as tmp:
        daemon = RunningDaemon(Path(tmp), NUMBERS, extra_config=CONFIG)
        daemon.start()
        try:
            for number in NUMBERS:
                daemon.pair(number)
            asyncio.run(load(daemon.port, rate, 2.0))  # warm-up: connections, caches
            latencies, statuses, elapsed = asyncio.run(load(daemon.port, rate, seconds))
            time.sleep(0.5)
            status, rotators = daemon.request("GET", "/api/rotators")
            assert status == 200, rotators
        finally:
            daemon.stop(signal.SIGTERM)
    result = {
        "requests": len(latencies),
        "target_rate_per_s": rate,
        "achieved_rate_per_s": round(len(latencies) / elapsed, 1),
        "statuses": dict(statuses),
        "latency_ms": {"p50": round(statistics.median(latencies), 2), "p90": round(percentile(latencies, 90), 2),
                       "p99": round(percentile(latencies, 99), 2), "max": round(max(latencies), 2)},
        "visitors_created": rotators[0]["visitors"],
        "bot_clicks": rotators[0]["bot_clicks"],
        "clicks_per_number": {n["number"]: n["clicks"] for n in rotators[0]["numbers"]},
    }
    print(json.dumps(result, indent=2))
    return 0 if result["latency_ms"]["p99"] < TARGET_P99_MS else 1


if __name__ == "__main__":
    sys.exit(main())
