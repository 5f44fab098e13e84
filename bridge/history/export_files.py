"""Reading a WhatsApp "Export chat" file: the `.txt`, or the `.zip` WhatsApp makes (text + media).

Limits (clear refusals, never a crash): a `.txt` of at most 20 MB; a `.zip` of at most
300 MB whose chat text is at most 20 MB once unpacked (checked before unpacking, and read
with that cap, so a zip bomb stops at the limit); UTF-8 text (WhatsApp writes UTF-8).
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

from engine.chat_export import ExportError

MAX_TEXT_BYTES = 20 * 1024 * 1024
MAX_ZIP_BYTES = 300 * 1024 * 1024
_ENCRYPTED = 0x1  # general-purpose flag bit 0
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
_PREFERRED = ("_chat.txt",)  # the iOS name; Android writes "WhatsApp Chat with NAME.txt"


def decode_export(data: bytes, filename: str) -> str:
    """The chat text of an export's bytes (`.zip` or text), or `ExportError` saying why not."""
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".zip"):
        return _from_zip(data)
    if len(data) > MAX_TEXT_BYTES:
        raise ExportError(f"{filename}: {len(data):,} bytes; a chat export text may have at most "
                          f"{MAX_TEXT_BYTES:,}")
    return _decode(data, filename)


def read_export_file(path: Path) -> str:
    """Read an export file from disk with the same limits."""
    size = path.stat().st_size
    limit = MAX_ZIP_BYTES if path.suffix.lower() == ".zip" else MAX_TEXT_BYTES
    if size > limit:
        raise ExportError(f"{path.name}: {size:,} bytes; the limit is {limit:,}")
    return decode_export(path.read_bytes(), path.name)


def _from_zip(data: bytes) -> str:
    if len(data) > MAX_ZIP_BYTES:
        raise ExportError(f"the zip has {len(data):,} bytes; the limit is {MAX_ZIP_BYTES:,}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ExportError("not a readable zip file") from None
    with archive:
        texts = [i for i in archive.infolist() if i.filename.lower().endswith(".txt") and not i.is_dir()]
        if not texts:
            raise ExportError("the zip holds no .txt chat file (WhatsApp puts one next to the media)")
        texts.sort(key=lambda i: (Path(i.filename).name not in _PREFERRED,
                                  not Path(i.filename).name.lower().startswith("whatsapp")))
        member = texts[0]
        if member.file_size > MAX_TEXT_BYTES:
            raise ExportError(f"{member.filename}: {member.file_size:,} bytes unpacked; the limit is "
                              f"{MAX_TEXT_BYTES:,}")
        # Decided before opening: zipfile refuses these only once it reads the member.
        if member.flag_bits & _ENCRYPTED:
            raise ExportError(f"{member.filename}: the zip is password-protected; export the chat again")
        if member.compress_type not in _METHODS:
            raise ExportError(f"{member.filename}: packed with zip method {member.compress_type}, which "
                              "wabridge cannot unpack (WhatsApp uses deflate)")
        try:
            with archive.open(member) as handle:
                raw = handle.read(MAX_TEXT_BYTES + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # damaged data
            raise ExportError(f"{member.filename}: cannot be unpacked ({exc})") from None
        if len(raw) > MAX_TEXT_BYTES:
            raise ExportError(f"{member.filename}: more than {MAX_TEXT_BYTES:,} bytes unpacked")
        return _decode(raw, member.filename)


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExportError(f"{name}: not UTF-8 text (byte {exc.start}); WhatsApp exports are UTF-8 — "
                          "was the file re-saved in another encoding?") from None
