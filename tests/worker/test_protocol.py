"""The daemon <-> worker line protocol: every frame round-trips, bad lines are refused."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from bridge import protocol
from bridge.protocol import (
    DAEMON_FRAMES,
    FRAMES,
    PROTOCOL_VERSION,
    WORKER_FRAMES,
    ExitCode,
    MessageFrame,
    ProtocolError,
    SimScan,
    State,
    decode,
    encode,
)

SAMPLES: dict[str, dict[str, Any]] = {
    "hello": {"worker": "sim", "pid": 42, "phone": "6281100000001"},
    "state": {"state": "FAILED", "reason": "qr_exhausted", "detail": "6 QR codes expired"},
    "qr": {
        "seq": 1,
        "code": "2@abc,def,ghi,jkl",
        "issued_at": "2026-11-23T10:00:00.000+00:00",
        "expires_at": "2026-11-23T10:01:00.000+00:00",
    },
    "pair_code": {"request_id": "r-1", "code": "ABCD-EFGH"},
    "command_failed": {"request_id": None, "error": "not supported"},
    "paired": {
        "jid": "6281100000001@s.whatsapp.net",
        "phone": "6281100000001",
        "lid": "123456789012345@lid",
        "push_name": "CS Budi",
    },
    "connected": {"jid": "6281100000001@s.whatsapp.net", "push_name": None},
    "message": {"seq": 7, "message": {"id": "X", "text": "halo ✓"}},
    "history": {"seq": 8, "sync_type": "initial_bootstrap", "progress": 40,
                "messages": [{"id": "H1", "text": "dulu ✓", "history": True}],
                "names": [["6281200000002@s.whatsapp.net", "Sari ✓"]]},
    "sent": {"request_id": 5, "message_id": "3EB0ABC"},
    "unreadable": {"reference": "3EB0ABD", "reason": "unreadable WhatsApp message: NormaliseError: no JID",
                   "excerpt": "conversation: \"halo\""},
    "send_failed": {"request_id": "r-2", "error": "not connected", "retryable": True},
    "ack": {"seq": 7},
    "send_text": {"request_id": "r-3", "to": "6281200000002", "text": "line1\nline2", "reply_to": "3EB0AA",
                  "quoted_sender": "6281200000002@s.whatsapp.net", "quoted_text": "ada ukuran 39?"},
    "pair_phone": {"request_id": "r-4"},
    "logout": {"request_id": None},
    "stop": {},
    "sim_scan": {"as": "6289999999999", "request_id": None},
    "sim_message": {"message": {"sender": "6281200000002", "text": "hi"}, "request_id": "m1"},
    "sim_history": {"messages": [{"id": "H2", "sender": "6281200000002", "text": "lama"}],
                    "sync_type": "recent", "request_id": None},
    "sim_crash": {},
    "sim_received": {"request_id": "r-9"},
    "sim_inbox": {"request_id": "r-9", "messages": [{"id": "3EB0ABC", "to": "6281234567890@s.whatsapp.net",
                                                     "text": "halo"}]},
}


def test_samples_cover_the_whole_registry() -> None:
    assert set(SAMPLES) == set(FRAMES)
    assert WORKER_FRAMES | DAEMON_FRAMES == set(FRAMES)
    assert not WORKER_FRAMES & DAEMON_FRAMES


@pytest.mark.parametrize("type_name", sorted(SAMPLES))
def test_every_frame_round_trips(type_name: str) -> None:
    wire = {"v": PROTOCOL_VERSION, "type": type_name, **SAMPLES[type_name]}
    frame = decode(json.dumps(wire).encode())
    assert type(frame) is FRAMES[type_name]
    line = encode(frame)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == wire
    assert decode(line) == frame


def test_frames_are_frozen_dataclasses() -> None:
    for cls in FRAMES.values():
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        assert params.frozen, cls.__name__
    with pytest.raises(AttributeError):
        State(state="CONNECTED").state = "FAILED"  # type: ignore[misc]


def test_encode_starts_with_version_and_type_and_keeps_utf8() -> None:
    line = encode(MessageFrame(seq=1, message={"text": "Rp 1.500.000 ✓"}))
    assert line.startswith(b'{"v":1,"type":"message",')
    assert "✓".encode() in line


def test_python_keyword_field_uses_its_wire_name() -> None:
    assert json.loads(encode(SimScan(as_="6289")))["as"] == "6289"
    assert decode(b'{"v":1,"type":"sim_scan","as":null}') == SimScan(as_=None)


def test_optional_fields_may_be_omitted_and_unknown_keys_are_ignored() -> None:
    assert decode(b'{"v":1,"type":"state","state":"CONNECTED"}') == State(state="CONNECTED")
    frame = decode(b'{"v":1,"type":"ack","seq":3,"added_in_a_later_version":true}')
    assert frame == protocol.Ack(seq=3)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"not json", "not valid JSON"),
        (b"\xff\xfe", "not valid UTF-8"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"type":"stop"}', "unsupported protocol version None"),
        (b'{"v":2,"type":"stop"}', "unsupported protocol version 2"),
        (b'{"v":true,"type":"stop"}', "unsupported protocol version True"),
        (b'{"v":1,"type":"launch_rockets"}', "unknown frame type 'launch_rockets'"),
        (b'{"v":1}', "unknown frame type None"),
        (b'{"v":1,"type":"ack"}', "ack: missing field 'seq'"),
        (b'{"v":1,"type":"ack","seq":"7"}', "ack.seq: expected integer, got str"),
        (b'{"v":1,"type":"ack","seq":true}', "ack.seq: expected integer, got bool"),
        (b'{"v":1,"type":"state","state":"ASLEEP"}', "state.state: 'ASLEEP' is not one of"),
        (
            b'{"v":1,"type":"state","state":"FAILED","reason":"bad_luck"}',
            "state.reason: 'bad_luck' is not one of",
        ),
        (b'{"v":1,"type":"sim_message","message":"hi"}', "expected object, got str"),
        (b'{"v":1,"type":"send_text","request_id":1.5,"to":"x","text":"y"}', "expected string"),
    ],
)
def test_decode_rejects_bad_lines_clearly(line: bytes, problem: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(line)
    assert problem in str(caught.value)


def test_encode_refuses_invalid_frames() -> None:
    with pytest.raises(ProtocolError, match="'ASLEEP' is not one of"):
        encode(State(state="ASLEEP"))
    with pytest.raises(ProtocolError, match="expected integer"):
        encode(protocol.Ack(seq="1"))  # type: ignore[arg-type]


def test_state_and_reason_vocabulary_matches_the_contract() -> None:
    assert protocol.STATES == (
        "STARTING",
        "SCAN_QR",
        "PAIRING_CODE",
        "CONNECTED",
        "DISCONNECTED",
        "LOGGED_OUT",
        "FAILED",
    )
    assert set(protocol.REASONS) == {
        "logged_out",
        "logged_out_by_owner",
        "temporary_ban",
        "client_outdated",
        "stream_replaced",
        "qr_exhausted",
        "wrong_number",
        "crashed",
        "network",
        "connect_failure",
        "keepalive_timeout",
        "stream_error",
    }
    assert [int(code) for code in ExitCode] == [0, 1, 2, 3, 4, 5, 6, 75, 134]


@pytest.mark.parametrize(
    "module",
    [
        "bridge.protocol",
        "bridge.worker",
        "bridge.worker.base",
        "bridge.worker.normalise",
        "bridge.worker.sim_worker",
        "bridge.worker.session_events",
    ],
)
def test_only_the_neonize_worker_imports_neonize(module: str) -> None:
    code = f"import sys, {module}; sys.exit(1 if 'neonize' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], timeout=30).returncode == 0
