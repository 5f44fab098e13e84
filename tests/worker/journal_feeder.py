"""A real neonize worker process whose WhatsApp side is replaced by a feeder: it dispatches
`FEED_TOTAL` real MessageEv protobufs through neonize's own decode path into the worker's
handler, the way neonize's event thread calls it, and records each message whose handler
returned (`<sessions>/returned.log`). Started by tests/worker/test_journal_sigkill.py as the
supervisor's worker program; killed with SIGKILL at random moments, it resumes where the
record ends.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from neonize.events import EVENT_TO_INT, ConnectedEv  # noqa: E402

from bridge.worker.__main__ import claim_stdout, configure_logging, parse_args  # noqa: E402
from bridge.worker.neonize_worker import NeonizeWorker  # noqa: E402
from tests.worker.test_neonize_worker_offline import device, message_ev  # noqa: E402


class FeedingWorker(NeonizeWorker):
    """The neonize worker with a feeder where the Go connection would be."""

    def start(self) -> None:
        self._client = self.build_client()
        threading.Thread(target=self._feed, name="feeder", daemon=True).start()

    def _dispatch(self, ev: object) -> None:
        wire = ev.SerializeToString()  # type: ignore[attr-defined]
        buf = ctypes.create_string_buffer(wire, len(wire))
        assert self._client is not None
        self._client.event.execute(0, ctypes.addressof(buf), len(wire), EVENT_TO_INT[type(ev)])

    def _feed(self) -> None:
        self._dispatch(device(self.phone))
        self._dispatch(ConnectedEv(status=True))
        record = self.session_db.parent / "returned.log"
        done = len(record.read_bytes().splitlines()) if record.exists() else 0
        fd = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        for index in range(done, int(os.environ["FEED_TOTAL"])):
            message_id = f"FEED{index:05d}"
            self._dispatch(message_ev(f"pesan ke-{index}", msg_id=message_id))
            os.write(fd, f"{message_id}\n".encode())  # the handler returned


if __name__ == "__main__":
    args = parse_args(sys.argv[1:])
    configure_logging(args.log_level, worker="feeder", phone=args.phone)
    FeedingWorker(phone=args.phone, session_db=args.session_db, out_fd=claim_stdout(),
                  stdin=sys.stdin.buffer).run()
