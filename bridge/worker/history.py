"""The phone's history sync (neonize `HistorySyncEv`) in the worker: normalise, spool, send.

When a phone is linked, WhatsApp sends what the phone decides to share (whatsmeow's
`events.HistorySync`: an INITIAL_BOOTSTRAP blob, then RECENT/FULL chunks, PUSH_NAME lists,
ON_DEMAND answers). Each blob holds conversations (chat JID, its phone/LID JIDs, messages as
`WebMessageInfo`: key {remoteJID, fromMe, ID, participant}, the E2E message, timestamp in
seconds, push name), push names and LID→phone mappings.

- `normalise_history_sync` turns a blob into normalised messages marked `history`, through
  the same `normalise_message_event` as live messages (a light `MessageEv` look-alike per
  `WebMessageInfo`), so types, texts and phone-number JIDs are decided once. Group chats,
  status broadcasts and newsletters are skipped as they are live; a LID chat takes its
  phone from the conversation, the blob's mappings or neonize's LID map, else stays a LID.
- `HistorySpool` keeps each blob's messages in a 0600 file beside the session database
  before the neonize handler returns (whatsmeow then sends the phone its "hist_sync"
  receipt), so a large sync never holds the handler — and live messages behind it — while
  the daemon stores it, and a worker restart loses nothing: the next process sends what
  the spool still holds. A file is deleted only after the daemon acked all of it; a resend
  is harmless, the inbox drops message ids it has (nothing is counted twice).

Never imports neonize (duck typing, like `normalise`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from bridge.errors import OUT_OF_RESOURCES
from bridge.protocol import HISTORY_SYNC_TYPES, Frame, HistoryFrame, clean_push_name
from bridge.worker.normalise import GROUP_SERVER, LID_SERVER, PN_SERVER, PnResolver, safe_normalise

log = structlog.get_logger("bridge.worker.history")

_WITH_CHATS = frozenset({0, 2, 3, 6})  # status updates, push names and settings carry no chats
_SKIPPED_SERVERS = frozenset({GROUP_SERVER, "broadcast", "newsletter"})
FRAME_MESSAGES = 500  # messages per `history` frame: the daemon stores one frame per transaction
FRAME_BYTES = 512 * 1024  # and at most this much JSON (the protocol's frames stop at 1 MiB)
RETRY_S = 5.0  # a chunk the daemon did not ack is sent again after this
NAME_LINE = "push_name"  # the key that marks a spool line as a contact's name, not a message


@dataclass(frozen=True, slots=True)
class _Jid:
    User: str
    Server: str


@dataclass(frozen=True, slots=True)
class _Source:
    Chat: _Jid | None
    Sender: _Jid | None
    SenderAlt: _Jid | None
    RecipientAlt: _Jid | None
    IsFromMe: bool
    IsGroup: bool = False


@dataclass(frozen=True, slots=True)
class _Info:
    MessageSource: _Source
    ID: str
    Pushname: str
    Timestamp: int  # milliseconds, as MessageEv's
    Edit: str = ""


@dataclass(frozen=True, slots=True)
class _Event:
    """What `normalise_message_event` reads of a MessageEv, built from a WebMessageInfo."""

    Info: _Info
    Message: Any
    IsEdit: bool = False


@dataclass(frozen=True, slots=True)
class HistoryChunk:
    """One history blob, normalised."""

    sync_type: str
    chunk_order: int
    progress: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0  # group/status chats' messages, system stubs, unreadable messages
    # (phone JID, push name) of the blob's contacts: a PUSH_NAME blob holds only these, and the
    # daemon gives each name to a lead of that phone that has none yet.
    names: list[tuple[str, str]] = field(default_factory=list)


def _jid(text: str) -> _Jid | None:
    if not text or "@" not in text:
        return None
    user, _, server = text.rpartition("@")
    return _Jid(user.split(":", 1)[0], server)


def _server(text: str) -> str:
    return text.rpartition("@")[2] if "@" in text else ""


def normalise_history_sync(data: Any, *, session: str, resolve_pn: PnResolver | None = None) -> HistoryChunk:
    """The normalised messages of one `HistorySync` blob (`HistorySyncEv.Data`)."""
    sync = int(getattr(data, "syncType", 0))
    chunk = HistoryChunk(HISTORY_SYNC_TYPES.get(sync, str(sync)), int(getattr(data, "chunkOrder", 0)),
                         int(getattr(data, "progress", 0)))
    lid_to_pn = {m.lidJID: m.pnJID for m in data.phoneNumberToLidMappings if m.lidJID and m.pnJID}
    names = {p.ID: p.pushname for p in data.pushnames if p.ID and p.pushname}

    def resolve(lid: str) -> str | None:
        found = lid_to_pn.get(lid)
        if found:
            return found
        return resolve_pn(lid) if resolve_pn is not None else None

    chunk.names.extend(_phone_names(names, resolve))
    if sync not in _WITH_CHATS:
        return chunk

    own = _Jid(session, PN_SERVER)
    skipped = 0
    for conversation in data.conversations:
        chat = str(conversation.ID)
        if _server(chat) in _SKIPPED_SERVERS or not chat:
            skipped += len(conversation.messages)
            continue
        pn = conversation.pnJID or (resolve(chat) if _server(chat) == LID_SERVER else "")
        alt = _jid(pn) if pn and _server(pn) == PN_SERVER else None
        for item in conversation.messages:
            web = item.message
            from_me = bool(web.key.fromMe)
            source = _Source(Chat=_jid(chat), Sender=own if from_me else _jid(chat),
                             SenderAlt=None if from_me else alt, RecipientAlt=alt if from_me else None,
                             IsFromMe=from_me)
            event = _Event(_Info(source, str(web.key.ID), str(web.pushName),
                                 int(web.messageTimestamp) * 1000), web.message)
            message = safe_normalise(event, session=session, resolve_pn=resolve) if web.key.ID else None
            if message is None:
                skipped += 1
                continue
            message["history"] = True
            if not message["from_me"] and not message.get("sender_name"):
                message["sender_name"] = names.get(message["sender"]) or names.get(chat) or None
            chunk.messages.append(message)
    return HistoryChunk(chunk.sync_type, chunk.chunk_order, chunk.progress, chunk.messages, skipped, chunk.names)


def _phone_names(names: dict[str, str], resolve: Callable[[str], str | None]) -> list[tuple[str, str]]:
    """The push names of phone numbers (a LID's through the blob's mappings or the LID map);
    groups, broadcasts and LIDs nothing resolves are left out (bridge.protocol.clean_push_name)."""
    out: dict[str, str] = {}
    for jid, name in names.items():
        server = _server(jid)
        phone_jid = jid if server == PN_SERVER else resolve(jid) if server == LID_SERVER else None
        found = _jid(phone_jid or "")
        text = clean_push_name(name)
        if found is not None and found.Server == PN_SERVER and found.User.isdigit() and text:
            out[f"{found.User}@{PN_SERVER}"] = text  # the device part dropped
    return sorted(out.items())


class HistorySpool:
    """Blobs waiting for the daemon, one JSON Lines file each (header line, then messages)."""

    def __init__(self, session_db: Path) -> None:
        self.folder = session_db.with_name(session_db.name + ".history")

    def write(self, chunk: HistoryChunk) -> Path:
        """Durably store a chunk (written, fsynced, renamed into place); returns its file."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}.jsonl"
        temporary = self.folder / f".{name}.tmp"
        header = {"sync_type": chunk.sync_type, "chunk_order": chunk.chunk_order, "progress": chunk.progress,
                  "skipped": chunk.skipped, "messages": len(chunk.messages), "names": len(chunk.names)}
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(header) + "\n")
            for message in chunk.messages:
                handle.write(json.dumps(message, ensure_ascii=False) + "\n")
            for jid, push_name in chunk.names:  # a line of its own each: frames are cut by lines
                handle.write(json.dumps({NAME_LINE: push_name, "jid": jid}, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        final = self.folder / name
        os.replace(temporary, final)
        directory = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return final

    def pending(self) -> list[Path]:
        """Spooled files, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.glob("*.jsonl") if not p.name.startswith("."))

    @staticmethod
    def read(path: Path) -> tuple[dict[str, Any], Iterator[list[dict[str, Any]]]]:
        """A file's header and its messages in frame-sized slices."""
        lines = path.read_text(encoding="utf-8").splitlines()
        header: dict[str, Any] = json.loads(lines[0]) if lines else {}

        def slices() -> Iterator[list[dict[str, Any]]]:
            batch: list[dict[str, Any]] = []
            size = 0
            for line in lines[1:]:
                if not line.strip():
                    continue
                if batch and (len(batch) >= FRAME_MESSAGES or size + len(line) > FRAME_BYTES):
                    yield batch
                    batch, size = [], 0
                batch.append(json.loads(line))
                size += len(line) + 2
            if batch:
                yield batch

        return header, slices()

    def wipe(self) -> None:
        """Forget everything spooled (the session's credentials are being destroyed)."""
        for path in self.folder.glob("*") if self.folder.is_dir() else ():
            path.unlink(missing_ok=True)


class HistorySender:
    """Sends the spool to the daemon: a frame, its ack, the next; a file goes once all of it is acked.

    Runs on its own thread, so neither the neonize handler nor live messages wait for it.
    """

    def __init__(self, spool: HistorySpool, emit_and_wait: Callable[[Callable[[int], Frame]], bool],
                 ready: Callable[[], bool], exiting: Callable[[], bool]) -> None:
        self.spool = spool
        self._emit_and_wait = emit_and_wait
        self._ready = ready
        self._exiting = exiting
        self._wake = threading.Event()

    def start(self) -> None:
        """Start sending (whatever a previous process left in the spool goes first)."""
        self._wake.set()
        threading.Thread(target=self._run, name="history-sender", daemon=True).start()

    def wake(self) -> None:
        """A new chunk was spooled."""
        self._wake.set()

    def _run(self) -> None:
        while not self._exiting():
            self._wake.wait(RETRY_S)
            self._wake.clear()
            if not self._ready():
                continue
            try:
                pending = self.spool.pending()
            except OSError as exc:  # out of descriptors, say: the thread must outlive it
                log.warning("history_spool_unlistable", error=str(exc)[:200])
                continue
            for path in pending:
                if self._exiting() or not self._send_file(path):
                    break

    def _send_file(self, path: Path) -> bool:
        try:
            header, slices = self.spool.read(path)
            sync_type, progress = str(header.get("sync_type", "")), int(header.get("progress", 0))
            sent = 0
            for batch in slices:
                frame_of = self._frame_maker(sync_type, progress, batch)
                if not self._emit_and_wait(frame_of):
                    log.info("history_chunk_unacked", file=path.name, sent=sent)
                    return False
                sent += len(batch)
        except (OSError, ValueError) as exc:  # a damaged spool file must not block the rest
            # The machine's failure, not the file's: tried again later, never set aside as damaged.
            if isinstance(exc, OSError) and exc.errno in OUT_OF_RESOURCES:
                log.warning("history_spool_unopenable", file=path.name, error=str(exc)[:200])
                return False  # the file is fine: sent on a later round
            log.warning("history_spool_unreadable", file=path.name, error=str(exc)[:200])
            path.rename(path.with_name(path.name + ".bad"))
            return True
        path.unlink(missing_ok=True)
        log.info("history_chunk_sent", sync_type=sync_type, messages=sent)
        return True

    @staticmethod
    def _frame_maker(sync_type: str, progress: int, batch: list[dict[str, Any]]) -> Callable[[int], Frame]:
        messages = [line for line in batch if NAME_LINE not in line]
        # The daemon drops a pair that is not [phone JID, name] (bridge.history.sync.push_names).
        names = [[str(line.get("jid", "")), str(line[NAME_LINE])] for line in batch if NAME_LINE in line]
        return lambda seq: HistoryFrame(seq=seq, sync_type=sync_type, messages=messages, progress=progress,
                                        names=names)
