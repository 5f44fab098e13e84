"""End to end with `wabridge run --simulate` subprocesses and a loopback receiver:
deliveries survive a SIGKILL (none twice once acknowledged), and a slow receiver with a
1,000-webhook backlog does not hold up message processing."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.daemon import RunningDaemon
from tests.outbox.receiver import Receiver, Reply

pytestmark = pytest.mark.slow
A = "6281100000001"


def rules_file(path: Path, url: str) -> Path:
    path.write_text(f"""
[[rules]]
name = "Push every customer message"
trigger = "message.received"
priority = 10
actions = [{{ type = "send_webhook", url = "{url}", secret = "whsec_e2e_secret" }}]

[[rules]]
name = "Hot on order"
trigger = "message.received"
priority = 20
conditions = [{{ field = "message.text", op = "contains", value = "order" }}]
actions = [{{ type = "set_status", status = "hot" }}]
""", encoding="utf-8")
    return path


def daemon_with(tmp_path: Path, receiver_url: str, extra: str = "") -> RunningDaemon:
    running = RunningDaemon(tmp_path, numbers=(A,))
    running.config.write_text(running.config.read_text() + extra)
    imported = running.cli("rules", "import", str(rules_file(tmp_path / "rules.toml", receiver_url)))
    assert imported.returncode == 0, imported.stderr
    return running


def outbox(daemon: RunningDaemon, **query: str) -> list[dict[str, Any]]:
    path = "/api/outbox?limit=1000" + "".join(f"&{k}={v}" for k, v in query.items())
    status, body = daemon.request("GET", path)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def test_pending_deliveries_survive_sigkill_and_none_is_sent_twice(tmp_path: Path) -> None:
    receiver = Receiver()
    url = receiver.start_in_thread()
    daemon = daemon_with(tmp_path, url, '\n[webhooks]\nretry_base = "300ms"\nretry_max = "600ms"\n')
    try:
        daemon.start()
        daemon.pair(A)
        assert daemon.send(A, sender="6281234567890", text="halo")[0] == 201
        daemon.wait(lambda: len(outbox(daemon, state="delivered")) == 1, what="first delivery acknowledged")
        (acknowledged,) = outbox(daemon, state="delivered")
        receiver.default = Reply(500)  # the receiver goes down: the next deliveries keep failing
        for text in ("ada ukuran 39?", "saya mau order"):
            assert daemon.send(A, sender="6281234567890", text=text)[0] == 201
        daemon.wait(lambda: len({r.event_id for r in receiver.requests if r.status == 500}) == 2,
                    what="both new webhooks attempted")
        pending = [e for e in outbox(daemon) if e["state"] in ("pending", "failed")]
        assert len(pending) == 2
        daemon.stop(signal.SIGKILL)

        receiver.default = Reply(200)  # back up while the daemon is down
        daemon.start()
        daemon.wait(lambda: len(outbox(daemon, state="delivered")) == 3, timeout=30, what="delivered after restart")
        time.sleep(1.0)  # any (wrong) second delivery would arrive meanwhile
        ok = [r.event_id for r in receiver.ok()]
        assert sorted(ok) == sorted({e["event_id"] for e in outbox(daemon)})  # each event once, no more
        assert ok.count(acknowledged["event_id"]) == 1
        for entry in pending:  # the same event id before and after the restart
            attempts = [r for r in receiver.requests if r.event_id == entry["event_id"]]
            assert len(attempts) >= 2 and attempts[-1].status == 200
            assert len({r.body for r in attempts}) == 1
        assert all(json.loads(r.body)["type"] == "rule.fired" for r in receiver.requests)
        daemon.stop(signal.SIGTERM)
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.stop(signal.SIGKILL)
        receiver.stop_thread()


def test_a_slow_receiver_with_1000_queued_webhooks_does_not_block_messages(tmp_path: Path) -> None:
    receiver = Receiver(Reply(delay=0.1))  # 4 in flight per endpoint: ~40 deliveries a second
    url = receiver.start_in_thread()
    daemon = daemon_with(tmp_path, url)
    backlog = tmp_path / "backlog.jsonl"
    backlog.write_text("".join(json.dumps({
        "id": f"OLD{n:05d}", "session": A, "chat": f"62813{n:08d}@s.whatsapp.net",
        "sender": f"62813{n:08d}@s.whatsapp.net", "timestamp": "2026-11-20T09:00:00+07:00", "text": "halo"}) + "\n"
        for n in range(1000)), encoding="utf-8")
    replayed = daemon.cli("replay", str(backlog), "--json")  # queues 1,000 webhooks before the daemon starts
    assert replayed.returncode == 0 and json.loads(replayed.stdout)["outbox_queued"] == 1000, replayed.stderr
    try:
        daemon.start()
        daemon.pair(A)
        daemon.wait(lambda: len(receiver.requests) >= 20, what="the backlog draining")
        latencies = []
        for n in range(5):
            phone = f"6281400000{n:03d}"
            started = time.monotonic()
            assert daemon.send(A, sender=phone, text="saya mau order")[0] == 201
            daemon.wait(lambda p=phone: [lead["status"] for lead in daemon.leads(phone=p)] == ["hot"],
                        timeout=10, what="a new message processed")
            latencies.append(time.monotonic() - started)
        drained = len(receiver.requests)
        assert drained < 1000  # the backlog was still draining while the messages went through
        assert max(latencies) < 3.0, latencies  # generous: typically ~0.05 s (README, scripts/bench_outbox.py)
        status, metrics = daemon.request("GET", "/metrics")
        assert status == 200 and b'wabridge_outbox_delivered_total{kind="webhook"}' in metrics
        assert b"wabridge_outbox_delivery_seconds_bucket" in metrics
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            daemon.stop(signal.SIGTERM)
        receiver.stop_thread()
