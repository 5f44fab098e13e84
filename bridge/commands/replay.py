"""`wabridge replay FILE.jsonl`: feed recorded messages through the daemon's own path
(inbox → engine → store), in chunks, so a killed replay resumes where it stopped."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import orjson
import structlog
from tqdm import tqdm

from bridge.commands.common import Context, err, out, out_json, read_rules_file, utc_now
from bridge.errors import EXIT_FAILED, EXIT_OK
from bridge.outbox.views import outbox_policy
from engine.errors import RuleSetError
from engine.model import Message, MessageFormatError, parse_message
from store.db import bulk_writes
from store.inbox import Ingested
from store.leads import count_leads_by_status
from store.process_stats import add_stats
from store.processor import Processor, ProcessStats
from store.rules import save_rules

log = structlog.get_logger(__name__)
# Net new objects (allocated less freed) between young-generation collections during a replay:
# above a chunk's working set (few_gc_pauses).
GC_FIRST_GENERATION = 200_000
CHUNK = 10_000  # messages per transaction: larger commits rewrite shared pages (leads, indexes) less often


@dataclass(slots=True)
class ReplaySummary:
    """What a replay did (printed at the end; `--json` for scripts)."""

    lines: int = 0
    chars_read: int = 0  # of the file, for the progress bar (characters: bytes for ASCII)
    messages: int = 0
    duplicates: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    processing: ProcessStats = field(default_factory=ProcessStats)

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "lines": self.lines,
            "messages": self.messages,
            "duplicates_skipped": self.duplicates,
            "bad_lines": [{"line": n, "error": e} for n, e in self.bad_lines],
            "processed": self.processing.processed,
            "rules_fired": self.processing.fired,
            "status_changes": self.processing.status_changes,
            "outbox_queued": self.processing.queued,
            "errors": [{"inbox_id": i, "error": e} for i, e in self.processing.errors],
        }


def read_lines(path: Path, summary: ReplaySummary) -> Iterator[Message]:
    """Yield parsed messages; a bad line is recorded with its number and skipped."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            summary.chars_read += len(line)
            if not line.strip():
                continue
            summary.lines += 1
            try:
                yield parse_message(read_json(line))
            except json.JSONDecodeError as exc:
                summary.bad_lines.append((number, f"not JSON ({exc.msg} at column {exc.colno})"))
            except RecursionError:
                summary.bad_lines.append((number, "not JSON (nested too deeply)"))
            except MessageFormatError as exc:
                summary.bad_lines.append((number, str(exc)))


def read_json(line: str) -> object:
    """One line's JSON value. orjson reads valid JSON in a third of the time; what it refuses
    (NaN, a lone surrogate escape, nesting past 1,024) goes to the standard parser, so such a
    line reads as it always did and a bad one fails with the same words. (An integer past 64
    bits reads as a float: no message field holds one; as a timestamp it is out of range
    either way.)"""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def replay_messages(processor: Processor, messages: Iterable[Message],
                    chunk_done: Callable[[list[Ingested], ProcessStats], None]) -> None:
    """The replay's loop: CHUNK messages at a time, each chunk's inbox rows and all their
    effects in ONE transaction (the file is the source, so a crash loses the chunk whole and
    the rerun ingests it again). `chunk_done` hears each committed chunk."""
    # Each chunk commits on the write-behind thread while the next one is read and parsed here;
    # `chunk_done` hears a chunk once its commit is through (the next chunk waits for it first).
    source = iter(messages)
    landed: tuple[list[Ingested], ProcessStats] | None = None
    try:
        while chunk := list(islice(source, CHUNK)):
            ingested = processor.ingest_and_run(chunk, utc_now(), commit_behind=True)
            if landed is not None:
                chunk_done(*landed)
            landed = ingested
    except BaseException:
        with contextlib.suppress(BaseException):  # what went wrong first is what is raised
            processor.write_behind.committed()
        raise
    processor.write_behind.committed()
    if landed is not None:
        chunk_done(*landed)


