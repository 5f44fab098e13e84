"""`wabridge import-chat`: dry run, import as history (no rules), twice = no-op, overlap, refusals."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

from tests.conftest import CliResult

EXPORTS = Path(__file__).parent / "exports"
ADMIN = "6281100000001"
CUSTOMER = "6281234567890"


def inbox(data_dir: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(data_dir / "wabridge.db") as conn:
        return conn.execute("SELECT message_id, state, json_extract(payload, '$.from_me') FROM inbox "
                            "ORDER BY id").fetchall()


def lead(wabridge, phone: str = CUSTOMER) -> dict:  # type: ignore[no-untyped-def,type-arg]
    result = wabridge("leads", "export")
    assert result.code == 0, result.err
    return next(row for row in map(json.loads, result.out.splitlines()) if row["phone"] == phone)  # type: ignore[no-any-return]


def test_dry_run_prints_sides_times_skipped_and_not_understood_lines(wabridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "chat.txt"
    path.write_text("oops\n" + (EXPORTS / "android_id_dmy_24h.txt").read_text(encoding="utf-8"), encoding="utf-8")
    result: CliResult = wabridge("import-chat", str(path), "--number", ADMIN, "--me", "Toko Budi", "--dry-run")
    assert result.code == 0, result.err
    assert "messages: 4 (3 customer, 1 team)" in result.out
    assert "first: 2024-03-12T09:00:00+07:00  last: 2024-03-13T14:30:00+07:00" in result.out
    assert "system lines skipped: 3, lines not understood: 1" in result.out
    assert f"{path}:1: not understood: oops" in result.err
    data = wabridge("import-chat", str(path), "--number", ADMIN, "--me", "Toko Budi", "--dry-run", "--json").json()
    assert data["dry_run"] is True and data["customer_phone"] == CUSTOMER and data["team_messages"] == 1


def test_import_makes_the_lead_without_rules_and_twice_changes_nothing(wabridge, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    assert wabridge("templates", "install", "identify-hot-lead", "auto-closing").code == 0
    path = EXPORTS / "ios_en_mdy_seconds.txt"
    args = ("import-chat", str(path), "--number", ADMIN, "--me", "Toko Budi", "--customer", "+62 812-3456-7890")
    first = wabridge(*args, "--json")
    assert first.code == 0, first.err
    summary = first.json()
    assert (summary["new"], summary["duplicates_skipped"], summary["rules_fired"]) == (6, 0, 0)
    found = lead(wabridge)
    # "Payment received Rp 250.000" was history: no status change, no captured value.
    assert found["status"] == "new" and found["value_actual"] is None
    assert found["name"] == "Sari" and found["chat_count"] == 4
    assert found["created_at"].startswith("2019-01-20T11:23:45+07:00")
    rows = inbox(data_dir)
    assert len(rows) == 6 and {state for _, state, _ in rows} == {"done"}
    assert sum(1 for _, _, from_me in rows if from_me) == 2  # the business's messages are Team messages
    again = wabridge(*args, "--json").json()
    assert (again["new"], again["duplicates_skipped"]) == (0, 6)
    assert lead(wabridge)["chat_count"] == 4 and len(inbox(data_dir)) == 6


def test_a_later_overlapping_export_adds_only_the_new_messages(wabridge, tmp_path: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    full = (EXPORTS / "android_en_mdy_12h.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    early, later = tmp_path / "early.txt", tmp_path / "later.txt"
    early.write_text("".join(full[:4]), encoding="utf-8")
    later.write_text("".join(full[1:]), encoding="utf-8")  # starts later, ends later
    args = ("--number", ADMIN, "--me", "Budi CS", "--json")
    assert wabridge("import-chat", str(early), *args).json()["new"] == 3
    second = wabridge("import-chat", str(later), *args).json()
    assert (second["new"], second["duplicates_skipped"]) == (2, 3)
    assert lead(wabridge)["chat_count"] == 3


def test_run_rules_replays_the_history_through_the_rules(wabridge) -> None:  # type: ignore[no-untyped-def]
    assert wabridge("templates", "install", "auto-closing").code == 0
    result = wabridge("import-chat", str(EXPORTS / "ios_en_mdy_seconds.txt"), "--number", ADMIN,
                      "--me", "Toko Budi", "--customer", CUSTOMER, "--run-rules", "--json")
    assert result.code == 0, result.err
    assert result.json()["rules_fired"] >= 1
    found = lead(wabridge)
    assert found["status"] == "purchase" and found["value_actual"] == 250000
    assert found["created_at"].startswith("2019-01-20T11:23:45")


def test_a_zip_export_is_read(wabridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "WhatsApp Chat - Sari.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("_chat.txt", (EXPORTS / "ios_en_mdy_seconds.txt").read_text(encoding="utf-8"))
        archive.writestr("00000012-PHOTO-2019-01-20-11-25-30.jpg", b"\xff\xd8 not really a jpeg")
    result = wabridge("import-chat", str(path), "--number", ADMIN, "--me", "Toko Budi", "--customer", CUSTOMER,
                      "--dry-run", "--json")
    assert result.code == 0, result.err
    assert result.json()["messages"] == 6


def test_refusals_say_what_to_do(wabridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    group = wabridge("import-chat", str(EXPORTS / "group.txt"), "--number", ADMIN)
    assert group.code == 1 and "group export" in group.err
    ambiguous = wabridge("import-chat", str(EXPORTS / "ambiguous.txt"), "--number", ADMIN, "--me", "Toko Budi")
    assert ambiguous.code == 1 and "--date-order dmy, mdy or ymd" in ambiguous.err
    fixed = wabridge("import-chat", str(EXPORTS / "ambiguous.txt"), "--number", ADMIN, "--me", "Toko Budi",
                     "--date-order", "dmy", "--dry-run")
    assert fixed.code == 0 and "first: 2021-04-03T10:00:00+07:00" in fixed.out
    name_only = wabridge("import-chat", str(EXPORTS / "ios_en_mdy_seconds.txt"), "--number", ADMIN, "--me", "Toko Budi")
    assert name_only.code == 1 and "'Sari', not as a phone number; pass --customer" in name_only.err
    two_unknown = wabridge("import-chat", str(EXPORTS / "ios_en_mdy_seconds.txt"), "--number", ADMIN)
    assert two_unknown.code == 1 and "pass --me" in two_unknown.err
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("20/01/19, 11:25 - Jos\xe9: ol\xe1\n".encode("latin-1"))
    assert "not UTF-8" in wabridge("import-chat", str(latin1), "--number", ADMIN).err
    assert "not a phone number" in wabridge("import-chat", str(latin1), "--number", "abc").err
    assert wabridge("import-chat", str(EXPORTS / "group.txt")).code == 1  # which number?
