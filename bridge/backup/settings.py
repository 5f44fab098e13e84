"""[backup]: continuous replication of the database with Litestream.

    [backup]
    replica = "file:///mnt/backup/wabridge"   # or s3://bucket/path?endpoint=…&region=…

Litestream ships new commits every second (its default sync interval).

Pure stdlib (bridge.config imports this module).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bridge.errors import ConfigError
from bridge.settings_parse import SectionReader

REPLICA_SCHEMES = ("file", "s3", "gs", "abs", "sftp")


@dataclass(frozen=True, slots=True)
class BackupConfig:
    """[backup]; `replica` None: no continuous replication."""

    replica: str | None = None


def replica_url(value: Any, key: str) -> str:
    """A Litestream replica URL: file:///absolute/dir, or s3:// (gs://, abs://, sftp://)."""
    expected = "a replica URL: file:///absolute/dir or s3://bucket/path (gs://, abs://, sftp:// too)"
    if not isinstance(value, str) or len(value) > 2048 or not value.isprintable():
        raise ConfigError(key, value, expected)
    parts = urlsplit(value)
    if parts.scheme not in REPLICA_SCHEMES:
        raise ConfigError(key, value, expected)
    if parts.scheme == "file" and (parts.netloc or not parts.path.startswith("/") or parts.path == "/"):
        raise ConfigError(key, value, "file:///absolute/dir (three slashes, not the root)")
    if parts.scheme != "file" and not parts.netloc:
        raise ConfigError(key, value, f"{parts.scheme}://BUCKET-OR-HOST/path")
    return value


def parse_backup_settings(section: SectionReader) -> BackupConfig:
    """Read [backup]."""
    return BackupConfig(replica=section.get("replica", None, replica_url))
