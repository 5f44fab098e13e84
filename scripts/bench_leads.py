"""Lead changes (issue #13): PATCH latency under message load, and a 50,000-row CSV import.

Run:  python scripts/bench_leads.py [--patches 1000] [--clients 8] [--rate 200] [--rows 50000]

1. Starts `wabridge run --simulate` in a temp dir (three shipped templates plus a
   lead.status_changed rule, so every PATCH runs rules), creates 500 leads, then sends
   `--patches` PATCH requests from `--clients` concurrent clients (each waits for its answer,
   which comes after the change and its rules committed) while simulated customers send
   `--rate` messages a second. Reports p50/p99/max of PATCH-to-response and the message
   rate achieved.
2. Imports a `--rows`-row CSV (every row a new lead, lead.created rules on) over HTTP into
   the running daemon: wall time and the daemon's peak RSS; then the same file with
   `wabridge leads import` on a stopped daemon: wall time and the command's peak RSS.
Targets: PATCH p99 < 50 ms; import < 20 s and < 300 MB.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.daemon import NUMBERS, RunningDaemon  # noqa: E402

STATUS_RULE = {"name": "Moved by a person", "trigger": "lead.status_changed",
               "conditions": [{"field": "change.by", "op": "equal", "value": "api"}],
               "actions": [{"type": "add_tag", "tag": "moved"}]}
STATUSES = ("new", "responded", "hot")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Client:
    """A keep-alive HTTP connection to the daemon with the token."""

    def __init__(self, daemon: RunningDaemon) -> None:
        self.daemon = daemon
        self.conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=60)

    def call(self, method: str, path: str, body: object = None, raw: bytes | None = None,
             ctype: str = "application/json") -> tuple[int, bytes]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Authorization": f"Bearer {self.daemon.token}", "Content-Type": ctype}
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def patch_benchmark(daemon: RunningDaemon, patches: int, clients: int, rate: int) -> dict[str, object]:
    leads = [f"62813{n:08d}" for n in range(500)]
    setup = Client(daemon)
    for phone in leads:
        status, body = setup.call("POST", "/api/leads", {"phone": phone, "name": f"Lead {phone[-4:]}"})
        assert status == 201, body
    stop = threading.Event()
    sent = [0]

    def messages() -> None:
        # Paced customer traffic through the simulator (each call returns once committed).
        client = Client(daemon)
        started = time.monotonic()
        n = 0
        while not stop.is_set():
            due = started + n / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            sender = f"62812{n % 2000:06d}"
            status, body = client.call("POST", f"/sim/{NUMBERS[0]}/messages",
                                       {"sender": sender, "text": "saya mau order" if n % 5 == 0 else "halo kak"})
            assert status == 201, body
            n += 1
            sent[0] = n

    latencies: list[float] = []
    lock = threading.Lock()

    def patcher(index: int) -> None:
        client = Client(daemon)
        for k in range(patches // clients):
            phone = leads[(index * 997 + k) % len(leads)]
            body = {"status": STATUSES[(index + k) % len(STATUSES)], "notes": f"call {k}"}
            started = time.perf_counter()
            status, answer = client.call("PATCH", f"/api/leads/{phone}", body)
            elapsed = (time.perf_counter() - started) * 1000
            assert status == 200, answer
            with lock:
                latencies.append(elapsed)

    senders = [threading.Thread(target=messages, daemon=True) for _ in range(2)]
    rate = max(1, rate // len(senders))
    for thread in senders:
        thread.start()
    time.sleep(1.0)  # traffic flowing before the first PATCH
    message_start, sent_before = time.monotonic(), sum([sent[0]])
    workers = [threading.Thread(target=patcher, args=(i,)) for i in range(clients)]
    assert daemon.proc is not None
    cpu_before = cpu_seconds(daemon.proc.pid)
    started = time.monotonic()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(daemon.proc.pid) - cpu_before
    stop.set()
    for thread in senders:
        thread.join(10)
    message_rate = (sent[0] - sent_before) * len(senders) / (time.monotonic() - message_start)
    return {
        "patches": len(latencies), "clients": clients, "seconds": round(elapsed, 1),
        "patch_p50_ms": round(statistics.median(latencies), 1), "patch_p99_ms": round(percentile(latencies, 0.99), 1),
        "patch_max_ms": round(max(latencies), 1), "messages_per_s_during": round(message_rate),
        "daemon_cpu_ms_per_patch_and_its_share_of_messages": round(cpu * 1000 / len(latencies), 1),
        "load_average_1m": os.getloadavg()[0],
    }


def import_file(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("nama,no hp,kota,status,catatan\n")
        for n in range(rows):
            handle.write(f"Pelanggan {n},0857-{n // 10000:04d}-{n % 10000:04d},Bandung,new,import {n}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patches", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="wabridge-leads-") as tmp:
        daemon = RunningDaemon(Path(tmp), NUMBERS[:1])
        installed = daemon.cli("templates", "install", "mark-active-lead", "identify-hot-lead", "auto-closing")
        assert installed.returncode == 0, installed.stderr
        daemon.start()
        try:
            status, body = daemon.request("POST", "/api/rules", STATUS_RULE)
            assert status == 201, body
            daemon.pair(NUMBERS[0])
            result.update(patch_benchmark(daemon, args.patches, args.clients, args.rate))

            csv_path = Path(tmp) / "leads.csv"
            import_file(csv_path, args.rows)
            client = Client(daemon)
            started = time.monotonic()
            status, answer = client.call("POST", "/api/leads/import", raw=csv_path.read_bytes(), ctype="text/csv")
            assert status == 200, answer[:500]
            result["import_rows"] = args.rows
            result["import_file_mb"] = round(csv_path.stat().st_size / 1e6, 1)
            result["import_http_seconds"] = round(time.monotonic() - started, 1)
            assert daemon.proc is not None
            result["daemon_peak_rss_mb"] = round(rss_peak_mb(daemon.proc.pid), 1)
            result["import_answer"] = {k: v for k, v in json.loads(answer).items()
                                       if k in ("created", "updated", "unchanged", "rules_fired")}
        finally:
            daemon.stop(signal.SIGTERM)
        # The same file again, from the command line with the daemon stopped (all unchanged
        # but the status column); then a fresh file of new phones.
        fresh = Path(tmp) / "fresh.csv"
        import_file(fresh, args.rows)
        fresh.write_text(fresh.read_text(encoding="utf-8").replace(",0857-", ",0858-"), encoding="utf-8")
        started = time.monotonic()
        # The command in a process of its own, which reports its own peak RSS at the end.
        code = ("import resource, sys; from bridge.cli import main; rc = main(sys.argv[1:]); "
                "sys.stderr.write('peak_rss_kb=%d\\n' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); "
                "sys.exit(rc)")
        done = subprocess.run([sys.executable, "-c", code, "--config", str(daemon.config), "leads", "import",
                               str(fresh)], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        result["import_cli_seconds"] = round(time.monotonic() - started, 1)
        peak = [line for line in done.stderr.splitlines() if line.startswith("peak_rss_kb=")][-1]
        result["import_cli_peak_rss_mb"] = round(int(peak.split("=")[1]) / 1024, 1)
        result["import_cli_output"] = done.stdout.strip()
    print(json.dumps(result, indent=2))
    ok = (float(str(result["patch_p99_ms"])) < 50 and float(str(result["import_http_seconds"])) < 20
          and float(str(result["import_cli_seconds"])) < 20 and float(str(result["daemon_peak_rss_mb"])) < 300)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
