"""A reconnect burst through a real `wabridge run --simulate` daemon: nothing lost when a
worker is SIGKILLed mid-burst, each message processed exactly once, and the messages of
several numbers arriving together committed in shared inbox transactions (group commit)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge.worker.journal import MessageJournal
from engine.model import parse_message
from tests.e2e.daemon import NUMBERS, RunningDaemon

pytestmark = pytest.mark.slow
A, B = NUMBERS
BACKLOG_A = 2_000  # the offline backlogs: in the numbers' journals when their workers start
BACKLOG_B = 1_000
EVERY_MESSAGE_TO_CRM = [{"name": "crm", "trigger": "message.received", "sender": "all",
                         "conditions": [{"field": "chat.count", "op": "gte", "value": 1}],
                         "actions": [{"type": "send_webhook", "url": "http://127.0.0.1:9/crm",
                                      "event": "rule.fired"}]}]


def message(number: str, n: int) -> dict[str, object]:
    customer = f"62812{n % 300:08d}@s.whatsapp.net"
    return {"id": f"BURST{number[-1]}{n:05d}", "session": number, "chat": customer, "sender": customer,
            "type": "text", "text": f"halo kak, pesanan {n}"}


def unacked_in(journal: Path) -> int:
    """Entries of a journal file no ack line has released."""
    entries = [json.loads(line) for line in journal.read_bytes().splitlines() if line.strip()]
    return len({e["seq"] for e in entries if "seq" in e} - {e["ack"] for e in entries if "ack" in e})


def metric(daemon: RunningDaemon, name: str) -> float:
    status, body = daemon.request("GET", "/metrics")
    assert status == 200
    return sum(s.value for family in text_string_to_metric_families(body.decode()) for s in family.samples
               if s.name == name)


@pytest.mark.timeout(240)
def test_a_worker_killed_mid_burst_loses_nothing_and_bursts_share_commits(tmp_path: Path) -> None:
    daemon = RunningDaemon(tmp_path)
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(EVERY_MESSAGE_TO_CRM))
    assert daemon.cli("rules", "import", str(rules)).returncode == 0
    daemon.start()
    for number in NUMBERS:
        daemon.pair(number)
    assert daemon.stop() == 0
    # Both backlogs wait in the journals (the real class writes them), forwarded as the workers start.
    stamp = "2026-12-06T10:00:00+00:00"
    journals = {}
    for number, count in ((A, BACKLOG_A), (B, BACKLOG_B)):
        journal = MessageJournal(daemon.data / "sessions" / f"{number}.journal")
        for n in range(count):
            journal.append(parse_message({**message(number, n), "timestamp": stamp}).to_dict())
        journals[number] = journal.path
    database = daemon.data / "wabridge.db"
    daemon.start()
    try:
        # The worker may still be starting when the daemon answers (a loaded machine): wait for it.
        deadline = time.monotonic() + 30
        while not (worker := daemon.session(A)["worker_pid"]) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert worker
        reader = sqlite3.connect(f"file:{database}?mode=ro", uri=True)

        def committed(number: str) -> int:
            return int(reader.execute("SELECT COUNT(*) FROM inbox WHERE session = ? AND message_id LIKE 'BURST%'",
                                      (number,)).fetchone()[0])

        deadline = time.monotonic() + 60
        while committed(A) == 0 and time.monotonic() < deadline:
            time.sleep(0.002)
        os.kill(worker, signal.SIGKILL)  # mid-burst: committed, in flight, and not yet forwarded
        at_kill = committed(A)
        unacked = unacked_in(journals[A])  # the dead worker's journal, as the next worker will read it
        assert at_kill > 0 and unacked > 0, (at_kill, unacked)

        def settled() -> bool:
            done = reader.execute("SELECT COUNT(*) FROM inbox WHERE message_id LIKE 'BURST%' AND state = 'done'")
            return bool(done.fetchone()[0] == BACKLOG_A + BACKLOG_B) and all(
                path.stat().st_size == 0 for path in journals.values())

        daemon.wait(settled, 120, "every message processed and acked")  # an empty journal: every ack arrived
        session = daemon.session(A)
        assert session["restarts"] >= 1 and session["worker_pid"] != worker
        ids = [row[0] for row in reader.execute("SELECT message_id FROM inbox WHERE message_id LIKE 'BURST%'")]
        assert len(ids) == len(set(ids))  # the re-sent ones were recognised by their key
        assert set(ids) == {message(A, n)["id"] for n in range(BACKLOG_A)} | {
            message(B, n)["id"] for n in range(BACKLOG_B)}
        # Processed exactly once: one webhook per message, none twice, none missing.
        per_message = reader.execute(
            "SELECT COUNT(*), COUNT(DISTINCT inbox_id) FROM outbox WHERE kind = 'webhook'").fetchone()
        assert tuple(per_message) == (BACKLOG_A + BACKLOG_B, BACKLOG_A + BACKLOG_B)
        # Messages that arrived together shared inbox transactions.
        commits = metric(daemon, "wabridge_inbox_commits_total")
        assert 0 < commits <= (BACKLOG_A + BACKLOG_B) / 5, commits
        print(f"SIGKILL with {at_kill} of A's {BACKLOG_A} committed, {unacked} unacked; "
              f"{int(commits)} inbox commits in all")
        reader.close()
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.stop()
