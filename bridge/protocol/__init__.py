"""The versioned line protocol between the daemon and its session workers.

Why a protocol at all: neonize can abort the whole Python process (neonize-notes §7),
so every WhatsApp admin number runs in its own worker process and the daemon never
imports neonize. Daemon and worker exchange one JSON object per line (UTF-8, ``\\n``
terminated): the worker writes to its stdout, the daemon to the worker's stdin.

Every frame is ``{"v": 1, "type": <name>, <fields>...}``. The parts, each its own module:
- `frames`: the vocabulary (states, reasons, worker kinds) and the frame registry
  (`FRAMES`), one frozen dataclass per frame type; `WORKER_FRAMES` / `DAEMON_FRAMES`
  say who may send which type.
- `codec`: `encode` / `decode` of one frame line, with the field checks that make a bad
  line a `ProtocolError` naming the problem.
- `framing`: the size limit (`MAX_FRAME_BYTES`) and `LineSplitter`, which cuts the
  daemon's byte stream into lines and skips an oversized one.
- `exit_codes`: `ExitCode`, how a worker process ends (the supervisor's restart policy).
Callers import every name from `bridge.protocol` itself; the parts are its layout.

Commands that carry a `request_id` are answered with it (`pair_code`, `sent`,
`send_failed`, `command_failed`); any string or integer works. `logout`, `sim_scan`
and `sim_message` accept an optional `request_id` too, so a failure can be matched to
its request; without one, `command_failed.request_id` is null.

Ordering promises (both workers keep them):
- `hello` is always the first frame, then `state STARTING`.
- on pairing: `paired`, then `connected`, then `state CONNECTED`;
  on resume of a stored session: `connected`, then `state CONNECTED`.
- `pair_code` is sent before `state PAIRING_CODE`.
- `message` frames come in journal order, without waiting for acks; the daemon acks each
  seq after its inbox commit (or its deliberate refusal), and a worker restarted after a
  crash sends its unacked journal entries again (seq numbers are per worker process).
- `history` frames (the phone's history sync, from the worker's spool) share the seq
  numbers and are acked the same way, once the daemon committed them; the next `history`
  frame waits for that ack. `message` frames may come in between: live goes first.

Pure stdlib: the daemon imports this package, so it must never import neonize.
"""

from bridge.protocol.codec import ProtocolError, decode, encode, frame_to_dict
from bridge.protocol.exit_codes import ExitCode
from bridge.protocol.frames import (
    DAEMON,
    DAEMON_FRAMES,
    FRAMES,
    HISTORY_SYNC_TYPES,
    PROTOCOL_VERSION,
    REASONS,
    STATES,
    WORKER,
    WORKER_FRAMES,
    WORKER_KINDS,
    Ack,
    CommandFailed,
    Connected,
    Frame,
    Hello,
    HistoryFrame,
    Logout,
    MessageFrame,
    PairCode,
    Paired,
    PairPhone,
    Qr,
    RequestId,
    SendFailed,
    SendText,
    Sent,
    SimCrash,
    SimHistory,
    SimInbox,
    SimMessage,
    SimReceived,
    SimScan,
    State,
    Stop,
    Unreadable,
    clean_push_name,
)
from bridge.protocol.framing import MAX_FRAME_BYTES, LineSplitter, OversizedFrame

__all__ = [
    "DAEMON",
    "DAEMON_FRAMES",
    "FRAMES",
    "HISTORY_SYNC_TYPES",
    "MAX_FRAME_BYTES",
    "PROTOCOL_VERSION",
    "REASONS",
    "STATES",
    "WORKER",
    "WORKER_FRAMES",
    "WORKER_KINDS",
    "Ack",
    "CommandFailed",
    "Connected",
    "ExitCode",
    "Frame",
    "Hello",
    "HistoryFrame",
    "clean_push_name",
    "LineSplitter",
    "Logout",
    "MessageFrame",
    "OversizedFrame",
    "PairCode",
    "PairPhone",
    "Paired",
    "ProtocolError",
    "Qr",
    "RequestId",
    "SendFailed",
    "SendText",
    "Sent",
    "SimCrash",
    "SimHistory",
    "SimInbox",
    "SimMessage",
    "SimReceived",
    "SimScan",
    "State",
    "Stop",
    "Unreadable",
    "decode",
    "encode",
    "frame_to_dict",
]
