"""`wabridge replay`: the bundled example, bad lines, re-runs, and kill -9 mid-stream."""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.commands.replay import CHUNK, GC_FIRST_GENERATION, few_gc_pauses, read_json, replay_messages
from engine.model import MessageFormatError, Workspace, parse_message
from engine.rules import default_env, parse_rules
from engine.ruleset import RuleSet
from store.db import bulk_writes, open_db
from store.processor import Processor
from store.rules import load_rules, save_rules
from tests.conftest import ROOT, message, write_jsonl

EXAMPLE = ROOT / "examples" / "conversation.jsonl"


def test_example_conversation_moves_the_lead_through_the_seed_recipes(wabridge) -> None:  # type: ignore[no-untyped-def]
    assert wabridge("templates", "install", "mark-active-lead", "identify-hot-lead", "auto-closing").code == 0
    result = wabridge("replay", str(EXAMPLE), "--json")
    assert result.code == 0, result.err
    summary = result.json()
    assert summary["duplicates_skipped"] == 1 and summary["bad_lines"] == []
    assert summary["status_changes"] == 3
    leads = {row["phone"]: row for row in map(json.loads, wabridge("leads", "export").out.splitlines())}
    sari = leads["6281234567890"]
    assert sari["status"] == "purchase" and sari["value_actual"] == 1500000
    assert sari["source"] == "ads" and sari["ctwa_clid"].startswith("ARAk")
    assert leads["6289876543210"]["status"] == "new"


