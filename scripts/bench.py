"""wabridge benchmark: rule evaluation and end-to-end replay against naive baselines.

Run:  python scripts/bench.py                    (both profiles: light 100,000 messages,
                                               heavy 30,000; 10,000 senders, 100 rules)
      python scripts/bench.py --profile heavy    (one profile; --messages N for a quick run)
      python scripts/bench.py --quick            (10,000 / 5,000 messages: a smoke run)

Profiles: *light* (about 2 rules fire per message, few webhooks) and *heavy* (100 rules of
the same kinds where 5+ fire per message, every message queues a webhook, most messages
tag and score, ~20% change status). Each profile also measures its *storage floor*: the
time SQLite alone needs to insert the rows the run produced into an empty database with
the same schema (10,000 rows per transaction, synchronous=FULL), ending, as the replay
does, with the WAL checkpointed and truncated.

End to end is `wabridge replay`'s own loop (bridge.commands.replay.replay_messages), timed
from reading the file's first line to the last commit and the checkpoint ending the bulk
writes.

Everything runs in one invocation so the ratios compare like with like on a shared,
noisy machine: the end-to-end runs and the storage floors go in rounds alternating the
profiles, each run followed by its floor (`--rounds`, 5 by default), and each reports its
fastest round. End-to-end phases run in child processes so each reports its own peak RSS.
Durability: synchronous=FULL; a message counts once its transaction committed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_report import print_profile, targets  # noqa: E402
from naive_baseline import NaiveRuleSet  # noqa: E402
from workload import STATUSES, profile_workload, write_jsonl  # noqa: E402

from engine.context import EvalContext  # noqa: E402
from engine.evaluate import process_message  # noqa: E402
from engine.model import Message, Workspace, parse_message  # noqa: E402
from engine.rules import Rule, default_env, parse_rules  # noqa: E402
from engine.ruleset import RuleSet  # noqa: E402

TZ = ZoneInfo("Asia/Jakarta")


def compiled_rules(raw: list[dict[str, Any]]) -> list[Rule]:
    return [r.with_id(i + 1) for i, r in enumerate(parse_rules(raw, default_env(STATUSES)))]


def bench_evaluation(rules: list[Rule], messages: list[Message]) -> dict[str, Any]:
    """Rule evaluation alone: which rules fire on each message, against its lead snapshot."""
    now = datetime.now(UTC)
    fast, naive = RuleSet(rules, STATUSES), NaiveRuleSet(rules)
    snapshots: dict[str, Any] = {}
    pairs = []
    for message in messages:  # realistic lead states: replay once, keep each message's snapshot
        lead = snapshots.get(message.lead_phone)
        pairs.append((message, lead))
        snapshots[message.lead_phone] = process_message(fast, lead, message, now=now, tz=TZ).lead
    results: dict[str, Any] = {}
    fired_counts: dict[str, list[int]] = {}
    for label, ruleset in (("naive", naive), ("indexed", fast)):
        fired: list[int] = []
        started = time.perf_counter()
        for message, lead in pairs:
            if lead is None:
                fired.append(-1)
                continue
            ctx = EvalContext(message=message, lead=lead, now=now, tz=TZ, bank=ruleset.bank)
            count = 0
            for compiled in ruleset.candidates("message.received", message.sender_type, ctx):
                if compiled.check(ctx):
                    count += 1
                    if compiled.rule.stop_processing:
                        break
            fired.append(count)
        elapsed = time.perf_counter() - started
        results[label] = {"messages_per_s": round(len(pairs) / elapsed), "seconds": round(elapsed, 3)}
        fired_counts[label] = fired
    results["same_decisions"] = fired_counts["naive"] == fired_counts["indexed"]
    results["speedup"] = round(results["indexed"]["messages_per_s"] / results["naive"]["messages_per_s"], 2)
    # Engine with actions and bookkeeping (no database): the whole pure part.
    leads: dict[str, Any] = {}
    started = time.perf_counter()
    total_fired = 0
    for message in messages:
        outcome = process_message(fast, leads.get(message.lead_phone), message, now=now, tz=TZ)
        leads[message.lead_phone] = outcome.lead
        total_fired += outcome.fired
    elapsed = time.perf_counter() - started
    results["engine_with_actions"] = {"messages_per_s": round(len(messages) / elapsed),
                                      "rules_fired_per_message": round(total_fired / len(messages), 2)}
    return results


# ------------------------------------------------------------------ end to end (child process)


def bytes_written() -> int | None:
    """Bytes this process has caused to be written to storage (Linux /proc), or None."""
    try:
        with open("/proc/self/io", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def e2e_child(mode: str, workdir: Path, limit: int) -> dict[str, Any]:
    """Replay the workload file through inbox → engine → store with synchronous=FULL, timed
    from reading its first line to the last commit and the final checkpoint, as `wabridge
    replay` runs it."""
    from bridge.commands.replay import CHUNK as REPLAY_CHUNK
    from bridge.commands.replay import ReplaySummary, few_gc_pauses, read_lines, replay_messages
    from store.db import bulk_writes, open_db
    from store.inbox import ingest
    from store.processor import Processor
    from store.rules import load_rules, save_rules

    raw_rules = json.loads((workdir / "rules.json").read_text())
    for stale in workdir.glob(f"{mode}.db*"):  # an earlier round's: its messages would all be duplicates
        stale.unlink()
    db = open_db(workdir / f"{mode}.db", synchronous="FULL")
    env = default_env(STATUSES)
    save_rules(db, parse_rules(raw_rules, env), datetime.now(UTC))
    rules = list(load_rules(db, env).rules)
    ruleset: RuleSet = NaiveRuleSet(rules) if mode == "naive" else RuleSet(rules, STATUSES)
    # "check" is the indexed path on the naive run's prefix, in a database of its own.
    workspace = Workspace("bench", TZ, tuple(STATUSES))
    messages = islice(read_lines(workdir / "messages.jsonl", ReplaySummary()), limit)
    now = lambda: datetime.now(UTC)  # noqa: E731
    latencies: list[float] = []
    new = 0  # messages this run ingested (not already in the database)
    written_before = bytes_written()
    started = time.perf_counter()
    if mode == "naive":
        # Each line read and parsed, then one durable transaction for its inbox row and one
        # for its processing.
        processor = Processor(db, ruleset, workspace, now, batch_size=1)
        t0 = started
        for message in messages:
            new += not ingest(db, message, now()).duplicate
            processor.run()
            t1 = time.perf_counter()
            latencies.append(t1 - t0)
            t0 = t1
    else:
        # `wabridge replay`'s own loop: chunks of REPLAY_CHUNK lines, one commit for a chunk's
        # inbox rows and their effects together (group commit), WAL checkpointed in bulk.
        processor = Processor(db, ruleset, workspace, now, batch_size=1000)
        chunk_started = started

        def chunk_done(results: list[Any], stats: Any) -> None:
            nonlocal chunk_started, new
            ended = time.perf_counter()
            latencies.extend([ended - chunk_started] * len(results))
            new += sum(1 for result in results if not result.duplicate)
            chunk_started = ended

        with bulk_writes(db), few_gc_pauses():
            replay_messages(processor, messages, chunk_done)
    elapsed = time.perf_counter() - started
    leads = {row[0]: row[1:] for row in db.conn.execute(
        "SELECT phone, status, value_actual, score, tags, chat_count, priority FROM leads")}
    pending = db.conn.execute("SELECT COUNT(*) FROM inbox WHERE state != 'done'").fetchone()[0]
    latencies.sort()
    return {
        **effects_summary(db.conn, len(latencies)),
        "mode": mode,
        "messages": len(latencies),
        "new_messages": new,
        "chunk": 1 if mode == "naive" else REPLAY_CHUNK,
        "messages_per_s": round(len(latencies) / elapsed),
        "latency_ms_p50": round(statistics.median(latencies) * 1000, 2),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "disk_written_mb": round((bytes_written() - written_before) / 1e6) if written_before is not None else None,
        "not_done": pending,
        "seconds": round(elapsed, 3),
        "leads_digest": hashlib.sha256(json.dumps(sorted(leads.items())).encode()).hexdigest(),
    }


def _digest(rows: Any) -> str:
    sha = hashlib.sha256()
    for row in rows:
        sha.update(json.dumps(row, ensure_ascii=False).encode())
    return sha.hexdigest()


def _outbox_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """An outbox row without what differs by design between two runs (event ids, clock)."""
    payload = json.loads(row[-1])
    payload.pop("event_id", None)
    body = payload.get("body")
    if isinstance(body, dict):
        body.pop("id", None)
        body.pop("occurred_at", None)
        lead = body.get("lead")
        if isinstance(lead, dict):
            lead.pop("created_at", None)
            lead.pop("updated_at", None)
    return (*row[:-1], payload)


def effects_summary(conn: Any, messages: int) -> dict[str, Any]:
    """What the run produced: per-message averages, and digests of rule runs and outbox
    (without timestamps and event ids) for the differential check."""
    runs = conn.execute("SELECT rule_id, rule_name, trigger, inbox_id, lead_phone, fired, error, notes "
                        "FROM rule_runs ORDER BY id")
    runs_digest = _digest(runs)
    outbox = conn.execute("SELECT kind, idempotency_key, rule_id, lead_phone, inbox_id, target, payload "
                          "FROM outbox ORDER BY id")
    outbox_digest = _digest(_outbox_row(r) for r in outbox)
    fired = conn.execute("SELECT COUNT(*) FROM rule_runs WHERE fired = 1").fetchone()[0]
    webhooks = conn.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'webhook'").fetchone()[0]
    # Tags and score: messages on which a fired rule tagged or scored the lead (a tag it
    # already had included). Status: messages whose lead's status really changed.
    acted: dict[str, set[int]] = {"add_tag": set(), "adjust_score": set()}
    for inbox_id, notes in conn.execute("SELECT inbox_id, notes FROM rule_runs WHERE fired = 1"):
        for note in json.loads(notes):
            kind = note.split(":", 1)[0]
            if kind in acted:
                acted[kind].add(inbox_id)
    status = conn.execute("SELECT COUNT(*) FROM lead_changes WHERE inbox_id IS NOT NULL "
                          "AND changes LIKE '%\"status\"%'").fetchone()[0]
    changed = {"tags": len(acted["add_tag"]), "score": len(acted["adjust_score"]), "status": status}
    per = max(messages, 1)
    return {
        "rules_fired_per_message": round(fired / per, 2),
        "webhooks_per_message": round(webhooks / per, 2),
        "share_tags_changed": round(changed["tags"] / per, 2),
        "share_score_changed": round(changed["score"] / per, 2),
        "share_status_changed": round(changed["status"] / per, 2),
        "runs_digest": runs_digest,
        "outbox_digest": outbox_digest,
    }


FLOOR_TABLES = ("inbox", "leads", "rule_runs", "lead_changes", "outbox")
FLOOR_ROWS = 10_000


def floor_child(workdir: Path) -> dict[str, Any]:
    """The storage floor: insert the rows the indexed run produced into an empty database
    with the same schema, FLOOR_ROWS rows per transaction, synchronous=FULL, and end as the
    replay's bulk writes end, with the WAL checkpointed and truncated. Only the inserts, the
    commits and that checkpoint are timed (reading the source is not): the end-to-end time
    includes the replay's own checkpoint, so the floor does the same work to the same end."""
    import sqlite3

    from store.db import bulk_writes, open_db

    source = sqlite3.connect(workdir / "indexed.db")
    db = open_db(workdir / "floor.db", synchronous="FULL")
    conn = db.conn
    for table in FLOOR_TABLES:  # the migrations may seed rows: the floor starts empty
        conn.execute(f"DELETE FROM {table}")
    conn.commit()
    rows_total = 0
    inserting = 0.0
    written_before = bytes_written()
    with bulk_writes(db):
        for table in FLOOR_TABLES:
            columns = [r[1] for r in source.execute(f"PRAGMA table_info({table})")]
            insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
            cursor = source.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid")
            while rows := cursor.fetchmany(FLOOR_ROWS):
                started = time.perf_counter()
                conn.execute("BEGIN")
                conn.executemany(insert, rows)
                conn.execute("COMMIT")
                inserting += time.perf_counter() - started
                rows_total += len(rows)
        checkpoint_started = time.perf_counter()
    checkpoint = time.perf_counter() - checkpoint_started  # bulk_writes' exit: the final checkpoint
    return {"rows": rows_total, "seconds": round(inserting + checkpoint, 3), "checkpoint_seconds": round(checkpoint, 3),
            "disk_written_mb": round((bytes_written() - written_before) / 1e6) if written_before is not None else None}


