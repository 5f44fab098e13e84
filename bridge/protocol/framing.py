"""Frame size and line splitting: how the daemon reads a worker's stdout safely.

A frame is at most `MAX_FRAME_BYTES` (1 MiB, newline included). The largest text a
WhatsApp user can send (65,536 characters, `engine.model.MAX_TEXT_CHARS`; longer texts are
truncated and marked `text_truncated`) is at most ~390 KB as escaped JSON, so every message
fits. `encode` refuses a bigger frame; `LineSplitter` lets the daemon skip one (logged and
counted) and go on reading, instead of losing the session's reader to it.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_FRAME_BYTES = 1 << 20  # one frame, newline included


@dataclass(frozen=True, slots=True)
class OversizedFrame:
    """A line longer than the frame limit, skipped by `LineSplitter` (its size in bytes)."""

    size: int


class LineSplitter:
    """Split a byte stream into frame lines, never holding more than `limit` bytes.

    A line over the limit is dropped as it streams past and reported once as an
    `OversizedFrame`, so one bad frame costs that frame, not the reader.
    """

    def __init__(self, limit: int = MAX_FRAME_BYTES) -> None:
        self.limit = limit
        self._buffer = bytearray()
        self._skipped = 0  # bytes of an oversized line dropped so far (0: not skipping)

    def feed(self, data: bytes) -> list[bytes | OversizedFrame]:
        """Add bytes; return the complete lines (newline included) and oversized markers."""
        out: list[bytes | OversizedFrame] = []
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            piece = data[start:] if end < 0 else data[start:end + 1]
            start += len(piece)
            if self._skipped:
                self._skipped += len(piece)
                if end >= 0:
                    out.append(OversizedFrame(self._skipped))
                    self._skipped = 0
                continue
            self._buffer += piece
            if end >= 0:
                if len(self._buffer) > self.limit:
                    out.append(OversizedFrame(len(self._buffer)))
                else:
                    out.append(bytes(self._buffer))
                self._buffer.clear()
            elif len(self._buffer) > self.limit:
                self._skipped = len(self._buffer)
                self._buffer.clear()
        return out
