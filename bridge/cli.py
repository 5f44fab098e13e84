"""The `wabridge` command line: one parser, subcommands per noun, global options on each."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import structlog

from bridge.commands import (
    backup,
    daemon,
    events,
    import_chat,
    leads,
    outbox,
    replay,
    rotators,
    rules,
    send,
    service,
    webhooks,
)
from bridge.commands.common import Context, err
from bridge.config import load_config
from bridge.errors import EXIT_CONFIG, EXIT_FAILED, EXIT_STORE, ConfigError
from bridge.logs import configure_logging
from store.errors import NotFoundError

DEFAULT_CONFIG = Path("config.toml")


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--config", type=Path, default=default, metavar="PATH",
                        help="config.toml (default: ./config.toml if it exists, else built-in defaults)")
    parser.add_argument("--data-dir", type=Path, default=default, metavar="PATH",
                        help="data directory (overrides [store].data_dir; default ./data)")
    parser.add_argument("--db", type=Path, default=default, metavar="PATH",
                        help="the wabridge database file (default <data-dir>/wabridge.db)")
    parser.add_argument("--log-level", default=default, metavar="LEVEL",
                        help="DEBUG, INFO, WARNING or ERROR (default from config: INFO)")


def _version() -> str:
    """The installed package's version (pyproject.toml)."""
    try:
        return metadata.version("wabridge")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (global options work before or after the subcommand)."""
    parser = argparse.ArgumentParser(
        prog="wabridge",
        description="Self-hosted WhatsApp linked-device bridge with a CRM rule engine.",
        epilog="Exit codes: 0 ok, 1 problems found, 2 usage, 11 config error, 25 database error.",
    )
    _global_options(parser, suppress=False)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (rules, replay, import_chat, leads, outbox, daemon, rotators, events, send, service, backup,
                   webhooks):
        module.add_parsers(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `wabridge` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    config_path: Path | None = args.config
    if config_path is None and DEFAULT_CONFIG.is_file():
        config_path = DEFAULT_CONFIG
    try:
        config = load_config(config_path, data_dir=args.data_dir)
    except ConfigError as exc:
        err(f"error: {exc}")
        return EXIT_CONFIG
    configure_logging(args.log_level or config.logging.level, config.logging.format)
    db_path = args.db or config.store.db_path
    ctx = Context(config, db_path)
    try:
        code: int = args.func(ctx, args)
        return code
    except NotFoundError as exc:
        err(f"error: {exc}")
        return EXIT_FAILED
    except ConfigError as exc:
        err(f"error: {exc}")
        return EXIT_CONFIG
    except sqlite3.DatabaseError as exc:
        structlog.get_logger(__name__).critical(
            "database_unusable", path=str(db_path), error=str(exc),
            hint="is it a wabridge database, and is the disk writable?")
        return EXIT_STORE
    except OSError as exc:
        err(f"error: {exc}")
        return EXIT_FAILED
    finally:
        ctx.close()


if __name__ == "__main__":
    sys.exit(main())
