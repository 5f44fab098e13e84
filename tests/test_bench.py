"""scripts/bench.py on a tiny workload: it runs, its differential check holds on both profiles,
and the timed runs alternate in rounds. (Its speed targets are for the full workload on the
development machine, README "Speed"; here only what a change could silently break.)"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_bench_runs_both_profiles_in_rounds_and_matches_the_naive_baseline() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--messages", "600", "--senders", "100",
         "--naive-messages", "150", "--rounds", "2", "--json"],
        capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode in (0, 1), result.stderr  # 1: a speed target missed on this tiny run
    report = json.loads(result.stdout)
    for profile in ("light", "heavy"):
        e2e = report["profiles"][profile]["end_to_end"]
        assert e2e["identical_to_naive"] == {"leads": True, "runs": True, "outbox": True}
        assert len(e2e["indexed"]["rounds_seconds"]) == 2 and len(e2e["storage_floor"]["rounds_seconds"]) == 2
        assert e2e["indexed"]["seconds"] == min(e2e["indexed"]["rounds_seconds"])
        assert e2e["indexed"]["new_messages"] == 600 and e2e["indexed"]["not_done"] == 0  # each round from scratch
    heavy = report["profiles"]["heavy"]["end_to_end"]["indexed"]
    assert heavy["rules_fired_per_message"] >= 5 and heavy["webhooks_per_message"] >= 1
    assert "heavy: >= 5 rules fired, >= 1 webhook per message, most tagged and scored" in report["targets"]
