"""`wabridge backup` while the daemon runs, `wabridge restore` (refused while it runs,
checked before anything changes), and the start check that refuses a corrupt database."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.daemon import RunningDaemon

pytestmark = pytest.mark.slow
NUMBER = "6281100000001"


def workdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def lead_rows(db: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT * FROM leads ORDER BY phone").fetchall()
    finally:
        conn.close()


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge.cli", "--config", str(config), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def send_leads(daemon: RunningDaemon, count: int, first: int = 0) -> None:
    daemon.pair(NUMBER)
    for n in range(first, first + count):
        status, body = daemon.send(NUMBER, sender=f"62813{n:07d}", text=f"halo kak {n}")
        assert status == 201, body
    daemon.wait(lambda: daemon.request("GET", "/readyz")[0] == 200 and len(daemon.leads()) >= first + count,
                what="leads processed")


def test_backup_while_running_then_restore_into_an_empty_data_dir(tmp_path: Path) -> None:
    daemon = RunningDaemon(workdir(tmp_path / "shop"), numbers=(NUMBER,)).start()
    try:
        send_leads(daemon, 25)
        backup = tmp_path / "backups" / "today"
        done = daemon.cli("backup", str(backup))  # the daemon keeps running and writing
        assert done.returncode == 0, done.stderr
        assert "25 leads" in done.stdout
        manifest = json.loads((backup / "manifest.json").read_text())
        assert manifest["counts"]["leads"] == 25
        assert {"wabridge.db", "api-token", f"sessions/{NUMBER}.sqlite3", "config.toml"} <= set(manifest["files"])
        assert (backup / "wabridge.db").stat().st_mode & 0o077 == 0

        refused = daemon.cli("restore", str(backup))
        assert refused.returncode == 27, refused.stderr
        assert "wabridge run pid" in refused.stderr and "Stop the daemon first" in refused.stderr
        assert len(daemon.leads()) == 25  # nothing changed
        send_leads(daemon, 5, first=25)  # after the backup: not in it
    finally:
        daemon.stop(signal.SIGTERM)
    original = lead_rows(daemon.data / "wabridge.db")
    assert len(original) == 30

    fresh = RunningDaemon(workdir(tmp_path / "new-machine"), numbers=(NUMBER,))
    done = fresh.cli("restore", str(backup))
    assert done.returncode == 0, done.stderr
    assert lead_rows(fresh.data / "wabridge.db") == original[:25] == [
        r for r in original if r in lead_rows(fresh.data / "wabridge.db")]
    assert (fresh.data / "api-token").read_text() == (daemon.data / "api-token").read_text()
    assert (fresh.data / "sessions" / f"{NUMBER}.sqlite3").is_file()
    assert not (fresh.data / ".restore-staging").exists()
    fresh.start()
    try:
        assert len(fresh.leads()) == 25
        assert fresh.token == daemon.token  # the restored token, so clients keep working
    finally:
        fresh.stop(signal.SIGTERM)


def test_a_damaged_backup_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    daemon = RunningDaemon(workdir(tmp_path / "shop"), numbers=(NUMBER,)).start()
    try:
        send_leads(daemon, 3)
        assert daemon.cli("backup", str(tmp_path / "b1")).returncode == 0
        assert daemon.cli("backup", str(tmp_path / "b1")).returncode == 1  # never over an existing backup
        assert daemon.cli("backup", str(tmp_path / "b2")).returncode == 0
    finally:
        daemon.stop(signal.SIGTERM)
    before = lead_rows(daemon.data / "wabridge.db")
    with open(tmp_path / "b1" / "wabridge.db", "r+b") as handle:
        handle.seek(4096 + 100)
        handle.write(b"\xff" * 64)
    done = daemon.cli("restore", str(tmp_path / "b1"))
    assert done.returncode == 1 and "damaged" in done.stderr and "nothing was changed" in done.stderr
    assert lead_rows(daemon.data / "wabridge.db") == before
    assert not list(daemon.data.glob("before-restore-*"))
    not_a_backup = daemon.cli("restore", str(tmp_path))
    assert not_a_backup.returncode == 1 and "not a wabridge backup" in not_a_backup.stderr
    if os.geteuid() == 0:  # root restoring for the service's user: the files stay the user's
        service = RunningDaemon(workdir(tmp_path / "service"), numbers=(NUMBER,))
        service.data.mkdir(mode=0o700)
        os.chown(service.data, 65534, 65534)
        assert service.cli("restore", str(tmp_path / "b2")).returncode == 0
        owners = {(p.stat().st_uid, p.stat().st_gid) for p in service.data.rglob("*")}
        assert owners == {(65534, 65534)}, owners


def corrupt_table(db: Path, table: str) -> None:
    """Overwrite the middle of a table's root page: SQLite still opens the file, quick_check fails."""
    conn = sqlite3.connect(db)
    root, page_size = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0], \
        conn.execute("PRAGMA page_size").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(db, "r+b") as handle:
        handle.seek((root - 1) * page_size + 8)
        handle.write(bytes(range(7, 255)) * 3)


def test_a_corrupt_database_stops_the_daemon_at_start_naming_the_file_and_the_restore(tmp_path: Path) -> None:
    daemon = RunningDaemon(workdir(tmp_path / "shop"), numbers=(NUMBER,)).start()
    try:
        send_leads(daemon, 40)
    finally:
        daemon.stop(signal.SIGTERM)
    db = daemon.data / "wabridge.db"
    corrupt_table(db, "leads")
    done = daemon.cli("run", "--simulate")
    assert done.returncode == 26, done.stderr[-2000:]
    assert f"the database {db} fails PRAGMA quick_check" in done.stderr
    assert f"wabridge --config {daemon.config} restore BACKUP_DIR" in done.stderr
    assert "restore --from-replica" in done.stderr


def test_one_daemon_per_data_dir(tmp_path: Path) -> None:
    daemon = RunningDaemon(workdir(tmp_path / "shop"), numbers=(NUMBER,)).start()
    try:
        second = daemon.cli("run", "--simulate", "--listen", "127.0.0.1:1")
        assert second.returncode == 27 and "is in use by wabridge run pid" in second.stderr
    finally:
        daemon.stop(signal.SIGTERM)
