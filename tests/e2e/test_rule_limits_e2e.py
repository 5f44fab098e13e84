"""Rules over the documented limits: refused wherever they enter, survived when already stored.

A rule nested 900 groups deep (a RecursionError when parsed recursively) and one with
30,000 keywords (seconds of event-loop time when validated) are refused with 400 by the
API and exit 1 by the CLI; a daemon started on a database that already holds them (put
there with plain SQL, as an old version or a hand edit could have) starts, skips them and
says so, and `rules list`, `rules export` and a reload keep working.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from engine.limits import MAX_DEPTH, MAX_KEYWORDS
from tests.e2e.daemon import RunningDaemon

pytestmark = pytest.mark.timeout(240)

ACTION = [{"type": "add_tag", "tag": "seen"}]


def nested_rule(depth: int, name: str = "Deep") -> dict[str, Any]:
    node: dict[str, Any] = {"field": "message.text", "op": "contains", "value": "halo"}
    for _ in range(depth):
        node = {"any": [node]}
    return {"name": name, "conditions": [node], "actions": ACTION}


def keyword_rule(count: int, name: str = "Wide") -> dict[str, Any]:
    words = ",".join(f"k{i}" for i in range(count))  # under the 256 KiB body limit, so the rule limit answers
    return {"name": name, "conditions": [{"field": "message.text", "op": "contains", "value": words}],
            "actions": ACTION}


def _json_text(value: Any) -> str:
    # json.dumps recurses; a 900-group rule is 1,800 JSON levels deep.
    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)
    try:
        return json.dumps(value)
    finally:
        sys.setrecursionlimit(limit)


def _insert(db: Path, rule: dict[str, Any], priority: int) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO rules (name, enabled, priority, trigger, spec, created_at, updated_at) "
                     "VALUES (?, 1, ?, 'message.received', ?, '2026-12-01T00:00:00+00:00', "
                     "'2026-12-01T00:00:00+00:00')", (rule["name"], priority, _json_text(rule)))


def test_oversized_rules_are_refused_and_stored_ones_never_stop_the_daemon(tmp_path: Path) -> None:
    daemon = RunningDaemon(tmp_path)
    deep, wide = nested_rule(900), keyword_rule(30_000)
    good = {"name": "Tag halo", "conditions": [{"field": "message.text", "op": "contains", "value": "halo"}],
            "actions": ACTION}

    # The CLI refuses both files with exit 1 and a message naming the limit.
    for rule, words in ((deep, f"{MAX_DEPTH} levels"), (wide, f"at most {MAX_KEYWORDS}")):
        path = tmp_path / f"{rule['name']}.json"
        path.write_text(_json_text({"rules": [rule]}))
        for command in ("validate", "import"):
            result = daemon.cli("rules", command, str(path))
            assert result.returncode == 1, result
            assert words in result.stderr or "nested too deeply" in result.stderr, result.stderr

    daemon.start()
    try:
        # The API refuses them with 400 (validate, create, update) and /healthz keeps answering.
        slowest = [0.0]
        stop = threading.Event()

        def probe() -> None:
            while not stop.is_set():
                began = time.monotonic()
                status, _ = daemon.request("GET", "/healthz", auth=False)
                assert status == 200
                slowest[0] = max(slowest[0], time.monotonic() - began)
                time.sleep(0.02)

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        assert daemon.request("POST", "/api/rules", good)[0] == 201
        for rule in (deep, wide):
            for method, path in (("POST", "/api/rules/validate"), ("POST", "/api/rules"), ("PUT", "/api/rules/1")):
                status, body = _raw_request(daemon, method, path, _json_text(rule))
                assert status == 400, (method, path, body)
                assert body["error"]["code"] in ("invalid_rule", "bad_request"), body
        stop.set()
        prober.join(5)
        assert slowest[0] < 2.0, f"/healthz took {slowest[0]:.2f} s while big rules were refused"
        status, body = daemon.request("GET", "/api/rules")
        assert [r["name"] for r in body["rules"]] == ["Tag halo"]
    finally:
        assert daemon.stop() == 0

    # Put both straight into the database (and one over the keyword limit that would still parse).
    db = daemon.data / "wabridge.db"
    _insert(db, deep, 5)
    _insert(db, wide, 6)
    _insert(db, keyword_rule(MAX_KEYWORDS + 1, "Just over"), 7)

    listed = daemon.cli("rules", "list")
    assert "Tag halo" in listed.stdout and listed.stderr.count("invalid stored rule (skipped)") == 3, listed
    with sqlite3.connect(db) as conn:
        (deep_id,) = conn.execute("SELECT id FROM rules WHERE name = 'Deep'").fetchone()
    enabled = daemon.cli("rules", "disable", str(deep_id))
    assert enabled.returncode == 1 and "nested too deeply" in enabled.stderr, enabled
    exported = daemon.cli("rules", "export", "--format", "json")
    assert exported.returncode == 0 and [r["name"] for r in json.loads(exported.stdout)["rules"]] == ["Tag halo"]

    daemon.start()
    try:
        skipped = [json.loads(line) for line in daemon.logs().splitlines()
                   if '"rule_skipped_invalid"' in line]
        assert {s["problem"].split('"')[1] for s in skipped} >= {"Deep", "Wide", "Just over"}, skipped
        status, body = daemon.request("GET", "/api/rules")
        assert status == 200 and [r["name"] for r in body["rules"]] == ["Tag halo"]
        assert {i["name"] for i in body["invalid"]} == {"Deep", "Wide", "Just over"}
        status, reloaded = daemon.request("POST", "/api/rules/reload")
        assert status == 200 and len(reloaded["invalid"]) == 3
        status, text = daemon.request("GET", "/api/rules/export.toml")
        assert status == 200 and b"Tag halo" in text and b"Deep" not in text
        # The good rule still runs.
        daemon.pair("6281100000001")
        assert daemon.send("6281100000001", sender="6281234567890", text="halo kak")[0] == 201
        daemon.wait(lambda: any("seen" in lead.get("tags", []) for lead in daemon.leads()), what="the good rule")
    finally:
        assert daemon.stop() == 0


def _raw_request(daemon: RunningDaemon, method: str, path: str, text: str) -> tuple[int, Any]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
    try:
        connection.request(method, path, body=text.encode(), headers={
            "Authorization": f"Bearer {daemon.token}", "Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()