def trickle_child(workdir: Path, count: int) -> dict[str, Any]:
    """Daemon-like latency: messages one at a time, each committed, then processed (timed from
    the parsed message, as the daemon gets it from a worker)."""
    from bridge.commands.replay import ReplaySummary, read_lines
    from store.db import open_db
    from store.inbox import ingest
    from store.processor import Processor
    from store.rules import load_rules, save_rules

    db = open_db(workdir / "trickle.db", synchronous="FULL")
    env = default_env(STATUSES)
    save_rules(db, parse_rules(json.loads((workdir / "rules.json").read_text()), env), datetime.now(UTC))
    ruleset = RuleSet(load_rules(db, env).rules, STATUSES)
    processor = Processor(db, ruleset, Workspace("bench", TZ, tuple(STATUSES)), lambda: datetime.now(UTC))
    latencies = []
    for message in islice(read_lines(workdir / "messages.jsonl", ReplaySummary()), count):
        t0 = time.perf_counter()
        ingest(db, message, datetime.now(UTC))
        processor.run()
        latencies.append(time.perf_counter() - t0)
    latencies.sort()
    return {"messages": len(latencies), "latency_ms_p50": round(statistics.median(latencies) * 1000, 2),
            "latency_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2)}


def run_child(*args: str) -> dict[str, Any]:
    output = subprocess.run([sys.executable, __file__, *args], check=False, capture_output=True, text=True)
    if output.returncode:
        sys.exit(f"bench phase {args[1]} failed:\n{output.stderr}")
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


DEFAULT_MESSAGES = {"light": 100_000, "heavy": 30_000}
DEFAULT_NAIVE = {"light": 20_000, "heavy": 10_000}


def prepare_profile(args: argparse.Namespace, profile: str, workdir: Path) -> dict[str, Any]:
    """A profile's workload written to `workdir`, and its in-process phases: evaluation."""
    count = args.messages or (DEFAULT_MESSAGES[profile] // (10 if args.quick else 1))
    raw_rules, raw_messages = profile_workload(profile, count, seed=args.seed, rules=args.rules, senders=args.senders)
    rules = compiled_rules(raw_rules)
    messages = [parse_message(m) for m in raw_messages]
    (workdir / "rules.json").write_text(json.dumps(raw_rules))
    write_jsonl(str(workdir / "messages.jsonl"), raw_messages)
    return {
        "workload": {"profile": profile, "messages": len(messages), "senders": args.senders,
                     "rules": len(rules),
                     "regex_rules": sum(1 for r in raw_rules if "matches" in json.dumps(r["conditions"])),
                     "seed": args.seed},
        "evaluation": bench_evaluation(rules, messages),
    }


def fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The quickest of repeated runs (the one the shared machine disturbed least), with every
    round's time beside it."""
    best = min(runs, key=lambda run: run["seconds"])
    return {**best, "rounds_seconds": [run["seconds"] for run in runs]}


def bench_profiles(args: argparse.Namespace, profiles: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Every profile, every phase. The timed end-to-end runs and storage floors go in rounds
    that alternate the profiles (light, its floor, heavy, its floor, light, ...), so a slower
    spell of the machine falls on both profiles, and on a run and its floor, alike; each
    reports its fastest round."""
    with tempfile.TemporaryDirectory(prefix="wabridge-bench-") as tmp:
        workdirs = {profile: Path(tmp) / profile for profile in profiles}
        reports: dict[str, dict[str, Any]] = {}
        for profile, workdir in workdirs.items():
            workdir.mkdir()
            reports[profile] = prepare_profile(args, profile, workdir)
        indexed: dict[str, list[dict[str, Any]]] = {profile: [] for profile in profiles}
        floors: dict[str, list[dict[str, Any]]] = {profile: [] for profile in profiles}
        for _ in range(args.rounds):
            for profile, workdir in workdirs.items():
                count = reports[profile]["workload"]["messages"]
                indexed[profile].append(run_child("--child", "indexed", str(workdir), str(count)))
                # Right after its run (whose rows it copies): the ratio's two sides close in time.
                floors[profile].append(run_child("--child", "floor", str(workdir), "0"))
        for profile, workdir in workdirs.items():
            count = reports[profile]["workload"]["messages"]
            naive_count = min(args.naive_messages or DEFAULT_NAIVE[profile] // (5 if args.quick else 1), count)
            naive = run_child("--child", "naive", str(workdir), str(naive_count))
            # Same prefix through the indexed path, to check both decide the same.
            check = run_child("--child", "check", str(workdir), str(naive_count))
            trickle = run_child("--child", "trickle", str(workdir), "2000")
            identical = {name: check[f"{name}_digest"] == naive[f"{name}_digest"]
                         for name in ("leads", "runs", "outbox")}
            best, floor = fastest(indexed[profile]), fastest(floors[profile])
            reports[profile]["end_to_end"] = {
                "indexed": best,
                "naive": naive,
                "storage_floor": floor,
                "identical_to_naive": identical,
                "speedup": round(best["messages_per_s"] / naive["messages_per_s"], 2),
                "times_floor": round(best["seconds"] / floor["seconds"], 2),
                "one_at_a_time": trickle,
            }
    return reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=("light", "heavy", "both"), default="both")
    parser.add_argument("--messages", type=int, default=None,
                        help="messages per profile (default: light 100,000, heavy 30,000)")
    parser.add_argument("--senders", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--naive-messages", type=int, default=None,
                        help="messages for the slow naive baseline (default: light 20,000, heavy 10,000)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="timed end-to-end runs and storage floors per profile, alternating the "
                             "profiles; the fastest of each counts (default: 5)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the messages, 1,000 senders, 1 round")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "DIR", "LIMIT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, workdir, limit = args.child
        if mode == "trickle":
            print(json.dumps(trickle_child(Path(workdir), int(limit))))
        elif mode == "floor":
            print(json.dumps(floor_child(Path(workdir))))
        else:
            print(json.dumps(e2e_child(mode, Path(workdir), int(limit))))
        return 0
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.quick:
        args.senders = 1_000
        args.rounds = 1
    profiles: tuple[str, ...] = ("light", "heavy") if args.profile == "both" else (args.profile,)
    reports = bench_profiles(args, profiles)
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "load_average": [round(x, 1) for x in os.getloadavg()]},
        "profiles": reports,
        "targets": targets(reports),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"machine: {report['machine']['cpus']} CPUs, load average {report['machine']['load_average']} "
              "(numbers on a shared machine compare only within one run)")
        for profile_report in reports.values():
            print_profile(profile_report)
        for target, met in report["targets"].items():
            print(f"  [{'met' if met else 'MISSED'}] {target}")
    return 0 if all(report["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
