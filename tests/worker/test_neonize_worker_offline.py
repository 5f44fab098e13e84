"""The real neonize worker, offline (no test ever leaves the loopback interface).

Subprocess tests point the worker's connection at loopback proxies through
WABRIDGE_WORKER_PROXY: a closed port (the dial fails at once, like no network) or a
server that accepts and never answers (the dial hangs, the case where neonize's own
`stop()` hangs too). In-process tests feed real protobuf events through neonize's own
decode/dispatch path (`client.event.execute`, what the Go callback calls) into the
worker's handlers, without any Go connection.
"""

from __future__ import annotations

import ctypes
import io
import os
import queue
import signal
import socket
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message as ProtoMessage
from neonize.events import (
    EVENT_TO_INT,
    ClientOutdatedEv,
    ConnectedEv,
    ConnectFailureEv,
    DisconnectedEv,
    KeepAliveRestoredEv,
    KeepAliveTimeoutEv,
    LoggedOutEv,
    MessageEv,
    PairStatusEv,
    StreamReplacedEv,
    TemporaryBanEv,
)
from neonize.proto.Neonize_pb2 import JID, Device, MessageInfo, MessageSource, Node
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

from bridge.protocol import ExitCode, Frame, PairPhone, SendText, decode
from bridge.worker.neonize_worker import NeonizeWorker

