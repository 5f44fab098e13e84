"""Entry point of a session worker process: ``python -m bridge.worker``.

Order matters here, which is why this module does so little else:
1. parse the arguments (exit 2 when wrong; nothing else has happened yet);
2. configure structlog (JSON lines on stderr) and route the stdlib `logging` tree
   into it *before* neonize is imported (neonize calls `logging.basicConfig` at
   import, notes §5.1);
3. take the protocol channel away from fd 1: the original stdout is dup'ed for
   frames, and fd 1 becomes a pipe that a thread turns into log events, so a stray
   print from Go (``Login event: …``, ``Pair Code: …``), segno or a library can never
   corrupt the protocol nor leak a secret into the logs;
4. only then import the worker implementation (neonize for ``--kind neonize``).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import threading
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, NoReturn

import structlog
import structlog.tracebacks

from bridge.protocol import ExitCode
from bridge.worker.base import WorkerBase

_PHONE_RE = re.compile(r"^[1-9][0-9]{6,14}$")
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Go/whatsmeow stdout lines that are safe to keep (everything else only has its length).
_SAFE_STDOUT_PREFIXES = ("Login event:", "Press Ctrl+C", "SendMessage:")
_SECRETS_RE = re.compile(r"2@[A-Za-z0-9+/=,]{16,}|\b[A-Z0-9]{4}-[A-Z0-9]{4}\b")


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse and check the command line; exit 2 on anything wrong."""
    parser = argparse.ArgumentParser(
        prog="python -m bridge.worker", description="wabridge session worker (one number)"
    )
    parser.add_argument("--kind", required=True, choices=("neonize", "sim"))
    parser.add_argument("--phone", required=True, help="admin number, digits only")
    parser.add_argument("--session-db", required=True, type=Path, help="absolute file path")
    parser.add_argument("--log-level", default="INFO", type=str.upper, choices=_LEVELS)
    args = parser.parse_args(argv)
    if not _PHONE_RE.match(args.phone):
        parser.error(f"--phone {args.phone!r}: expected 7-15 digits without + or leading 0")
    if not args.session_db.is_absolute():
        parser.error(f"--session-db {str(args.session_db)!r}: must be an absolute path")
    if args.session_db.is_dir():
        parser.error(f"--session-db {str(args.session_db)!r}: is a directory")
    return args


def _redact(text: str) -> str:
    return _SECRETS_RE.sub("[redacted]", text)


class _StdlibToStructlog(logging.Handler):
    """Re-emits stdlib records (neonize, whatsmeow, Go) as structlog events."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            structlog.get_logger("lib").log(
                record.levelno,
                "library_log",
                logger=record.name,
                text=_redact(record.getMessage())[:500],
            )
        except Exception:
            self.handleError(record)


def configure_logging(level_name: str, **context: Any) -> None:
    """Render structlog as JSON lines on stderr and route stdlib logging into it."""
    level = logging.getLevelNamesMapping()[level_name]

    def add_context(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in context.items():
            event.setdefault(key, value)
        return event

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            add_context,
            # Tracebacks as JSON, without local variables: they could hold message text,
            # QR payloads or pair codes.
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    root.handlers[:] = [_StdlibToStructlog()]
    root.setLevel(level)
    # Never DEBUG stanza dumps from whatsmeow (volume and privacy, notes §5.4).
    for name in ("whatsmeow", "Whatsmeow", "neonize"):
        logging.getLogger(name).setLevel(max(level, logging.INFO))


def claim_stdout() -> int:
    """Return a private fd for protocol frames; fd 1 becomes a log-only pipe."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)  # non-inheritable: children never see the protocol
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 1)
    os.close(write_fd)
    # Python-level prints (neonize prints login-status integers) take the same pipe.
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    threading.Thread(
        target=_drain_stray_stdout, args=(read_fd,), name="stray-stdout", daemon=True
    ).start()
    return protocol_fd


def _drain_stray_stdout(read_fd: int) -> None:
    stray = structlog.get_logger("stdout")
    with os.fdopen(read_fd, "rb") as pipe:
        for raw in pipe:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            if line.startswith(_SAFE_STDOUT_PREFIXES):
                stray.info("stray_stdout", text=_redact(line)[:300])
            else:
                stray.info("stray_stdout", length=len(line))


def main(argv: list[str] | None = None) -> NoReturn:
    """Start one session worker; never returns (the worker ends the process)."""
    os.umask(0o077)  # every file a worker creates (session DBs) is private
    # Arguments first (argparse only writes usage/errors to stderr), then logging to
    # stderr, and only then fd 1 becomes the log pipe: its reader must never log into it.
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # argparse already explained the problem on stderr
        sys.stderr.flush()
        os._exit(int(exc.code) if isinstance(exc.code, int) else int(ExitCode.BAD_ARGS))
    configure_logging(args.log_level, worker=args.kind, phone=args.phone)
    protocol_fd = claim_stdout()
    options: dict[str, Any] = {
        "phone": args.phone,
        "session_db": args.session_db,
        "out_fd": protocol_fd,
        "stdin": sys.stdin.buffer,
    }
    worker_class: type[WorkerBase]
    try:
        if args.kind == "neonize":
            # Go copies the environment when the library loads: set this before import.
            os.environ.setdefault("NEONIZE_BOT_TAG", "off")
            from bridge.worker.neonize_worker import NeonizeWorker

            worker_class = NeonizeWorker
        else:
            from bridge.worker.sim_worker import SimWorker

            worker_class = SimWorker
    except Exception:
        structlog.get_logger("bridge.worker").exception("worker_import_failed", kind=args.kind)
        sys.stderr.flush()
        os._exit(int(ExitCode.INTERNAL_ERROR))
    worker_class(**options).run()


if __name__ == "__main__":
    main()
