"""scripts/bench.py's report: the lines it prints for a profile, and its targets."""

from __future__ import annotations

from typing import Any


def print_profile(report: dict[str, Any]) -> None:
    """One profile's results, a line per phase."""
    w, ev, e2e = report["workload"], report["evaluation"], report["end_to_end"]
    indexed, naive, floor, trickle = e2e["indexed"], e2e["naive"], e2e["storage_floor"], e2e["one_at_a_time"]
    print(f"== {w['profile']}: {w['messages']:,} messages, {w['senders']:,} senders, {w['rules']} rules "
          f"({w['regex_rules']} regex), seed {w['seed']}")
    print(f"per message (measured): {indexed['rules_fired_per_message']} rules fired, "
          f"{indexed['webhooks_per_message']} webhooks queued; rules tagged "
          f"{indexed['share_tags_changed']:.0%} and scored {indexed['share_score_changed']:.0%} of messages, "
          f"status changed on {indexed['share_status_changed']:.0%} of messages")
    print(f"rule evaluation: {ev['indexed']['messages_per_s']:,} msg/s indexed vs "
          f"{ev['naive']['messages_per_s']:,} msg/s naive loop ({ev['speedup']}x); "
          f"same decisions: {ev['same_decisions']}")
    print(f"engine only, incl. actions (no db): {ev['engine_with_actions']['messages_per_s']:,} msg/s")
    rounds = ", ".join(f"{seconds} s" for seconds in indexed["rounds_seconds"])
    print(f"end to end (synchronous=FULL, fastest of {rounds}): {indexed['messages_per_s']:,} msg/s "
          f"in {indexed['seconds']} s "
          f"(p50 {indexed['latency_ms_p50']} ms, p99 {indexed['latency_ms_p99']} ms per message, "
          f"one commit per {indexed['chunk']:,}), peak RSS {indexed['peak_rss_mb']} MB, "
          f"{indexed['disk_written_mb']} MB written to disk")
    print(f"storage floor: {floor['rows']:,} rows inserted and the WAL checkpointed in {floor['seconds']} s "
          f"(the checkpoint {floor['checkpoint_seconds']} s; "
          f"fastest of {', '.join(f'{seconds} s' for seconds in floor['rounds_seconds'])}) "
          f"({floor['disk_written_mb']} MB written) -> wabridge takes {e2e['times_floor']}x the floor")
    print(f"naive end to end ({naive['messages']:,} messages, one transaction each): "
          f"{naive['messages_per_s']:,} msg/s -> {e2e['speedup']}x; identical to naive: "
          + ", ".join(f"{k} {v}" for k, v in e2e["identical_to_naive"].items()))
    print(f"one message at a time: p50 {trickle['latency_ms_p50']} ms, p99 {trickle['latency_ms_p99']} ms "
          f"(commit to inbox + process + commit)")


def targets(reports: dict[str, dict[str, Any]]) -> dict[str, bool]:
    """Each target's name (with what was measured, where it helps) and whether it was met."""
    out: dict[str, bool] = {}
    for profile, report in reports.items():
        e2e = report["end_to_end"]
        out[f"{profile}: identical to naive (leads, rule runs, outbox)"] = all(e2e["identical_to_naive"].values())
        out[f"{profile}: peak RSS < 300 MB"] = e2e["indexed"]["peak_rss_mb"] < 300
    if "light" in reports:
        light = reports["light"]
        out["light: e2e >= 10,000 msg/s"] = light["end_to_end"]["indexed"]["messages_per_s"] >= 10_000
        out["light: e2e >= 3x naive"] = light["end_to_end"]["speedup"] >= 3
        out["light: evaluation >= 100,000 msg/s"] = light["evaluation"]["indexed"]["messages_per_s"] >= 100_000
    if "heavy" in reports:
        heavy = reports["heavy"]["end_to_end"]
        made = heavy["indexed"]
        # The heavy shop: 5+ rules fired and a webhook per message, tags and score on
        # most messages, the status on ~20%.
        out["heavy: >= 5 rules fired, >= 1 webhook per message, most tagged and scored"] = (
            made["rules_fired_per_message"] >= 5 and made["webhooks_per_message"] >= 1
            and made["share_tags_changed"] > 0.5 and made["share_score_changed"] > 0.5)
        out["heavy: <= 2.5x the storage floor"] = heavy["times_floor"] <= 2.5
        out["heavy: >= 6x naive"] = heavy["speedup"] >= 6
        if "light" in reports:
            share = heavy["indexed"]["messages_per_s"] / reports["light"]["end_to_end"]["indexed"]["messages_per_s"]
            out[f"heavy >= 60% of light's msg/s (measured {share:.0%})"] = share >= 0.6
    return out