ADMIN = "6281100000001"
CUSTOMER = "6281200000002"
INTRUDER = "6289999999999"
Start = Callable[..., Any]  # the start_worker fixture (conftest.WorkerProc factory)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_proxy() -> Iterator[str]:
    """A loopback server that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in held:
        conn.close()


# ---- subprocess ---------------------------------------------------------------------


def test_no_network_reports_disconnected_and_exits_75(start_worker: Start, tmp_path: Path) -> None:
    db = tmp_path / "sessions" / f"{ADMIN}.sqlite3"
    started = time.monotonic()
    worker = start_worker(
        "neonize", session_db=db, WABRIDGE_WORKER_PROXY=f"socks5://127.0.0.1:{closed_port()}"
    )
    assert worker.next_frame(20).TYPE == "hello"
    assert worker.next_frame().state == "STARTING"
    down = worker.expect_state("DISCONNECTED", timeout=20)
    assert down.reason == "network"
    assert "connection refused" in down.detail
    assert worker.wait_exit(timeout=20) == ExitCode.TEMPFAIL
    assert time.monotonic() - started < 20
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert db.stat().st_size > 0  # neonize created its schema in our 0600 file
    assert [f.TYPE for f in worker.seen] == ["hello", "state", "state"]
    logs = worker.stderr_json()  # every stderr line is a JSON log event
    assert {"connecting", "connect_failed", "worker_exited"} <= {e["event"] for e in logs}
    assert all(e.get("level") != "debug" for e in logs)


def test_stop_while_the_dial_hangs(start_worker: Start, silent_proxy: str) -> None:
    worker = start_worker("neonize", WABRIDGE_WORKER_PROXY=silent_proxy)
    worker.expect_state("STARTING", timeout=20)
    time.sleep(1.0)  # connect() is now stuck in the dial
    worker.send_raw(
        b'{"v":1,"type":"send_text","request_id":"s1","to":"%s","text":"x"}\n' % CUSTOMER.encode()
    )
    failed = worker.expect("send_failed")
    assert (failed.request_id, failed.retryable) == ("s1", True)
    worker.send_raw(b'{"v":1,"type":"pair_phone","request_id":"p1"}\n')
    assert "SCAN_QR" in worker.expect("command_failed").error
    for sim_only in (b"sim_scan", b"sim_crash"):
        worker.send_raw(b'{"v":1,"type":"%s"}\n' % sim_only)
        assert "not supported" in worker.expect("command_failed").error
    worker.send_raw(b'{"v":1,"type":"stop"}\n')
    started = time.monotonic()
    assert worker.wait_exit(timeout=10) == ExitCode.OK
    assert time.monotonic() - started < 6


def test_stdin_eof_while_the_dial_hangs(start_worker: Start, silent_proxy: str) -> None:
    worker = start_worker("neonize", WABRIDGE_WORKER_PROXY=silent_proxy)
    worker.expect_state("STARTING", timeout=20)
    time.sleep(0.5)
    worker.close_stdin()
    started = time.monotonic()
    assert worker.wait_exit(timeout=10) == ExitCode.OK
    assert time.monotonic() - started < 6


def test_logout_without_a_connection_destroys_local_credentials(
    start_worker: Start, silent_proxy: str, tmp_path: Path
) -> None:
    db = tmp_path / "s.sqlite3"
    worker = start_worker("neonize", session_db=db, WABRIDGE_WORKER_PROXY=silent_proxy)
    worker.expect_state("STARTING", timeout=20)
    worker.send_raw(b'{"v":1,"type":"logout"}\n')
    assert worker.expect_state("LOGGED_OUT").reason == "logged_out_by_owner"  # not the phone's doing
    assert worker.wait_exit(timeout=10) == ExitCode.LOGGED_OUT
    # The file was unlinked; a still-starting Go client may have re-created an empty
    # store meanwhile (0600 under the worker's umask), but no device credentials.
    if db.exists():
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        with sqlite3.connect(db) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            if "whatsmeow_device" in tables:
                assert conn.execute("SELECT count(*) FROM whatsmeow_device").fetchone() == (0,)


# ---- in process: real events through neonize's dispatch path --------------------------


def jid(user: str = "", server: str = "s.whatsapp.net", device: int = 0) -> JID:
    return JID(User=user, Server=server, Device=device, RawAgent=0, Integrator=0, IsEmpty=False)


def device(user: str) -> Device:
    return Device(
        JID=jid(user, device=7),
        LID=jid("123456789012345", "lid"),
        Platform="android",
        BussinessName="",
        PushName="CS Budi",
        Initialized=True,
    )


def message_ev(text: str, msg_id: str = "3EB0A1") -> MessageEv:
    customer = jid(CUSTOMER)
    source = MessageSource(
        Chat=customer,
        Sender=jid("123456789012345", "lid"),
        SenderAlt=customer,
        IsFromMe=False,
        IsGroup=False,
        AddressingMode=2,
        RecipientAlt=jid(""),
        BroadcastListOwner=jid(""),
    )
    info = MessageInfo(
        MessageSource=source,
        ID=msg_id,
        ServerID=0,
        Type="text",
        Pushname="Alice",
        Timestamp=int(time.time() * 1000),
        Category="",
        Multicast=False,
        MediaType="",
        Edit="",
    )
    body = Message(conversation=text)
    flags = dict.fromkeys(
        (
            "IsEphemeral",
            "IsViewOnce",
            "IsViewOnceV2",
            "IsViewOnceV2Extension",
            "IsDocumentWithCaption",
            "IsLottieSticker",
            "IsEdit",
        ),
        False,
    )
    return MessageEv(
        Info=info, Message=body, Raw=body, UnavailableRequestID="", RetryCount=0, **flags
    )


class Harness:
    """A NeonizeWorker whose client exists (no Go connection) and whose frames we read."""

    def __init__(self, session_db: Path) -> None:
        read_fd, write_fd = os.pipe()
        self.worker = NeonizeWorker(
            phone=ADMIN,
            session_db=session_db,
            out_fd=write_fd,
            stdin=io.BytesIO(),  # never read: run() is not called
        )
        self.client = self.worker.build_client()
        threading.Thread(target=self.worker._forward, daemon=True).start()  # as run() starts it
        self.frames: queue.Queue[Frame] = queue.Queue()
        threading.Thread(target=self._read, args=(read_fd,), daemon=True).start()

    def _read(self, read_fd: int) -> None:
        with os.fdopen(read_fd, "rb") as pipe:
            for line in pipe:
                self.frames.put(decode(line))

    def dispatch(self, ev: ProtoMessage) -> None:
        wire = ev.SerializeToString()  # raises if a proto2 required field is missing
        buf = ctypes.create_string_buffer(wire, len(wire))
        self.client.event.execute(0, ctypes.addressof(buf), len(wire), EVENT_TO_INT[type(ev)])

    def qr(self, payload: bytes) -> None:
        buf = ctypes.create_string_buffer(payload)
        self.client._NewClient__onQr(0, ctypes.addressof(buf))  # what Go calls

    def frame(self, timeout: float = 5) -> Any:
        return self.frames.get(timeout=timeout)

    def no_frame(self) -> None:
        with pytest.raises(queue.Empty):
            self.frames.get(timeout=0.3)

    @property
    def exit_code(self) -> int | None:
        return self.worker._exit_code if self.worker.exiting else None


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path / "s.sqlite3")


def test_build_client_creates_the_session_file_0600(harness: Harness) -> None:
    assert stat.S_IMODE(harness.worker.session_db.stat().st_mode) == 0o600


def test_qr_codes_become_qr_frames(harness: Harness) -> None:
    harness.qr(b"2@ref,noise,identity,secret")
    assert harness.frame().state == "SCAN_QR"
    first = harness.frame()
    assert (first.TYPE, first.seq, first.code) == ("qr", 1, "2@ref,noise,identity,secret")
    harness.qr(b"2@ref2,noise,identity,secret")
    second = harness.frame()
    assert second.seq == 2
    lifetime = time.mktime(time.strptime(second.expires_at[:19], "%Y-%m-%dT%H:%M:%S")) - (
        time.mktime(time.strptime(second.issued_at[:19], "%Y-%m-%dT%H:%M:%S"))
    )
    assert lifetime == 20
    harness.worker._cancel_qr_timer()


def test_the_message_handler_journals_and_returns_without_waiting_for_the_daemon(harness: Harness) -> None:
    harness.dispatch(device(ADMIN))  # the Device event sets client.me
    harness.dispatch(
        PairStatusEv(
            ID=jid(ADMIN, device=7), BusinessName="", Platform="android", Status=2, Error=""
        )
    )
    paired = harness.frame()
    assert (paired.TYPE, paired.phone, paired.lid) == ("paired", ADMIN, "123456789012345@lid")
    harness.dispatch(ConnectedEv(status=True))
    connected = harness.frame()
    assert (connected.TYPE, connected.jid, connected.push_name) == (
        "connected",
        f"{ADMIN}@s.whatsapp.net",
        "CS Budi",
    )
    assert harness.frame().state == "CONNECTED"

    harness.dispatch(message_ev("halo"))  # returns at once: no daemon round trip
    journal = harness.worker.journal
    assert journal.pending == 1 and b'"text":"halo"' in journal.path.read_bytes()
    frame = harness.frame()
    assert frame.TYPE == "message" and frame.seq == 1
    assert frame.message["sender"] == f"{CUSTOMER}@s.whatsapp.net"
    assert frame.message["sender_lid"] == "123456789012345@lid"
    harness.worker._on_ack(1)  # committed by the daemon: gone from the journal
    assert journal.pending == 0 and journal.path.read_bytes() == b""


def test_wrong_number_pairing_is_logged_out_and_never_delivers(harness: Harness) -> None:
    harness.dispatch(
        PairStatusEv(ID=jid(INTRUDER, device=3), BusinessName="", Platform="", Status=2, Error="")
    )
    paired = harness.frame()
    assert (paired.TYPE, paired.phone, paired.jid) == (
        "paired",
        INTRUDER,
        f"{INTRUDER}@s.whatsapp.net",
    )
    harness.dispatch(device(INTRUDER))
    harness.dispatch(ConnectedEv(status=True))
    harness.dispatch(message_ev("from the wrong account"))
    harness.no_frame()  # neither `connected` nor a message
    job = harness.worker._jobs.get_nowait()  # the logout queued for the command thread
    assert callable(job)
    job()  # logout without a registered Go client fails -> credentials wiped instead
    failed = harness.frame()
    assert (failed.state, failed.reason) == ("FAILED", "wrong_number")
    assert INTRUDER in failed.detail and ADMIN in failed.detail
    assert harness.exit_code == ExitCode.WRONG_NUMBER
    assert not harness.worker.session_db.exists()


@pytest.mark.parametrize(
    ("event", "state", "reason", "detail", "code"),
    [
        (LoggedOutEv(OnConnect=True, Reason=4), "LOGGED_OUT", "logged_out", "MAIN_DEVICE_GONE", 4),
        (StreamReplacedEv(), "FAILED", "stream_replaced", "somewhere else", 5),
        (
            TemporaryBanEv(Code=1, Expire=3600),
            "FAILED",
            "temporary_ban",
            "SEND_TO_TOO_MANY_PEOPLE; expires in 3600 s",
            6,
        ),
        (ClientOutdatedEv(), "FAILED", "client_outdated", "upgrade neonize", 6),
        (
            ConnectFailureEv(Reason=7, Message="bad ua", Raw=Node(Tag="failure")),
            "DISCONNECTED",
            "connect_failure",
            "BAD_USER_AGENT: bad ua",
            75,
        ),
        (DisconnectedEv(status=True), "DISCONNECTED", "network", "reconnects", None),
        (
            KeepAliveTimeoutEv(ErrorCount=3, LastSuccess=0),
            "DISCONNECTED",
            "keepalive_timeout",
            "3 keep-alive",
            None,
        ),
    ],
)
def test_connection_events_map_to_states_and_exit_codes(
    harness: Harness,
    event: ProtoMessage,
    state: str,
    reason: str,
    detail: str,
    code: int | None,
) -> None:
    harness.dispatch(event)
    frame = harness.frame()
    assert (frame.state, frame.reason) == (state, reason)
    assert detail in frame.detail
    assert harness.exit_code == code


def test_keepalive_restored_reports_connected_again(harness: Harness) -> None:
    harness.dispatch(device(ADMIN))
    harness.dispatch(ConnectedEv(status=True))
    assert harness.frame().TYPE == "connected"
    assert harness.frame().state == "CONNECTED"
    harness.dispatch(KeepAliveTimeoutEv(ErrorCount=1, LastSuccess=0))
    assert harness.frame().reason == "keepalive_timeout"
    harness.dispatch(KeepAliveRestoredEv())
    assert harness.frame().state == "CONNECTED"


def test_a_failing_handler_never_escapes_into_neonize(harness: Harness) -> None:
    harness.dispatch(device(ADMIN))
    harness.dispatch(ConnectedEv(status=True))
    harness.frame(), harness.frame()
    broken = message_ev("x", msg_id="")  # no id: the normaliser refuses it
    harness.dispatch(broken)  # no raise into neonize: the daemon is told, so it stays visible
    frame = harness.frame()
    assert frame.TYPE == "unreadable" and frame.reference == "unknown"
    assert frame.reason.startswith("unreadable WhatsApp message: MessageFormatError: id:")
    assert 'conversation: "x"' in frame.excerpt
    harness.no_frame()


def test_pair_phone_and_send_errors_become_answers(harness: Harness) -> None:
    # PairPhone and send_message are nil-safe without a Go client (notes §2.6): the
    # worker's bounded call turns their errors into protocol answers.
    harness.qr(b"2@ref,noise,identity,secret")
    assert harness.frame().state == "SCAN_QR" and harness.frame().TYPE == "qr"
    harness.worker._pair_phone(PairPhone(request_id="p1"))
    failed = harness.frame()
    assert (failed.TYPE, failed.request_id) == ("command_failed", "p1")
    assert "PairPhoneError" in failed.error
    harness.worker._cancel_qr_timer()
    harness.dispatch(device(ADMIN))
    harness.dispatch(ConnectedEv(status=True))
    assert [harness.frame().TYPE, harness.frame().TYPE] == ["connected", "state"]
    harness.worker._pair_phone(PairPhone(request_id="p2"))
    assert harness.frame().error == "already paired"
    harness.worker._send_text(SendText(request_id="s1", to=CUSTOMER, text="halo"))
    send_failed = harness.frame()
    assert (send_failed.TYPE, send_failed.retryable) == ("send_failed", True)


def test_sigterm_is_a_clean_stop(start_worker: Start, silent_proxy: str) -> None:
    worker = start_worker("neonize", WABRIDGE_WORKER_PROXY=silent_proxy)
    worker.expect_state("STARTING", timeout=20)
    time.sleep(0.5)
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.wait_exit(timeout=10) == ExitCode.OK