@contextmanager
def few_gc_pauses(first_generation: int = GC_FIRST_GENERATION) -> Iterator[None]:
    """Collect cyclic garbage less often while replaying, and never walk what was there before.

    A replay allocates millions of short-lived, acyclic objects (freed by reference counting
    anyway); with the default threshold (700) the cyclic collector ran ~800 times per 100,000
    messages, 7% of the run. The young generation's count is objects allocated less objects
    freed, so the threshold is set above what a replay keeps alive at once: a chunk's parsed
    messages, their inbox results and two batches' outcomes, ~65,000 objects on a heavy rule
    set. At 50,000, each heavy chunk set off a collection walking all of them (26 ms each, 3% of
    the replay, 0.6% of a light one); reference cycles, which nothing else frees, still set one
    off. And every full collection walked all that was alive before the replay began
    (modules, the rules, the configuration) again: frozen out of the collector for the run
    (`gc.freeze`), a heavy replay takes ~7% less time (scripts/bench.py). The thresholds come
    back and the objects are unfrozen afterwards; a caller that froze objects itself keeps
    them frozen.
    """
    before = gc.get_threshold()
    freezing = gc.get_freeze_count() == 0
    if freezing:
        # Garbage frozen now would stay until the end: the young generations hold what just ran.
        # (A full collection walked all that lives, 18 ms a bench replay; old garbage, rare,
        # waits for the unfreeze.)
        gc.collect(1)
        gc.freeze()
    gc.set_threshold(first_generation, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if freezing:
            gc.unfreeze()


def replay(ctx: Context, path: Path, *, progress: bool) -> ReplaySummary:
    """Ingest and process a JSONL file chunk by chunk; pending work from a killed run goes first."""
    ruleset, broken = ctx.ruleset()
    for problem in broken:
        log.warning("rule_skipped_invalid", problem=problem)
    processor = Processor(ctx.db, ruleset, ctx.config.workspace.to_workspace(), utc_now)
    processor.outbox_policy = outbox_policy(ctx.config)  # [conversions] as the daemon applies it
    summary = ReplaySummary()
    add_stats(summary.processing, processor.run())  # leftovers of an interrupted run
    total = path.stat().st_size
    bar = tqdm(total=total, unit="B", unit_scale=True, disable=not progress, file=sys.stderr,
               desc="replay")
    position = 0

    def chunk_done(results: list[Ingested], stats: ProcessStats) -> None:
        nonlocal position
        summary.messages += sum(1 for r in results if not r.duplicate)
        summary.duplicates += sum(1 for r in results if r.duplicate)
        add_stats(summary.processing, stats)
        # The file's position where this chunk ended (chunks are committed behind the reading).
        new_position = min(total, chunk_ends.popleft() if chunk_ends else summary.chars_read)
        bar.update(max(new_position - position, 0))
        position = new_position

    chunk_ends: deque[int] = deque()

    def marking_chunk_ends(messages: Iterator[Message]) -> Iterator[Message]:
        for count, message in enumerate(messages, start=1):
            if count % CHUNK == 0:
                chunk_ends.append(summary.chars_read)
            yield message

    with bulk_writes(ctx.db), few_gc_pauses():
        replay_messages(processor, marking_chunk_ends(read_lines(path, summary)), chunk_done)
    bar.update(total - position)
    bar.close()
    return summary


def cmd_replay(ctx: Context, args: argparse.Namespace) -> int:
    """Replay a JSON Lines file of normalised messages."""
    path = Path(args.file)
    if not path.is_file():
        err(f"{path}: no such file")
        return EXIT_FAILED
    if args.rules:
        try:
            rules = read_rules_file(Path(args.rules), ctx.env())
        except RuleSetError as exc:
            err(f"{args.rules}: {len(exc.errors)} problem(s); nothing was replayed")
            for problem in exc.errors:
                err(f"  {problem.describe()}")
            return EXIT_FAILED
        result = save_rules(ctx.db, rules, utc_now())
        out(f"rules from {args.rules}: {len(result.created)} created, {len(result.updated)} updated")
    summary = replay(ctx, path, progress=sys.stderr.isatty() and not args.json)
    for number, problem in summary.bad_lines:
        err(f"{path}:{number}: skipped: {problem}")
    for inbox_id, problem in summary.processing.errors:
        err(f"inbox #{inbox_id}: not processed: {problem}")
    if args.json:
        data = summary.to_dict()
        data["leads_by_status"] = count_leads_by_status(ctx.db)
        out_json(data)
    else:
        p = summary.processing
        out(f"messages: {summary.messages} new, {summary.duplicates} duplicates skipped, "
            f"{len(summary.bad_lines)} bad lines")
        out(f"processed: {p.processed}, rules fired: {p.fired}, status changes: {p.status_changes}, "
            f"outbox queued: {p.queued}, errors: {len(p.errors)}")
        by_status = count_leads_by_status(ctx.db)
        out("leads by status: " + (", ".join(f"{s}={n}" for s, n in sorted(by_status.items())) or "none"))
    return EXIT_OK if not summary.bad_lines and not summary.processing.errors else EXIT_FAILED


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `replay`."""
    p = sub.add_parser(
        "replay", parents=[common], help="feed a JSON Lines file of messages through the rules",
        description="Feed normalised messages (one JSON object per line, the format in docs/message-format.md) "
                    "through the same inbox -> engine -> store path the daemon uses. Re-running the "
                    "same file skips messages already seen; an interrupted run resumes.",
    )
    p.add_argument("file", help="JSON Lines file, e.g. examples/conversation.jsonl")
    p.add_argument("--rules", help="import this TOML/JSON rules file first (saved, by name)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_replay)
