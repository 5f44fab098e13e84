"""`wabridge rules …`, `templates …` and `leads export`: the command-line contract."""

from __future__ import annotations

import csv
import io
import json
import tomllib
from pathlib import Path

import pytest

from tests.conftest import message, write_jsonl

DESIGN_TOML = '''
[[rules]]
name = "Identify Hot Lead (Keyword)"
trigger = "message.received"
sender = "customer"
priority = 20
conditions = [
  { field = "message.text", op = "contains", value = "order, buy, booking" },
  { field = "lead.status", op = "equal", value = "responded" },
]
actions = [ { type = "set_status", status = "hot" } ]

[[rules]]
name = "Auto-Closing & Capture Value (Regex)"
trigger = "message.received"
sender = "all"
priority = 30
stop_processing = true
conditions = [
  { any = [
    { field = "message.text", op = "contains", value = "payment received" },
    { field = "message.text", op = "matches", value = "(?i)sudah\\\\s+(transfer|bayar)" },
  ] },
]
actions = [
  { type = "update_value", target = "lead.value_actual", preset = "rupiah_flexible" },
  { type = "set_status", status = "purchase" },
]
'''


def test_design_md_example_validates_imports_and_round_trips(wabridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "rules.toml"
    path.write_text(DESIGN_TOML)
    assert wabridge("rules", "validate", str(path)).out.strip().endswith("2 rule(s) valid")
    assert wabridge("rules", "list").out.startswith("no rules yet: `wabridge templates list`")
    assert "2 created, 0 updated" in wabridge("rules", "import", str(path)).out
    exported = wabridge("rules", "export").out
    document = tomllib.loads(exported)
    assert [r["name"] for r in document["rules"]] == ["Identify Hot Lead (Keyword)",
                                                      "Auto-Closing & Capture Value (Regex)"]
    assert document["rules"][1]["conditions"][0]["any"][1]["value"] == "(?i)sudah\\s+(transfer|bayar)"
    # Export → import is stable: updating with its own export changes nothing.
    again = tmp_path / "again.toml"
    again.write_text(exported)
    assert "0 created, 2 updated" in wabridge("rules", "import", str(again)).out
    assert wabridge("rules", "export").out == exported
    as_json = json.loads(wabridge("rules", "export", "--format", "json").out)
    assert as_json["rules"][0]["conditions"][0] == {"field": "message.text", "op": "contains",
                                                    "value": "order, buy, booking"}
    json_path = tmp_path / "rules.json"
    json_path.write_text(json.dumps(as_json))
    assert wabridge("rules", "validate", str(json_path)).code == 0


def test_invalid_rules_name_the_rule_the_path_and_the_problem(wabridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.toml"
    path.write_text('''
[[rules]]
name = "ok"
actions = [ { type = "add_tag", tag = "x" } ]

[[rules]]
name = "catastrophic"
conditions = [ { field = "message.text", op = "matches", value = "(a+)+\\\\1" } ]
actions = [ { type = "add_tag", tag = "x" } ]

[[rules]]
name = "wrong status"
conditions = [ { field = "message.text", op = "contains", value = "x" },
               { field = "lead.status", op = "equal", value = "vip" } ]
actions = [ { type = "set_status", status = "hot" } ]
''')
    result = wabridge("rules", "validate", str(path))
    assert result.code == 1
    assert 'rule "catastrophic": rules[1].conditions[0].value:' in result.err
    assert "not a valid RE2 regular expression" in result.err
    assert 'rule "wrong status": rules[2].conditions[1].value: \'vip\' is not one of' in result.err
    assert "nothing was saved" in result.err
    assert wabridge("rules", "import", str(path)).code == 1
    assert wabridge("rules", "list", "--json").json() == []


def test_templates_list_and_install(wabridge) -> None:  # type: ignore[no-untyped-def]
    lines = wabridge("templates", "list").out.splitlines()
    assert lines == ["mark-active-lead\tMark Active Lead (CTWA)",
                     "identify-hot-lead\tIdentify Hot Lead (Keyword)",
                     "auto-closing\tAuto-Closing & Capture Value (Regex)",
                     "event-check-in\tEvent Check-in",
                     "voucher-redemption\tVoucher Redemption"]
    listed = wabridge("templates", "list", "--json").json()
    assert [t["slug"] for t in listed] == ["mark-active-lead", "identify-hot-lead", "auto-closing",
                                           "event-check-in", "voucher-redemption"]
    assert wabridge("templates", "install", "nope").code == 1
    assert "installed: Mark Active Lead (CTWA)" in wabridge("templates", "install", "mark-active-lead").out
    assert "updated:   Mark Active Lead (CTWA)" in wabridge("templates", "install", "mark-active-lead").out
    assert len(wabridge("rules", "list", "--json").json()) == 1


def test_rules_test_dry_run_explains_each_rule(wabridge) -> None:  # type: ignore[no-untyped-def]
    wabridge("templates", "install", "mark-active-lead", "identify-hot-lead", "auto-closing")
    result = wabridge("rules", "test", "--text", "saya mau order dua", "--status", "responded",
                      "--chat-count", "4", "--json")
    report = result.json()
    by_name = {r["rule"]: r for r in report["rules"]}
    assert by_name["Identify Hot Lead (Keyword)"]["fired"] is True
    mark = by_name["Mark Active Lead (CTWA)"]
    assert mark["fired"] is False
    failing = [c for c in mark["conditions"]["children"] if not c["passed"]]
    assert failing == [{"path": "conditions[1]", "kind": "leaf", "passed": False, "field": "lead.status",
                        "label": "Lead Status", "op": "equal", "expected": "new", "seen": "responded"}]
    assert report["lead_after"]["status"] == "hot"
    text = wabridge("rules", "test", "--text", "Payment received Rp 2.000.000,00", "--sender-type", "team").out
    assert "FIRES  [message.received] Auto-Closing & Capture Value (Regex)" in text
    assert "value_actual = 2000000" in text
    assert "sender is customer, this message is from the team" in text
    # Nothing was saved by the dry run.
    assert wabridge("leads", "export").out == ""


def test_rules_enable_disable_delete(wabridge) -> None:  # type: ignore[no-untyped-def]
    wabridge("templates", "install", "mark-active-lead")
    rule_id = wabridge("rules", "list", "--json").json()[0]["id"]
    assert wabridge("rules", "disable", str(rule_id)).code == 0
    assert "[disabled]" in wabridge("rules", "list").out
    assert wabridge("rules", "enable", str(rule_id)).code == 0
    assert wabridge("rules", "delete", str(rule_id)).code == 0
    missing = wabridge("rules", "delete", str(rule_id))
    assert missing.code == 1 and f"no rule with id {rule_id}" in missing.err


def test_leads_export_jsonl_and_csv_with_filters(wabridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    wabridge("templates", "install", "auto-closing")
    rows = [message(id="1", text="halo"),
            message(id="2", from_me=True, text="Payment received Rp 1.500.000"),
            message(id="3", chat="6289@s.whatsapp.net", sender="6289@s.whatsapp.net", text="hi")]
    wabridge("replay", str(write_jsonl(tmp_path / "m.jsonl", rows)))
    leads = [json.loads(line) for line in wabridge("leads", "export").out.splitlines()]
    assert {lead["phone"] for lead in leads} == {"6281234567890", "6289"}
    expected_keys = {"phone", "jid", "name", "status", "priority", "score", "source", "notes", "city",
                     "region", "country", "utm_source", "utm_medium", "utm_campaign", "utm_term",
                     "utm_content", "value_actual", "value_potential", "tags", "chat_count",
                     "created_at", "updated_at"}
    assert expected_keys <= set(leads[0])
    only = wabridge("leads", "export", "--status", "purchase").out.splitlines()
    assert [json.loads(line)["value_actual"] for line in only] == [1500000]
    table = list(csv.DictReader(io.StringIO(wabridge("leads", "export", "--format", "csv").out)))
    assert {row["phone"] for row in table} == {"6281234567890", "6289"}
    assert {row["city"] for row in table} == {""}


def test_leads_csv_export_neutralises_formula_cells(wabridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A customer named "=HYPERLINK(...)" must not become a live formula in the shop's spreadsheet."""
    rows = [message(id="1", text="halo", sender_name="=HYPERLINK(\"http://x\")")]
    wabridge("replay", str(write_jsonl(tmp_path / "m.jsonl", rows)))
    out_file = tmp_path / "leads.csv"
    done = wabridge("leads", "export", "--format", "csv", "--output", str(out_file))
    assert "wrote 1 lead(s)" in done.err
    (row,) = list(csv.DictReader(io.StringIO(out_file.read_text(encoding="utf-8"))))
    assert row["name"] == "'=HYPERLINK(\"http://x\")"
    assert row["chat_count"] == "1"


def test_unknown_config_key_is_refused_with_key_value_and_expectation(wabridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "config.toml"
    config.write_text('[workspace]\nname = "Toko"\ntimezon = "Asia/Jakarta"\n')
    result = wabridge("--config", str(config), "rules", "list")
    assert result.code == 11
    assert "workspace.timezon" in result.err and "no such setting" in result.err
    config.write_text('[workspace]\ntimezone = "Mars/Olympus"\n')
    result = wabridge("--config", str(config), "rules", "list")
    assert result.code == 11 and "workspace.timezone = 'Mars/Olympus'" in result.err
    assert "IANA timezone" in result.err


@pytest.mark.parametrize(("section", "key", "value", "expected"), [
    ("store", "rule_run_retention_days", 10**12, "a whole number from 1 to 36,525"),
    ("http", "idle_timeout_seconds", 2**63, "a whole number from 1 to 86,400"),
    ("attribution", "visitor_ttl_hours", 10**9, "a whole number from 1 to 87,840"),
    ("outbox", "retention_days", 10**7, "a whole number from 1 to 36,525"),
    ("webhooks", "timeout", "inf", 'at most "36525d"'),
    ("webhooks", "retry_max", "nan", 'at most "36525d"'),
])
def test_a_number_past_its_range_is_refused_at_start(wabridge, tmp_path: Path, section: str, key: str,  # type: ignore[no-untyped-def]
                                                    value: int, expected: str) -> None:
    """A typo of a few zeros is refused naming the key and its range (a retention of 10**12 days
    cannot be subtracted from today: the daemon would have failed later instead)."""
    config = tmp_path / "config.toml"
    config.write_text(f'[workspace]\nname = "Toko"\n[{section}]\n{key} = {value}\n')
    result = wabridge("--config", str(config), "rules", "list")
    assert result.code == 11, result.err
    assert f"{section}.{key} = " in result.err and expected in result.err


def test_rules_suggest_prints_an_importable_draft(wabridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sentence = "kalau customer bilang transfer dan status hot, ubah ke purchase dan ambil nominal Rp"
    result = wabridge("rules", "suggest", sentence)
    assert result.code == 0, result.err
    assert "understood: 'status hot' = Lead Status equal hot" in result.out
    draft = result.out[result.out.index("[[rules]]"):]
    (rule,) = tomllib.loads(draft)["rules"]
    assert rule["conditions"] == [{"field": "message.text", "op": "contains", "value": "transfer"},
                                  {"field": "lead.status", "op": "equal", "value": "hot"}]
    assert rule["actions"][0] == {"type": "set_status", "status": "purchase"}
    path = tmp_path / "suggested.toml"
    path.write_text(draft)
    assert "1 created" in wabridge("rules", "import", str(path)).out  # the printed draft imports as it is
    as_json = json.loads(wabridge("rules", "suggest", sentence, "--json").out)
    assert as_json["ok"] is True and as_json["rule"]["conditions"] == rule["conditions"]


def test_rules_suggest_says_what_it_did_not_understand_and_exits_1(wabridge) -> None:  # type: ignore[no-untyped-def]
    result = wabridge("rules", "suggest", "tolong bikinkan yang bagus")
    assert result.code == 1
    assert result.err.startswith("I did not understand this sentence: bikinkan, bagus.")
    assert "[[rules]]" not in result.out
    assert json.loads(wabridge("rules", "suggest", "tolong bikinkan yang bagus", "--json").out)["rule"] is None


def test_import_replace_with_an_empty_file_deletes_nothing(wabridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "rules.toml"
    path.write_text(DESIGN_TOML)
    assert wabridge("rules", "import", str(path)).code == 0
    empty = tmp_path / "empty.toml"
    empty.write_text("# nothing yet\n")
    result = wabridge("rules", "import", "--replace", str(empty))
    assert result.code == 1 and "nothing was changed" in result.err
    assert "Identify Hot Lead" in wabridge("rules", "list").out
