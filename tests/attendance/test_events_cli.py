"""`wabridge events create|list|codes|export|checkin`."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from engine.attendance import checks_out, compact_of
from tests.conftest import CliResult

Run = Callable[..., CliResult]
WINDOW = ("--start", "2026-11-23 08:00", "--end", "2026-11-24 17:00")


def create(wabridge: Run, *extra: str, name: str = "Grand Opening") -> CliResult:
    result = wabridge("events", "create", "--name", name, "--number", "6281100000001", *WINDOW, *extra)
    assert result.code == 0, result.err
    return result


@pytest.mark.parametrize("action", ["create", "list", "codes", "export", "checkin"])
def test_every_command_has_help(action: str) -> None:
    from bridge.cli import main

    buffer = io.StringIO()
    with pytest.raises(SystemExit) as exit_info, redirect_stdout(buffer):
        main(["events", action, "--help"])
    assert exit_info.value.code == 0
    text = buffer.getvalue()
    assert f"wabridge events {action}" in text and len(text) > 200


def test_create_list_and_codes(wabridge: Run, tmp_path: Path) -> None:
    made = create(wabridge)
    assert "created ticket event 'grand-opening'" in made.out
    example = re.search(r"codes look like (EVT3-[0-9A-Z]{6});", made.out)
    assert example and checks_out(compact_of(example.group(1)))  # the example is a code that would pass
    attendees = tmp_path / "attendees.csv"
    attendees.write_text("Nama;No HP;E-mail;Kota\nSari;0812-3456-7890;sari@example.com;Bandung\n"
                         "Budi;6281299998888;;Jakarta\n", encoding="utf-8-sig")
    imported = wabridge("events", "codes", "grand-opening", "--import", str(attendees), "--qr-dir",
                        str(tmp_path / "qr"), "--format", "svg")
    assert imported.code == 0, imported.err
    lines = imported.out.strip().splitlines()
    assert len(lines) == 2 and "Sari\t6281234567890\tused 0/1" in lines[0]
    code = lines[0].split("\t")[0]
    assert checks_out(compact_of(code)) and lines[0].endswith(f"?text=CHECKIN%20{code}")
    assert sorted(p.name for p in (tmp_path / "qr").iterdir()) == sorted(f"{line.split()[0]}.svg" for line in lines)
    generated = wabridge("events", "codes", "grand-opening", "--generate", "3", "--json")
    assert generated.code == 0 and len(generated.json()) == 3
    assert len(wabridge("events", "codes", "grand-opening").out.strip().splitlines()) == 5
    listed = wabridge("events", "list")
    assert "grand-opening" in listed.out and "in 0/5" in listed.out
    assert wabridge("events", "list", "--json").json()[0]["counts"]["expected"] == 5


def test_bad_input_is_named(wabridge: Run, tmp_path: Path) -> None:
    bad = wabridge("events", "create", "--name", "X", "--number", "6281100000001", "--start", "2026-11-23 18:00",
                   "--end", "2026-11-23 17:00")
    assert bad.code == 1 and bad.err.strip() == "error: --end: must be after start"
    bad = wabridge("events", "create", "--name", "X", "--number", "6281100000001", *WINDOW, "--reply", "hi=there")
    assert bad.code == 1 and bad.err.startswith("error: --reply hi: is not a reply")
    bad = wabridge("events", "create", "--name", "X", "--number", "6281100000001", *WINDOW, "--uses", "3")
    assert bad.code == 1 and "--uses" in bad.err
    create(wabridge)
    sheet = tmp_path / "bad.csv"
    sheet.write_text("name,phone\nSari,0812\n", encoding="utf-8")
    bad = wabridge("events", "codes", "grand-opening", "--import", str(sheet))
    assert bad.code == 1 and "row 1 (line 2): phone" in bad.err and "nothing was imported" in bad.err
    sheet.write_text("company,city\nX,Y\n", encoding="utf-8")
    assert "name and/or phone" in wabridge("events", "codes", "grand-opening", "--import", str(sheet)).err
    assert wabridge("events", "codes", "nope").err.startswith("error: no event 'nope'")


def test_manual_checkin_and_export(wabridge: Run, tmp_path: Path) -> None:
    create(wabridge)
    code = wabridge("events", "codes", "grand-opening", "--generate", "2").out.split("\t")[0]
    done = wabridge("events", "checkin", code.lower().replace("-", " "))
    assert done.code == 0 and done.out.startswith(f"checked in: guest ({code}) to Grand Opening")
    again = wabridge("events", "checkin", code)
    assert again.code == 1 and "was already checked in at" in again.err
    assert wabridge("events", "checkin", "EVT3-ZZZZZZ").code == 1
    exported = wabridge("events", "export", "grand-opening")
    rows = list(csv.DictReader(io.StringIO(exported.out)))
    assert [r["uses"] for r in rows] == ["1", "0"] and rows[0]["first_checked_in_at"]
    assert wabridge("events", "export", "grand-opening", "-o", str(tmp_path / "out.csv")).code == 0
    assert (tmp_path / "out.csv").read_text().startswith("code,name,phone,email,uses")


def test_open_event_by_phone(wabridge: Run) -> None:
    made = create(wabridge, "--mode", "open", "--capacity", "80", name="Meetup")
    assert "shared code EVT3-" in made.out and "wa.me/6281100000001?text=CHECKIN%20EVT3-" in made.out
    assert "open event" in wabridge("events", "codes", "meetup", "--generate", "2").err
    done = wabridge("events", "checkin", "--event", "meetup", "--phone", "0812 1111 2222", "--name", "Ani")
    assert done.code == 0 and "checked in: Ani" in done.out
    assert wabridge("events", "checkin", "--event", "meetup", "--phone", "6281211112222").code == 1
    missing = wabridge("events", "checkin", "--event", "meetup")
    assert missing.code == 1 and "phone" in missing.err
    rows = list(csv.DictReader(io.StringIO(wabridge("events", "export", "meetup").out)))
    assert [(r["name"], r["phone"], r["source"]) for r in rows] == [("Ani", "6281211112222", "manual")]


def test_a_checkin_from_the_command_line_tells_the_subscribers(wabridge: Run, data_dir: Path) -> None:
    """`wabridge events checkin` from another process queues `checkin.recorded` for the
    subscriptions (the dashboard's here) as the door page does; the daemon delivers it."""
    from datetime import UTC, datetime

    from store.db import DB_FILENAME, open_db
    from store.subscriptions import Subscription, save_subscription

    create(wabridge)
    code = wabridge("events", "codes", "grand-opening", "--generate", "1").out.split("\t")[0]
    db = open_db(data_dir / DB_FILENAME)
    save_subscription(db, Subscription("door-sheet", "http://127.0.0.1:9/hook", frozenset({"checkin.recorded"}),
                                       source="dashboard"), datetime.now(UTC))
    db.conn.close()
    done = wabridge("events", "checkin", code, "--name", "Sari")
    assert done.code == 0, done.err
    db = open_db(data_dir / DB_FILENAME)
    rows = db.conn.execute("SELECT kind, target, payload FROM outbox").fetchall()
    assert [(kind, target) for kind, target, _ in rows] == [("webhook", "subscription:door-sheet")]
    payload = json.loads(rows[0][2])
    assert payload["event"] == "checkin.recorded"
    checkin = payload["body"]["checkin"]
    assert (checkin["code"], checkin["name"], checkin["source"]) == (code, "Sari", "manual")
