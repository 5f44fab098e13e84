"""Who may change a data dir: the running daemon holds `<data_dir>/daemon.lock` (an flock,
released by the kernel when the process ends, even by kill -9), and `wabridge restore`
takes the same lock, so a restore never runs under a live daemon and a daemon never starts
in the middle of a restore.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "daemon.lock"
STAGING_NAME = ".restore-staging"  # present only while a restore is swapping files


class DataDirBusyError(Exception):
    """Another process (a daemon or a restore) holds the data dir."""

    def __init__(self, data_dir: Path, holder: str) -> None:
        self.data_dir = data_dir
        self.holder = holder
        super().__init__(f"{data_dir} is in use by {holder}")


class DataDirLock:
    """An exclusive, non-blocking flock on the data dir's lock file, held until release()."""

    def __init__(self, data_dir: Path, role: str) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_NAME
        self.role = role
        self.fd: int | None = None

    def acquire(self) -> DataDirLock:
        """Take the lock or raise DataDirBusyError naming who holds it."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.geteuid() == 0:  # root (a restore for the service's user): the daemon must open it later
            owner = self.data_dir.stat()
            os.fchown(fd, owner.st_uid, owner.st_gid)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise DataDirBusyError(self.data_dir, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{self.role} pid {os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        """Let go (the kernel also does this when the process ends)."""
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> DataDirLock:
        return self if self.fd is not None else self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def interrupted_restore(data_dir: Path) -> bool:
    """Whether a restore stopped halfway (its staging dir is still there)."""
    return (data_dir / STAGING_NAME).exists()
