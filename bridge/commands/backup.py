"""`wabridge backup DEST` and `wabridge restore SRC | --from-replica [URL]`."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from bridge.backup.litestream import restore_replica
from bridge.backup.lock import STAGING_NAME, DataDirBusyError, DataDirLock
from bridge.backup.settings import replica_url
from bridge.backup.snapshot import DB_NAME, BackupError, check_databases, make_backup, restore_backup, swap_in
from bridge.commands.common import Context, err, out
from bridge.errors import EXIT_BUSY, EXIT_FAILED, EXIT_OK, EXIT_USAGE, ConfigError
from store.backup import table_counts

# What --from-replica replaces: only the database (the replica holds nothing else).
DB_FILES = (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f".{DB_NAME}-litestream")


def _busy(exc: DataDirBusyError) -> int:
    err(f"refused: {exc.data_dir} is in use by {exc.holder}. Stop the daemon first "
        f"(systemctl stop wabridge), then restore; nothing was changed.")
    return EXIT_BUSY


def cmd_backup(ctx: Context, args: argparse.Namespace) -> int:
    """A consistent copy of the data dir while the daemon runs."""
    try:
        report = make_backup(ctx.config.store.data_dir, ctx.db_path, Path(args.dest), ctx.config.source)
    except BackupError as exc:
        err(f"error: {exc}")
        return EXIT_FAILED
    counts = ", ".join(f"{n} {t}" for t, n in report.counts.items())
    out(f"backup written to {report.path}: {report.files} files, {report.bytes} bytes ({counts})")
    return EXIT_OK


def cmd_restore(ctx: Context, args: argparse.Namespace) -> int:
    """Put a backup (or the Litestream replica) back; refused while the daemon runs."""
    data_dir = ctx.config.store.data_dir
    if args.from_replica is not None:
        return _restore_replica(ctx, args.from_replica or ctx.config.backup.replica)
    if not args.source:
        err("give the backup directory to restore (made by `wabridge backup`), or --from-replica")
        return EXIT_USAGE
    try:
        manifest, aside = restore_backup(Path(args.source), data_dir)
    except DataDirBusyError as exc:
        return _busy(exc)
    except BackupError as exc:
        err(f"refused: {exc}; nothing was changed")
        return EXIT_FAILED
    counts = ", ".join(f"{n} {t}" for t, n in manifest.get("counts", {}).items())
    out(f"restored {args.source} (made {manifest.get('created_at')}: {counts}) into {data_dir}")
    out(f"the previous files are in {aside}; start the daemon again (systemctl start wabridge)")
    return EXIT_OK


def _restore_replica(ctx: Context, url: str | None) -> int:
    data_dir = ctx.config.store.data_dir
    if not url:
        err("no replica: set [backup] replica in config.toml or give --from-replica URL")
        return EXIT_USAGE
    try:
        replica_url(url, "--from-replica")
    except ConfigError as exc:
        err(f"error: {exc}")
        return EXIT_USAGE
    try:
        with DataDirLock(data_dir, "wabridge restore").acquire():
            staging = data_dir / STAGING_NAME
            shutil.rmtree(staging, ignore_errors=True)  # what an interrupted restore left
            staging.mkdir(mode=0o700)
            try:
                restore_replica(url, staging / DB_NAME)
                check_databases([staging / DB_NAME])
            except (RuntimeError, BackupError, OSError) as exc:
                shutil.rmtree(staging, ignore_errors=True)
                err(f"refused: {exc}; nothing was changed")
                return EXIT_FAILED
            aside = swap_in(data_dir, staging, DB_FILES)
    except DataDirBusyError as exc:
        return _busy(exc)
    counts = ", ".join(f"{n} {t}" for t, n in table_counts(ctx.config.store.db_path).items())
    out(f"restored the database from {url.split('?', 1)[0]} into {data_dir} ({counts})")
    out(f"the previous database (if any) is in {aside}; linked sessions are not in the replica: "
        f"restore them from a `wabridge backup`, or pair the numbers again")
    return EXIT_OK


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `backup` and `restore`."""
    p = sub.add_parser("backup", parents=[common], help="a consistent copy of the data, safe while the daemon runs",
                       description="Copy the database and the linked sessions (SQLite's online backup API: "
                                   "a consistent copy while the daemon runs), the API token and the config "
                                   "into a new directory DEST, with a manifest of SHA-256 digests.")
    p.add_argument("dest", help="a new directory (it must not exist yet), e.g. /mnt/backup/wabridge-2026-12-06")
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser("restore", parents=[common], help="put a backup or the Litestream replica back",
                       description="Check a backup (digests, PRAGMA integrity_check), then replace the data "
                                   "dir's database, sessions and token with it; the previous files are moved "
                                   "to <data_dir>/before-restore-<time>/. Refused while the daemon runs.")
    p.add_argument("source", nargs="?", help="a directory made by `wabridge backup`")
    p.add_argument("--from-replica", nargs="?", const="", metavar="URL",
                   help="restore the database from the Litestream replica ([backup] replica, or this URL)")
    p.set_defaults(func=cmd_restore)
