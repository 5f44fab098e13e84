"""Memory of the daemon with N simulated numbers, and of each worker, after traffic.

Run:  python scripts/measure_daemon.py [--numbers 5] [--messages 2000]
Starts `wabridge run --simulate` on a loopback port in a temp dir, pairs every number,
sends messages through the simulator, then reads VmRSS/VmHWM from /proc.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.daemon import RunningDaemon  # noqa: E402


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MB from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, default=5)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    numbers = tuple(f"62811000000{i:02d}" for i in range(1, args.numbers + 1))
    with tempfile.TemporaryDirectory(prefix="wabridge-mem-") as tmp:
        daemon = RunningDaemon(Path(tmp), numbers)
        daemon.cli("templates", "install", "mark-active-lead", "identify-hot-lead", "auto-closing")
        daemon.start()
        try:
            for number in numbers:
                daemon.pair(number)
            started = time.monotonic()
            for n in range(args.messages):
                status, body = daemon.send(numbers[n % len(numbers)], sender=f"62812{n % 500:05d}",
                                           text="saya mau order" if n % 7 == 0 else "halo kak")
                assert status == 201, body
            elapsed = time.monotonic() - started
            assert daemon.proc is not None
            current, peak = rss_mb(daemon.proc.pid)
            workers = [daemon.session(n)["worker_pid"] for n in numbers]
            worker_rss = [rss_mb(pid)[0] for pid in workers if pid]
            result = {
                "numbers": len(numbers),
                "messages": args.messages,
                "messages_per_s_via_http": round(args.messages / elapsed),
                "daemon_rss_mb": round(current, 1),
                "daemon_peak_rss_mb": round(peak, 1),
                "sim_worker_rss_mb_each": round(sum(worker_rss) / len(worker_rss), 1),
            }
        finally:
            daemon.stop(signal.SIGTERM)
    neonize = subprocess.run(
        [sys.executable, "-c", "import neonize.client, resource; "
         "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"],
        capture_output=True, text=True)
    result["neonize_worker_baseline_rss_mb"] = round(float(neonize.stdout.strip() or 0), 1)
    print(json.dumps(result, indent=2))
    return 0 if result["daemon_peak_rss_mb"] < 150 else 1


if __name__ == "__main__":
    sys.exit(main())
