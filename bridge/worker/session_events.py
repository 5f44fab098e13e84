"""What a session's connection events mean: the state, reason and exit code they lead to.

The tables name `neonize.events` classes by their attribute name there (`nev.LoggedOutEv`),
so this module never imports neonize; `bridge.worker.neonize_events`, the neonize worker's
event handlers, resolves the names to classes at import and registers a handler for each. Exit codes
are `bridge.protocol.ExitCode` (their meaning: `bridge.worker`). Also here: what a failed
`connect()` is reported as.
"""

from __future__ import annotations

from typing import Any

from bridge.protocol import ExitCode

# Events after which this process is done: (state, reason, exit code).
TERMINAL: dict[str, tuple[str, str, ExitCode]] = {
    "LoggedOutEv": ("LOGGED_OUT", "logged_out", ExitCode.LOGGED_OUT),
    "StreamReplacedEv": ("FAILED", "stream_replaced", ExitCode.STREAM_REPLACED),
    "TemporaryBanEv": ("FAILED", "temporary_ban", ExitCode.BANNED_OR_OUTDATED),
    "ClientOutdatedEv": ("FAILED", "client_outdated", ExitCode.BANNED_OR_OUTDATED),
    # whatsmeow does not reconnect after a connect failure (it expects the disconnect).
    "ConnectFailureEv": ("DISCONNECTED", "connect_failure", ExitCode.TEMPFAIL),
}
# Events whatsmeow recovers from by itself: the reason of the DISCONNECTED state.
TRANSIENT: dict[str, str] = {
    "DisconnectedEv": "network",
    "StreamErrorEv": "stream_error",
    "KeepAliveTimeoutEv": "keepalive_timeout",
}
# The state's detail text of each event above, formatted with the event's fields (`describe`).
DETAILS: dict[str, str] = {
    "LoggedOutEv": "{Reason} (on connect: {OnConnect})",
    "StreamReplacedEv": "the same session connected from somewhere else",
    "TemporaryBanEv": "{Code}; expires in {Expire} s",
    "ClientOutdatedEv": "WhatsApp rejected the client version: upgrade neonize",
    "ConnectFailureEv": "{Reason}: {Message}",
    "DisconnectedEv": "connection lost; whatsmeow reconnects",
    "StreamErrorEv": "stream error code {Code}",
    "KeepAliveTimeoutEv": "{ErrorCount} keep-alive pings failed",
}

# A connect() error naming one of these is the local session store, not the network.
_NOT_NETWORK_HINTS = ("database", "sqlite", "upgrade", "store")


def describe(ev: Any, template: str) -> str:
    """Format `template` with the event's fields (a protobuf message; enum fields by their value name)."""
    values: dict[str, Any] = {}
    for field in ev.DESCRIPTOR.fields:
        value = getattr(ev, field.name)
        if field.enum_type is not None:
            found = field.enum_type.values_by_number.get(value)
            value = found.name if found is not None else value
        values[field.name] = value
    return template.format(**values)


def connect_failure_reason(error: str) -> str:
    """The DISCONNECTED reason of a failed `connect()`: "connect_failure" when the error names
    the local store (a database or upgrade problem), else "network"."""
    lowered = error.lower()
    return "connect_failure" if any(hint in lowered for hint in _NOT_NETWORK_HINTS) else "network"
