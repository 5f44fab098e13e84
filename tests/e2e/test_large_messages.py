"""Messages of any size a WhatsApp user can send pass a real worker subprocess; a dead frame
reader is a visible failure that restarts the worker, never a silent one."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bridge import protocol as p
from bridge.config import NumberConfig
from bridge.daemon.supervisor import Session, WorkerSpec
from engine.model import MAX_TEXT_CHARS
from tests.e2e.daemon import RunningDaemon

NUMBER = "6281100000001"
CUSTOMER = "6281200000077"


def send_raw(daemon: RunningDaemon, message: dict[str, Any]) -> int:
    """POST a simulated message as raw UTF-8 JSON (not \\u-escaped: 2 bytes per é, under the body limit)."""
    body = json.dumps(message, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(f"http://127.0.0.1:{daemon.port}/sim/{NUMBER}/messages", data=body,
                                     method="POST", headers={"Authorization": f"Bearer {daemon.token}",
                                                             "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


def lead_messages(daemon: RunningDaemon, phone: str) -> list[dict[str, Any]]:
    status, body = daemon.request("GET", f"/api/leads/{phone}")
    assert status == 200, body
    return body["messages"]  # type: ignore[no-any-return]


def test_a_70000_character_message_passes_truncated_and_the_next_one_still_arrives(tmp_path: Path) -> None:
    daemon = RunningDaemon(tmp_path, numbers=(NUMBER,)).start()
    try:
        daemon.pair(NUMBER)
        # Two bytes per character in UTF-8: the frame is ~130 KB, twice the old 64 KiB reader limit.
        huge = "Pembayaran diterima Rp 1.500.000 " + "é" * 70_000
        assert send_raw(daemon, {"id": "BIG1", "sender": CUSTOMER, "text": huge}) in (200, 201, 202)
        status, body = daemon.send(NUMBER, id="SMALL2", sender=CUSTOMER, text="masih ada?")
        assert status in (200, 201, 202), body
        daemon.wait(lambda: len(lead_messages(daemon, CUSTOMER)) == 2, what="both messages in the inbox")
        by_id = {m["id"]: m for m in lead_messages(daemon, CUSTOMER)}
        assert len(by_id["BIG1"]["text"]) == MAX_TEXT_CHARS
        assert by_id["BIG1"]["text"] == huge[:MAX_TEXT_CHARS]
        assert by_id["BIG1"]["text_truncated"] is True
        assert by_id["SMALL2"]["text"] == "masih ada?" and "text_truncated" not in by_id["SMALL2"]
        session = daemon.session(NUMBER)
        assert session["state"] == "CONNECTED" and session["restarts"] == 0
        status, ready = daemon.request("GET", "/readyz")
        assert status == 200, ready
    finally:
        daemon.stop()


def test_line_splitter_skips_an_oversized_frame_and_keeps_reading() -> None:
    splitter = p.LineSplitter(limit=100)
    good = b'{"v":1}\n'
    out: list[bytes | p.OversizedFrame] = []
    for chunk in (good[:3], good[3:] + b"x" * 60, b"y" * 60, b"z" * 500, b"\n" + good + good[:2], good[2:]):
        out.extend(splitter.feed(chunk))
    assert out == [good, p.OversizedFrame(621), good, good]


def test_encode_refuses_a_frame_over_the_limit() -> None:
    with pytest.raises(p.ProtocolError, match="frame limit"):
        p.encode(p.SimMessage(message={"text": "x" * p.MAX_FRAME_BYTES}))


async def test_a_dead_frame_reader_kills_and_restarts_the_worker_visibly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[dict[str, Any]] = []

    async def sink(number: str, message: Any) -> None:
        received.append(dict(message))

    spec = WorkerSpec(kind="sim", sessions_dir=tmp_path / "sessions")
    session = Session(NumberConfig(phone=NUMBER, label="CS"), spec, sink, lambda s: None)
    real_decode = p.decode
    broken = {"armed": False}

    def decode(line: bytes | str) -> p.Frame:
        frame = real_decode(line)
        if broken["armed"] and frame.TYPE == "message":
            broken["armed"] = False
            raise RuntimeError("reader bug")  # an unexpected failure inside the reader
        return frame

    monkeypatch.setattr(p, "decode", decode)
    await session.start()
    try:
        first_pid = session.proc.pid if session.proc else None
        await session.wait_for(lambda v: v.state.value == "SCAN_QR", 20)
        await session.send_command(p.SimScan())
        await session.wait_for(lambda v: v.state.value == "CONNECTED", 20)
        broken["armed"] = True
        await session.send_command(p.SimMessage(message={"id": "M1", "sender": CUSTOMER, "text": "halo",
                                                         "chat": CUSTOMER}))
        view = await session.wait_for(lambda v: v.reason == "frame_reader_failed", 20)
        assert view.state.value == "DISCONNECTED" and "reader bug" in (view.detail or "")
        # Restarted like a crash: a fresh process, paired again from its session file.
        view = await session.wait_for(lambda v: v.state.value == "CONNECTED" and v.worker_pid != first_pid, 30)
        assert view.restarts == 1
        assert any(t.reason == "frame_reader_failed" for t in view.transitions)
        assert session.reader_alive and session.reader_failure is None
    finally:
        await session.stop()
        await asyncio.sleep(0)


async def test_skipped_frames_are_counted_for_the_number_and_the_reader_reads_on(tmp_path: Path) -> None:
    """A frame over the limit and a line that is no frame are skipped, each counted in the
    session's view (`wabridge_worker_frames_refused_total`), and the next frame still acts."""
    async def sink(number: str, message: Any) -> None:
        raise AssertionError("no message frame here")

    spec = WorkerSpec(kind="sim", sessions_dir=tmp_path / "sessions")
    session = Session(NumberConfig(phone=NUMBER, label="CS"), spec, sink, lambda s: None)
    stdout = asyncio.StreamReader()
    stdout.feed_data(b'{"type": "connected", "jid": "' + b"6" * (p.MAX_FRAME_BYTES + 10) + b'"}\n')
    stdout.feed_data(b"panic: runtime error (not a frame)\n")
    stdout.feed_data(p.encode(p.Connected(jid=f"{NUMBER}:7@s.whatsapp.net", push_name="Toko Budi")))
    stdout.feed_eof()
    await session._read_frame_lines(SimpleNamespace(stdout=stdout))  # type: ignore[arg-type]
    view = session.view
    assert (view.frames_oversized, view.frames_unreadable) == (1, 1)
    assert view.push_name == "Toko Budi"  # the frame after them was read and applied
