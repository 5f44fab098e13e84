"""A chat-export zip wabridge cannot unpack is refused with a reason a person can act on,
never an unexpected exception (bad input never takes anything down)."""

from __future__ import annotations

import io
import zipfile

import pytest

from bridge.history.export_files import decode_export
from engine.chat_export import ExportError

NAME = "WhatsApp Chat with Sari.txt"
CHAT = "".join(f"1/20/19, 11:{n % 60:02d} PM - Sari: pesanan nomor {n * 7919 % 100003}\n" for n in range(400))


def _zip() -> bytearray:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(NAME, CHAT)
    return bytearray(buffer.getvalue())


def _patch_both_headers(data: bytearray, local: int, central: int, value: int, width: int) -> bytes:
    """Set a field in the local file header and in the central directory entry alike."""
    entry = data.find(b"PK\x01\x02")
    data[local:local + width] = value.to_bytes(width, "little")
    data[entry + central:entry + central + width] = value.to_bytes(width, "little")
    return bytes(data)


def _garble_the_packed_text(data: bytearray) -> bytes:
    """Overwrite the middle of the member's compressed bytes (headers left intact)."""
    start = 30 + len(NAME)  # the local header is 30 bytes, then the name
    size = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(NAME).compress_size
    data[start + size // 4:start + size // 2] = b"\xff" * (size // 2 - size // 4)
    return bytes(data)


def test_a_readable_zip_is_read() -> None:
    assert decode_export(bytes(_zip()), "chat.zip") == CHAT


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda d: _patch_both_headers(d, 8, 10, 99, 2), "zip method 99"),          # unknown compression
    (lambda d: _patch_both_headers(d, 6, 8, d[6] | 1, 1), "password-protected"),  # encrypted flag
    (_garble_the_packed_text, "cannot be unpacked"),                              # damaged data
])
def test_a_zip_it_cannot_unpack_is_refused_with_the_reason(damage, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExportError, match=reason):
        decode_export(damage(_zip()), "chat.zip")
