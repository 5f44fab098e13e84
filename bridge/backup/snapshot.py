"""`wabridge backup DEST` and `wabridge restore SRC`.

A backup is a directory: `wabridge.db` (a consistent copy made with SQLite's backup API
while the daemon keeps running), `sessions/*.sqlite3` (each linked number's session, the
same way), `api-token`, the config it was made with, and `manifest.json` (sizes, SHA-256,
row counts). It is written under `DEST.partial` and renamed to DEST when complete.

A restore checks everything first (manifest digests, `PRAGMA integrity_check` on every
database), takes the data dir's lock (refused while the daemon runs), copies the files
into `<data_dir>/.restore-staging`, then moves the current files aside into
`<data_dir>/before-restore-<time>/` and the staged ones into place, the database last. The
daemon refuses to start while the staging dir exists, so an interrupted restore is finished
by running it again, never half-applied.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bridge.backup.lock import STAGING_NAME, DataDirLock
from store.backup import copy_database, integrity_problems, table_counts

MANIFEST = "manifest.json"
FORMAT = 1
DB_NAME = "wabridge.db"
TOKEN_NAME = "api-token"
SESSIONS = "sessions"
# What a restore replaces: the database with its WAL and Litestream's local state, the sessions, the token.
REPLACED = (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f".{DB_NAME}-litestream", SESSIONS, TOKEN_NAME)


class BackupError(Exception):
    """A backup that cannot be made or a restore that must not happen (the message says why)."""


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    files: int
    bytes: int
    counts: dict[str, int]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_file(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    os.chmod(target, 0o600)
    with open(target, "rb") as handle:
        os.fsync(handle.fileno())


def _version() -> str:
    try:
        return metadata.version("wabridge")
    except metadata.PackageNotFoundError:
        return "unknown"


def make_backup(data_dir: Path, db_path: Path, dest: Path, config_file: Path | None) -> BackupReport:
    """Write a complete backup directory at `dest` (which must not exist yet)."""
    if dest.exists():
        raise BackupError(f"{dest} already exists: give a new directory name (e.g. with the date)")
    if not db_path.is_file():
        raise BackupError(f"no database at {db_path}: nothing to back up")
    partial = dest.with_name(dest.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True, mode=0o700)
    copy_database(db_path, partial / DB_NAME)
    sessions = sorted((data_dir / SESSIONS).glob("*.sqlite3")) if (data_dir / SESSIONS).is_dir() else []
    if sessions:
        (partial / SESSIONS).mkdir(mode=0o700)
    for session in sessions:
        copy_database(session, partial / SESSIONS / session.name)
    if (data_dir / TOKEN_NAME).is_file():
        _copy_file(data_dir / TOKEN_NAME, partial / TOKEN_NAME)
    if config_file is not None and config_file.is_file():
        _copy_file(config_file, partial / "config.toml")  # for reference: restore never overwrites a config
    for database in [partial / DB_NAME, *(partial / SESSIONS / s.name for s in sessions)]:
        problems = integrity_problems(database)
        if problems:
            raise BackupError(f"the copy of {database.name} fails its check: {problems[0]}")
    files = {str(p.relative_to(partial)): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
             for p in sorted(partial.rglob("*")) if p.is_file()}
    counts = table_counts(partial / DB_NAME)
    manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(), "wabridge": _version(),
                "data_dir": str(data_dir), "files": files, "counts": counts}
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    for directory in (partial / SESSIONS, partial):
        if directory.is_dir():
            _fsync_dir(directory)
    partial.rename(dest)
    _fsync_dir(dest.parent)
    return BackupReport(dest, len(files), sum(int(f["bytes"]) for f in files.values()), counts)


def read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of a backup directory, after checking every file it lists."""
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} is not a wabridge backup (no readable {MANIFEST}: {exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(
            manifest.get("files"), dict) or DB_NAME not in manifest["files"]:
        raise BackupError(f"{source / MANIFEST} is not a wabridge backup manifest (format {FORMAT})")
    for name, entry in manifest["files"].items():
        path = (source / name).resolve()
        if source.resolve() not in path.parents or not path.is_file():
            raise BackupError(f"the backup lists {name}, which is missing")
        if path.stat().st_size != entry.get("bytes") or _sha256(path) != entry.get("sha256"):
            raise BackupError(f"{name} in the backup is damaged (size or SHA-256 differs from the manifest)")
    return manifest


def check_databases(paths: Iterable[Path]) -> None:
    """Full `PRAGMA integrity_check` on each database; BackupError naming the first bad one."""
    for path in paths:
        problems = integrity_problems(path, full=True)
        if problems:
            raise BackupError(f"{path} fails PRAGMA integrity_check: {'; '.join(problems[:3])}")


def stage_backup(source: Path, data_dir: Path, manifest: dict[str, Any]) -> Path:
    """Copy a checked backup into the data dir's staging dir (config.toml and the manifest stay out)."""
    staging = data_dir / STAGING_NAME
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True, mode=0o700)
    for name in manifest["files"]:
        if name == "config.toml":
            continue
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _copy_file(source / name, target)
    return staging


def swap_in(data_dir: Path, staging: Path, replaced: tuple[str, ...] = REPLACED) -> Path:
    """Move the current files aside, then the staged ones into place (database last)."""
    aside = data_dir / f"before-restore-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}"
    aside.mkdir(mode=0o700)
    owner = data_dir.stat()
    if os.geteuid() == 0:
        os.chown(aside, owner.st_uid, owner.st_gid)
    for name in replaced:
        if (data_dir / name).exists():
            (data_dir / name).rename(aside / name)
    staged = sorted(staging.iterdir(), key=lambda p: p.name == DB_NAME)  # the database last
    for item in staged:
        if os.geteuid() == 0:  # restored by root for the service's user: the files stay the service's
            for path in (item, *item.rglob("*")):
                os.chown(path, owner.st_uid, owner.st_gid)
        item.rename(data_dir / item.name)
    _fsync_dir(data_dir)
    staging.rmdir()
    _fsync_dir(data_dir)
    return aside


def restore_backup(source: Path, data_dir: Path) -> tuple[dict[str, Any], Path]:
    """Check, lock, stage, swap. Returns (manifest, where the previous files were moved)."""
    manifest = read_manifest(source)
    databases = [source / n for n in manifest["files"] if n == DB_NAME or n.endswith(".sqlite3")]
    check_databases(databases)
    with DataDirLock(data_dir, "wabridge restore").acquire():
        staging = stage_backup(source, data_dir, manifest)
        aside = swap_in(data_dir, staging)
    return manifest, aside