def test_bad_lines_are_reported_with_their_number_and_the_rest_is_kept(wabridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "mixed.jsonl"
    lines = [json.dumps(message(id="a")), "{not json", json.dumps(message(id="b", timestamp="yesterday")),
             "", json.dumps(message(id="c", text="lagi"))]
    path.write_text("\n".join(lines) + "\n")
    result = wabridge("replay", str(path))
    assert result.code == 1
    assert f"{path}:2: skipped: not JSON" in result.err
    assert f"{path}:3: skipped: timestamp:" in result.err
    assert "messages: 2 new" in result.out
    again = wabridge("replay", str(path), "--json")
    assert again.json()["duplicates_skipped"] == 2


def test_a_line_nested_past_the_parser_is_a_bad_line_not_a_crash(wabridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "nested.jsonl"
    # Before, the standard parser's RecursionError ended the whole replay on this line.
    path.write_text(json.dumps(message(id="a")) + "\n" + "[" * 200_000 + "]" * 200_000 + "\n"
                    + json.dumps(message(id="b")) + "\n")
    result = wabridge("replay", str(path))
    assert result.code == 1
    assert f"{path}:2: skipped: not JSON (nested too deeply)" in result.err
    assert "messages: 2 new" in result.out


@pytest.mark.parametrize("line", [
    '{"id": "m1", "text": "a\\ud800b", "n": 1}',  # a lone surrogate escape (orjson refuses it)
    '{"value": NaN, "other": -Infinity}',  # not JSON, but the standard parser reads it
    '{"a": 1, "a": 2, "b": [1.5, 1e400, "\\u00e9"]}',  # a repeated key, a float past double
])
def test_a_line_reads_as_the_standard_parser_reads_it(line: str) -> None:
    expected = json.loads(line)
    got = read_json(line)
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_an_integer_past_64_bits_is_still_refused_as_a_time() -> None:
    # orjson reads such an integer as a float: no message field holds one, and as a timestamp
    # it is out of range either way.
    with pytest.raises(MessageFormatError, match="out of range for a time"):
        parse_message(read_json('{"id": "a", "session": "s", "chat": "6281@s.whatsapp.net", '
                                '"sender": "6281@s.whatsapp.net", "timestamp": 1790000000000000000000000}'))


def test_a_line_the_standard_parser_refuses_is_refused_with_its_words() -> None:
    with pytest.raises(json.JSONDecodeError) as refused:
        read_json('{"id": "a",')
    with pytest.raises(json.JSONDecodeError) as standard:
        json.loads('{"id": "a",')
    assert (refused.value.msg, refused.value.colno) == (standard.value.msg, standard.value.colno)


def test_missing_file_is_a_clear_error(wabridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = wabridge("replay", str(tmp_path / "nope.jsonl"))
    assert result.code == 1 and "no such file" in result.err


def _workload(path: Path, count: int) -> Path:
    rng = random.Random(7)
    rows = []
    for index in range(count):
        phone = f"62812{rng.randrange(300):05d}"
        text = rng.choice(["halo kak", "ready?", "saya mau order", "berapa ongkirnya", "ok"])
        from_me = rng.random() < 0.2
        if from_me and rng.random() < 0.3:
            text = "Payment received Rp 1.500.000"
        rows.append(message(id=f"K{index:06d}", chat=f"{phone}@s.whatsapp.net",
                            sender="6281100000001@s.whatsapp.net" if from_me else f"{phone}@s.whatsapp.net",
                            from_me=from_me, text=text, timestamp="2026-11-20T10:00:00+07:00"))
    return write_jsonl(path, rows)


def _replay(data: Path, source: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "--data-dir", str(data), "replay", str(source), "--json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _snapshot(db_path: Path) -> dict[str, object]:
    conn = sqlite3.connect(db_path)
    leads = conn.execute(
        "SELECT phone, status, value_actual, chat_count, tags FROM leads ORDER BY phone").fetchall()
    return {
        "leads": leads,
        "inbox": conn.execute("SELECT state, COUNT(*) FROM inbox GROUP BY state").fetchall(),
        "fired": conn.execute("SELECT rule_name, COUNT(*) FROM rule_runs GROUP BY rule_name ORDER BY 1").fetchall(),
        "history": conn.execute("SELECT COUNT(*) FROM lead_changes").fetchone()[0],
    }


def test_kill_9_mid_replay_loses_nothing_and_applies_nothing_twice(tmp_path: Path) -> None:
    """Guarantees 1 and 2 under SIGKILL, against an uninterrupted run of the same file."""
    source = _workload(tmp_path / "big.jsonl", 30_000)
    control, victim = tmp_path / "control", tmp_path / "victim"
    for data in (control, victim):
        subprocess.run([sys.executable, "-m", "bridge.cli", "--data-dir", str(data), "templates", "install",
                        "mark-active-lead", "identify-hot-lead", "auto-closing"], cwd=ROOT, check=True,
                       capture_output=True)
    done = _replay(control, source)
    assert done.wait(timeout=300) == 0, done.stderr.read() if done.stderr else ""

    proc = _replay(victim, source)
    db_path = victim / "wabridge.db"
    deadline = time.monotonic() + 120
    processed = 0
    while time.monotonic() < deadline:  # wait until it is mid-stream, then kill it hard
        if db_path.exists():
            try:
                conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)
                processed = conn.execute("SELECT COUNT(*) FROM inbox WHERE state='done'").fetchone()[0]
                conn.close()
            except sqlite3.OperationalError:
                processed = 0
        if processed >= 3000:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "replay finished before it could be killed; make the file bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    interrupted = _snapshot(db_path)
    assert dict(interrupted["inbox"]).get("done", 0) < 30_000  # type: ignore[arg-type]

    rerun = _replay(victim, source)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()
    summary = json.loads(out)
    assert summary["messages"] + summary["duplicates_skipped"] == 30_000
    assert _snapshot(db_path) == _snapshot(control / "wabridge.db")


def test_replay_gc_setting_is_restored_even_after_a_failure() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), few_gc_pauses():
        assert gc.get_threshold()[0] == GC_FIRST_GENERATION
        assert gc.get_freeze_count() > 0  # what lived before the replay is out of the collector's walk
        raise RuntimeError("a bad chunk")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0  # unfrozen: a long-lived process collects them again


def test_a_chunks_working_set_never_sets_off_the_collector_but_reference_cycles_do(tmp_path: Path) -> None:
    """A replay keeps a chunk's parsed messages, their inbox results and two batches' outcomes
    alive (~65,000 objects on the bench's heavy rules). With the young generation's threshold
    below that, every chunk set off collections that walked them all (26 ms each, 3% of a heavy
    replay). Reference cycles, which nothing else frees, still set one off."""
    spec = importlib.util.spec_from_file_location("bench_workload", ROOT / "scripts" / "workload.py")
    assert spec is not None and spec.loader is not None
    workload = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(workload)
    rng = random.Random(7)
    raw_rules = workload.make_heavy_rules(rng, 100)
    lines = workload.make_messages(rng, CHUNK, 3_000)
    db = open_db(tmp_path / "w.db")
    env = default_env(workload.STATUSES)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    save_rules(db, parse_rules(raw_rules, env), now)
    statuses = tuple(workload.STATUSES)
    processor = Processor(db, RuleSet(load_rules(db, env).rules, statuses), Workspace("Toko", UTC, statuses),
                          lambda: now)
    collections: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    with bulk_writes(db), few_gc_pauses():
        gc.callbacks.append(seen)
        try:
            # Parsed as the replay reads them, as `wabridge replay` does: all of it young.
            replay_messages(processor, (parse_message(line) for line in lines), lambda *_: None)
            assert collections == []
            for _ in range(GC_FIRST_GENERATION):
                cycle: list[object] = []
                cycle.append(cycle)
            assert collections, "reference cycles piled up without a collection"
        finally:
            gc.callbacks.remove(seen)
    assert db.conn.execute("SELECT COUNT(*) FROM inbox WHERE state = 'done'").fetchone()[0] == CHUNK


def test_replay_keeps_objects_a_caller_froze_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with few_gc_pauses():
            pass
        # Neither unfrozen nor frozen again (frozen objects can still die meanwhile: an earlier
        # test's write-behind thread ends when its pool is collected).
        assert 0 < gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()


def test_the_progress_bar_follows_the_file_chunk_by_chunk(wabridge, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import bridge.commands.replay as replay_module

    positions: list[tuple[int, int]] = []  # (position, total) after each update

    class RecordingBar:
        def __init__(self, *, total: int, **_: object) -> None:
            self.total, self.position = total, 0

        def update(self, step: int) -> None:
            self.position += step
            positions.append((self.position, self.total))

        def close(self) -> None:
            pass

    monkeypatch.setattr(replay_module, "tqdm", RecordingBar)
    monkeypatch.setattr(replay_module, "CHUNK", 10)
    path = tmp_path / "forty.jsonl"
    write_jsonl(path, [message(id=f"m{i}", text=f"pesan {i}") for i in range(40)])
    assert wabridge("replay", str(path)).code == 0
    total = path.stat().st_size
    # Before, the first chunk already moved the bar to the end (lines × (size ÷ lines)).
    assert [round(position / total, 2) for position, _ in positions] == [0.25, 0.5, 0.75, 1.0, 1.0]
