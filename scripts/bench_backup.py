"""How long the backup commands and the start check take on a realistic database.

Run:  python scripts/bench_backup.py [--messages 100000]

Replays N seeded messages (scripts/workload.py) into a fresh data dir with `wabridge
replay`, then times `PRAGMA quick_check` (what `wabridge run` does before it starts),
`wabridge backup`, and `wabridge restore` into an empty data dir, each as a real command.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workload import make_messages, write_jsonl  # noqa: E402

from store.backup import integrity_problems  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def wabridge(config: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bridge.cli", "--config", str(config), *args], cwd=ROOT, check=True,
                   capture_output=True, text=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for name in ("shop", "new"):
            (base / name).mkdir()
            (base / name / "config.toml").write_text(f'[store]\ndata_dir = "{base / name / "data"}"\n')
        messages = make_messages(random.Random(7), count=args.messages, senders=max(10, args.messages // 10))
        write_jsonl(str(base / "messages.jsonl"), messages)
        replay = wabridge(base / "shop" / "config.toml", "replay", str(base / "messages.jsonl"))
        db = base / "shop" / "data" / "wabridge.db"
        started = time.perf_counter()
        assert integrity_problems(db, writable=True) == []
        check = time.perf_counter() - started
        backup = wabridge(base / "shop" / "config.toml", "backup", str(base / "backup"))
        restore = wabridge(base / "new" / "config.toml", "restore", str(base / "backup"))
        size = db.stat().st_size / 1e6
        print(f"{args.messages:,} messages replayed in {replay:.1f} s; database {size:.1f} MB")
        print(f"PRAGMA quick_check (start check): {check:.2f} s")
        print(f"wabridge backup: {backup:.2f} s    wabridge restore (integrity_check included): {restore:.2f} s")


if __name__ == "__main__":
    main()
