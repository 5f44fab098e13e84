"""The API token: from config.toml, or generated once into <data_dir>/api-token (0600)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)
TOKEN_FILE = "api-token"


def ensure_token(configured: str | None, data_dir: Path) -> str:
    """Return the token to require; create the token file on first start if none is configured."""
    if configured:
        return configured
    path = data_dir / TOKEN_FILE
    if path.exists():
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    log.warning("api_token_created", path=str(path), hint=f"cat {path} to log in")
    return token


def read_token(configured: str | None, data_dir: Path) -> str | None:
    """The token a CLI client should send (None if the daemon never started here)."""
    if configured:
        return configured
    path = data_dir / TOKEN_FILE
    return path.read_text(encoding="utf-8").strip() if path.exists() else None
