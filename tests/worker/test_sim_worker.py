"""The simulator worker as a real subprocess, spoken to over its pipes."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bridge.protocol import (
    Ack,
    Logout,
    PairPhone,
    SendText,
    SimCrash,
    SimMessage,
    SimScan,
    Stop,
)
from engine.model import parse_message

ADMIN = "6281100000001"  # the worker's --phone (conftest's default)
CUSTOMER = "6281200000002"

FAST_QR = {"WABRIDGE_SIM_QR_SECONDS": "2,1"}
QR_SHAPE = re.compile(r"^2@[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+$")

Start = Callable[..., Any]  # the start_worker fixture (conftest.WorkerProc factory)


def paired_worker(start_worker: Start, session_db: Path | None = None, **env: str) -> Any:
    worker = start_worker("sim", session_db, **env)
    worker.expect_state("SCAN_QR")
    worker.send(SimScan())
    worker.expect_state("CONNECTED")
    return worker


def test_unpaired_worker_rotates_qr_codes_then_reports_exhaustion(start_worker: Start) -> None:
    worker = start_worker(**FAST_QR)
    hello = worker.next_frame()
    assert hello.TYPE == "hello"
    assert (hello.worker, hello.phone) == ("sim", ADMIN)
    assert worker.next_frame().state == "STARTING"
    worker.expect_state("SCAN_QR")
    codes = [worker.expect("qr", timeout=5) for _ in range(6)]
    assert [qr.seq for qr in codes] == [1, 2, 3, 4, 5, 6]
    lifetimes = [
        (
            datetime.fromisoformat(qr.expires_at) - datetime.fromisoformat(qr.issued_at)
        ).total_seconds()
        for qr in codes
    ]
    assert lifetimes == [2, 1, 1, 1, 1, 1]
    assert all(QR_SHAPE.match(qr.code) for qr in codes)
    assert len({qr.code for qr in codes}) == 6
    failed = worker.expect_state("FAILED", timeout=5)
    assert failed.reason == "qr_exhausted"
    # Still alive, still answering; the daemon decides to restart it.
    worker.send(SendText(request_id="r1", to=CUSTOMER, text="hi"))
    answer = worker.expect("send_failed")
    assert answer.retryable is True
    worker.send(SimScan(request_id="scan-late"))
    assert worker.expect("command_failed").request_id == "scan-late"
    worker.send(Stop())
    assert worker.wait_exit() == 0
    # QR payloads are secrets: never in the logs.
    stderr = b"".join(worker.stderr_lines)
    assert all(qr.code.encode() not in stderr for qr in codes)
    assert {entry["event"] for entry in worker.stderr_json()} >= {"qr_issued", "state_changed"}


def test_session_file_is_created_private(start_worker: Start, tmp_path: Path) -> None:
    db = tmp_path / "new-dir" / "s.sqlite3"
    worker = start_worker(session_db=db)
    worker.expect_state("SCAN_QR")
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    worker.close_stdin()
    assert worker.wait_exit() == 0


def test_existing_session_file_is_tightened_to_0600(start_worker: Start, tmp_path: Path) -> None:
    db = tmp_path / "loose.sqlite3"
    db.touch(mode=0o644)
    db.chmod(0o644)
    worker = start_worker(session_db=db)
    worker.expect_state("SCAN_QR")
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    worker.send(Stop())
    assert worker.wait_exit() == 0


def test_scan_pairs_and_pairing_survives_a_crash(start_worker: Start, tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    worker = start_worker(session_db=db)
    worker.expect_state("SCAN_QR")
    worker.send(SimScan())
    paired = worker.expect("paired")
    assert paired.phone == ADMIN
    assert paired.jid == f"{ADMIN}@s.whatsapp.net"
    assert paired.lid.endswith("@lid")
    connected = worker.expect("connected")
    assert connected.jid == f"{ADMIN}@s.whatsapp.net"
    worker.expect_state("CONNECTED")
    worker.send(SimCrash())
    assert worker.wait_exit() == 134

    again = start_worker(session_db=db)
    assert again.expect("connected").jid == f"{ADMIN}@s.whatsapp.net"
    again.expect_state("CONNECTED")
    assert not any(frame.TYPE == "qr" for frame in again.seen)
    again.send(Stop())
    assert again.wait_exit() == 0


def test_pair_with_phone_code(start_worker: Start) -> None:
    worker = start_worker()
    worker.expect_state("SCAN_QR")
    worker.send(PairPhone(request_id="p1"))
    code = worker.expect("pair_code")
    assert code.request_id == "p1"
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code.code)
    worker.expect_state("PAIRING_CODE")
    worker.send(SimScan())
    worker.expect_state("CONNECTED")
    worker.send(PairPhone(request_id="p2"))
    refused = worker.expect("command_failed")
    assert (refused.request_id, refused.error) == ("p2", "already paired")
    worker.send(Stop())
    assert worker.wait_exit() == 0


def test_wrong_number_is_reported_never_used_and_not_kept(
    start_worker: Start, tmp_path: Path
) -> None:
    db = tmp_path / "s.sqlite3"
    worker = start_worker(session_db=db)
    worker.expect_state("SCAN_QR")
    worker.send(SimScan(as_="6289999999999"))
    worker.send(SimMessage(message={"sender": CUSTOMER, "text": "must never arrive"}))
    paired = worker.expect("paired")
    assert paired.phone == "6289999999999"
    failed = worker.expect_state("FAILED")
    assert failed.reason == "wrong_number"
    assert "6289999999999" in failed.detail
    assert worker.wait_exit() == 3
    assert not any(frame.TYPE in ("message", "connected") for frame in worker.seen)
    while not worker.frames.empty():
        assert worker.next_frame().TYPE != "message"

    again = start_worker(session_db=db)
    again.expect_state("SCAN_QR")
    again.send(Stop())
    assert again.wait_exit() == 0


def test_injected_messages_are_sent_without_waiting_and_unacked_ones_come_back(
        start_worker: Start, tmp_path: Path) -> None:
    session_db = tmp_path / "journaled.sqlite3"
    worker = paired_worker(start_worker, session_db)
    worker.send(SimMessage(message={"sender": CUSTOMER, "text": "first"}))
    worker.send(SimMessage(message={"sender": CUSTOMER, "text": "second", "sender_name": "Alice"}))
    first = worker.expect("message")
    assert first.seq == 1
    message = first.message
    assert parse_message(message).to_dict() == message
    assert message["chat"] == message["sender"] == f"{CUSTOMER}@s.whatsapp.net"
    assert (message["session"], message["channel_id"]) == (ADMIN, ADMIN)
    assert (message["from_me"], message["type"], message["text"]) == (False, "text", "first")
    assert re.fullmatch(r"SIM[0-9A-F]{20}", message["id"])
    assert datetime.fromisoformat(message["timestamp"]).utcoffset() is not None
    second = worker.expect("message")  # journaled and sent at once, no ack awaited
    assert second.seq == 2
    assert second.message["chat"] == second.message["sender"]
    assert second.message["sender_name"] == "Alice"
    worker.send(Ack(seq=1))  # only the first one reached the inbox
    worker.send(Stop())
    assert worker.wait_exit() == 0
    assert b"first" not in b"".join(worker.stderr_lines)  # no message text in logs
    again = start_worker("sim", session_db)  # the next worker of this number sends what is unacked
    replayed = again.expect("message")
    assert replayed.message == second.message
    again.send(Ack(seq=replayed.seq))
    again.send(Stop())
    assert again.wait_exit() == 0
    assert (session_db.parent / "journaled.journal").read_bytes() == b""


def test_team_and_group_messages_get_sensible_defaults(start_worker: Start) -> None:
    worker = paired_worker(start_worker)
    worker.send(SimMessage(message={"chat": CUSTOMER, "from_me": True, "text": "Rp 1.500.000"}))
    team = worker.expect("message").message
    assert team["sender"] == f"{ADMIN}@s.whatsapp.net" and team["from_me"] is True
    assert parse_message(team).lead_phone == CUSTOMER
    worker.send(Ack(seq=1))
    group = {"chat": "120363000000000001@g.us", "sender": CUSTOMER, "type": "image"}
    worker.send(SimMessage(message=group))
    out = worker.expect("message").message
    assert (out["is_group"], out["type"], out["chat"]) == (True, "image", group["chat"])
    worker.send(Ack(seq=2))
    worker.send(Stop())
    assert worker.wait_exit() == 0


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"sender": CUSTOMER, "type": "hologram"}, "type"),
        ({"text": "no chat, no sender"}, "chat"),
        ({"sender": CUSTOMER, "colour": "red"}, "colour"),
        ({"sender": CUSTOMER, "session": "6280000000000"}, "session"),
        ({"sender": CUSTOMER, "timestamp": "yesterday"}, "timestamp"),
    ],
)
def test_invalid_injected_messages_are_refused(
    start_worker: Start, message: dict[str, object], problem: str
) -> None:
    worker = paired_worker(start_worker)
    worker.send(SimMessage(message=message, request_id="m1"))
    refused = worker.expect("command_failed")
    assert refused.request_id == "m1"
    assert problem in refused.error
    worker.send(Stop())
    assert worker.wait_exit() == 0


def test_message_injection_needs_a_connected_session(start_worker: Start) -> None:
    worker = start_worker()
    worker.expect_state("SCAN_QR")
    worker.send(SimMessage(message={"sender": CUSTOMER}, request_id="m0"))
    assert "not connected" in worker.expect("command_failed").error
    worker.send(Stop())
    assert worker.wait_exit() == 0


def test_send_text(start_worker: Start) -> None:
    worker = paired_worker(start_worker)
    worker.send(SendText(request_id=17, to=CUSTOMER, text="Terima kasih"))
    sent = worker.expect("sent")
    assert sent.request_id == 17
    assert re.fullmatch(r"3EB0[0-9A-F]{16}", sent.message_id)
    worker.send(SendText(request_id="bad", to="not a number", text="x"))
    refused = worker.expect("send_failed")
    assert (refused.request_id, refused.retryable) == ("bad", False)
    worker.send(SendText(request_id="empty", to=CUSTOMER, text="  "))
    assert worker.expect("send_failed").retryable is False
    worker.send(Stop())
    assert worker.wait_exit() == 0


def test_logout_forgets_the_pairing(start_worker: Start, tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    worker = paired_worker(start_worker, db)
    worker.send(Logout())
    state = worker.expect_state("LOGGED_OUT")
    assert state.reason == "logged_out_by_owner"  # the daemon asked: not "the phone removed this device"
    assert worker.wait_exit() == 4
    again = start_worker(session_db=db)
    again.expect_state("SCAN_QR")
    again.send(Stop())
    assert again.wait_exit() == 0


def test_garbage_and_foreign_frames_are_ignored(start_worker: Start) -> None:
    worker = paired_worker(start_worker)
    worker.send_raw(b"this is not json\n")
    worker.send_raw(b'{"v":9,"type":"stop"}\n')
    worker.send_raw(b'{"v":1,"type":"state","state":"CONNECTED"}\n')  # a worker frame
    worker.send(SendText(request_id="still-alive", to=CUSTOMER, text="x"))
    assert worker.expect("sent").request_id == "still-alive"
    worker.send(Stop())
    assert worker.wait_exit() == 0
    events = [entry["event"] for entry in worker.stderr_json()]
    assert events.count("protocol_error") == 2 and events.count("unexpected_frame") == 1


def test_stdin_eof_means_the_daemon_is_gone(start_worker: Start) -> None:
    worker = paired_worker(start_worker)
    worker.send(SimMessage(message={"sender": CUSTOMER}))
    worker.expect("message")  # never acked: the worker must still leave promptly
    worker.close_stdin()
    assert worker.wait_exit(timeout=5) == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--kind", "sim", "--phone", "abc", "--session-db", "/tmp/x.sqlite3"],
        ["--kind", "sim", "--phone", "081100000001", "--session-db", "/tmp/x.sqlite3"],
        ["--kind", "sim", "--phone", ADMIN, "--session-db", "relative.sqlite3"],
        ["--kind", "carrier-pigeon", "--phone", ADMIN, "--session-db", "/tmp/x.sqlite3"],
        ["--kind", "sim", "--phone", ADMIN],
        ["--kind", "sim", "--phone", ADMIN, "--session-db", "/tmp/x", "--log-level", "LOUD"],
    ],
)
def test_bad_arguments_exit_2_without_frames(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bridge.worker", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"usage:" in done.stderr


STRAY_WRITER = """
import os, sys, time
from bridge.worker.__main__ import claim_stdout, configure_logging
configure_logging("INFO", worker="sim")
frames_fd = claim_stdout()
print("2@c2VjcmV0LXFyLXBheWxvYWQtYWJjZGVm,a,b,c")  # Python-level print (a QR!)
os.write(1, b"Login event: success\\n")  # what Go writes to fd 1 directly
os.write(1, b"Pair Code: ABCD-EFGH\\n")
os.write(frames_fd, b'{"v":1,"type":"stop"}\\n')
time.sleep(0.5)  # let the drain thread log before the process ends
"""


def test_stray_stdout_never_reaches_the_protocol_nor_leaks_secrets() -> None:
    done = subprocess.run(
        [sys.executable, "-c", STRAY_WRITER], capture_output=True, timeout=30, check=True
    )
    assert done.stdout == b'{"v":1,"type":"stop"}\n'
    events = [json.loads(line) for line in done.stderr.splitlines()]
    stray = [e for e in events if e["event"] == "stray_stdout"]
    assert len(stray) == 3
    assert {"text": "Login event: success"}.items() <= stray[1].items()
    assert b"c2VjcmV0" not in done.stderr and b"ABCD-EFGH" not in done.stderr
