"""Reading a lead CSV (issue #13): the whole file is checked before anything is imported.

- UTF-8 (with or without the BOM Excel writes); another encoding is refused naming the
  encoding it looks like (charset-normalizer), so nothing is imported as mojibake.
- The first row is the header: field names (`phone`, `utm_source`, …) or common aliases
  (`nama`, `no hp`, `whatsapp`, `kota`, `catatan`, …), any case; other columns are ignored
  and listed. Cells are separated by `,`, `;` or tabs (Excel in Indonesian uses `;`).
- An empty cell leaves the field as it is; `tags` cells (`vip; repeat`) add tags.
- Limits: MAX_IMPORT_BYTES and MAX_IMPORT_ROWS. Any bad row, or a phone on two rows,
  refuses the whole file, naming every bad row as `row 3 (line 4): phone: …`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from charset_normalizer import from_bytes

from bridge.i18n import N_, Wording
from bridge.leads.phones import normalise_lead_phone
from engine.changes import EDITABLE, ChangeError, LeadEdit, parse_edit
from engine.errors import filled

MAX_IMPORT_BYTES = 8 * 1024 * 1024  # 8 MiB: ~100,000 leads with a few columns
MAX_IMPORT_ROWS = 100_000
MAX_LISTED_PROBLEMS = 1000  # bad rows named in one answer (the count says how many more)
PREVIEW_ROWS = 10

# Header (folded: lower case, `_`/`-`/`.` as spaces) → lead field.
ALIASES: Mapping[str, str] = {
    **{name.replace("_", " "): name for name in EDITABLE},
    "phone": "phone", "phone number": "phone", "no hp": "phone", "nohp": "phone", "no handphone": "phone",
    "nomor hp": "phone", "nomor": "phone", "nomor telepon": "phone", "no telepon": "phone", "no telp": "phone",
    "telepon": "phone", "telp": "phone", "hp": "phone", "handphone": "phone", "whatsapp": "phone", "wa": "phone",
    "no wa": "phone", "nomor wa": "phone", "nomor whatsapp": "phone", "mobile": "phone", "msisdn": "phone",
    "nama": "name", "nama lengkap": "name", "nama pelanggan": "name", "customer": "name", "full name": "name",
    "prioritas": "priority", "skor": "score", "nilai skor": "score",
    "catatan": "notes", "keterangan": "notes", "note": "notes", "notes": "notes",
    "kota": "city", "kabupaten": "city", "kota kabupaten": "city",
    "provinsi": "region", "wilayah": "region", "state": "region", "province": "region",
    "negara": "country",
    "sumber": "source", "asal": "source",
    "nilai": "value_actual", "value": "value_actual", "nilai transaksi": "value_actual", "omzet": "value_actual",
    "nilai potensial": "value_potential", "potensi": "value_potential", "potential value": "value_potential",
    "tag": "tags", "label": "tags", "labels": "tags",
    "campaign": "utm_campaign", "kampanye": "utm_campaign",
}


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """One reason a file is refused: a template (a msgid) and its parameters; for a bad row also
    the lead change's own problem, `%(problem)s`, translated as the edit form's are."""

    template: str
    params: Mapping[str, str] = field(default_factory=dict)
    change: ChangeError | None = None

    def said(self, words: Wording | None = None) -> str:
        """In English, or in `words`."""
        params = dict(self.params)
        if self.change is not None:
            params["problem"] = words.problem(self.change) if words else self.change.problem
        return words.fill(self.template, params) if words else filled(self.template, params)


class ImportRefused(ValueError):
    """The file cannot be imported; `problems` lists every reason (bad rows by number), in English;
    `said(words)` lists them in a page's language."""

    def __init__(self, problems: list[ImportProblem], field: str | None = None, total: int | None = None) -> None:
        shown = problems[:MAX_LISTED_PROBLEMS]
        extra = (total or len(problems)) - len(shown)
        if extra > 0:
            shown = [*shown, ImportProblem(N_("… and %(count)s more bad rows"), {"count": f"{extra:,}"})]
        self.entries = shown
        self.problems = [problem.said() for problem in shown]
        super().__init__("; ".join(self.problems))
        self.field = field

    def said(self, words: Wording) -> list[str]:
        """Every reason in the page's language."""
        return [problem.said(words) for problem in self.entries]


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """A checked file: (phone, edit) per row, which header went to which field, a preview."""

    rows: tuple[tuple[str, LeadEdit], ...]
    columns: dict[str, str]
    ignored: tuple[str, ...]
    preview: tuple[dict[str, Any], ...] = field(default=())


def fold_header(name: str) -> str:
    """`No. HP` → `no hp`; `UTM_Source` → `utm source`."""
    text = name.strip().lstrip("\ufeff").casefold()
    for sep in "_-./":
        text = text.replace(sep, " ")
    return " ".join(text.split())


def decode_csv(raw: bytes) -> str:
    """The file as text, or ImportRefused naming the encoding it is in."""
    if len(raw) > MAX_IMPORT_BYTES:
        raise ImportRefused([ImportProblem(
            N_("the file is %(size)s bytes; at most %(most)s bytes (%(mib)s MiB) can be imported at once: split it"),
            {"size": f"{len(raw):,}", "most": f"{MAX_IMPORT_BYTES:,}", "mib": str(MAX_IMPORT_BYTES // (1024 * 1024))})],
            field="(body)")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportRefused([ImportProblem(
            N_("the file is UTF-16 text, not UTF-8: save it as \"CSV UTF-8\" and import again"))], field="(body)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        guess = from_bytes(raw[:65536]).best()
        named = guess.encoding if guess is not None else "an unknown encoding"
        raise ImportRefused([ImportProblem(
            N_("the file is not UTF-8 text: it looks like %(encoding)s (byte 0x%(byte)s at position %(position)s); "
               "save it as \"CSV UTF-8\" and import again"),
            {"encoding": named, "byte": f"{raw[exc.start]:02X}", "position": str(exc.start)})],
            field="(body)") from None


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    first = text[:4096].split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(first, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, cells) per record."""
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportRefused([ImportProblem(N_("line %(line)s: not valid CSV (%(problem)s)"),
                                               {"line": str(line), "problem": str(exc)})], field="(body)") from None
        yield line, cells


def read_lead_csv(raw: bytes, statuses: tuple[str, ...]) -> ImportPlan:
    """Check the whole file; ImportRefused lists every problem (nothing is imported then)."""
    records = _records(decode_csv(raw))
    header_line = next(((line, cells) for line, cells in records if any(c.strip() for c in cells)), None)
    if header_line is None:
        raise ImportRefused([ImportProblem(
            N_("the file is empty: the first row must name the columns (phone, name, …)"))], field="(body)")
    header = header_line[1]
    columns: dict[str, str] = {}
    index: list[tuple[int, str]] = []
    ignored: list[str] = []
    for position, name in enumerate(header):
        target = ALIASES.get(fold_header(name))
        if target is None or target in columns.values():
            if name.strip():
                ignored.append(name.strip())
            continue
        columns[name.strip()] = target
        index.append((position, target))
    if "phone" not in columns.values():
        raise ImportRefused([ImportProblem(
            N_("phone: no phone column in the header (%(header)s); name one phone, no hp, whatsapp or nomor"),
            {"header": ", ".join(h.strip() for h in header)})], field="phone")
    rows: list[tuple[str, LeadEdit]] = []
    preview: list[dict[str, Any]] = []
    problems: list[ImportProblem] = []
    seen: dict[str, int] = {}
    bad = 0
    number = 0
    for line, cells in records:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are not rows
        number += 1
        if number > MAX_IMPORT_ROWS:
            raise ImportRefused([ImportProblem(N_("the file has more than %(most)s rows: split it"),
                                               {"most": f"{MAX_IMPORT_ROWS:,}"})], field="(body)")
        values = {target: cells[position].strip() for position, target in index
                  if position < len(cells) and cells[position].strip()}
        try:
            phone = normalise_lead_phone(values.pop("phone", ""))
            if phone in seen:
                raise ChangeError("phone", "%(phone)s is also on row %(row)s (each phone once per file)", phone=phone,
                                  row=seen[phone])
            if "tags" in values:
                values["add_tags"] = values.pop("tags")
            edit = parse_edit(values, statuses)
        except ChangeError as exc:
            bad += 1
            if len(problems) < MAX_LISTED_PROBLEMS:
                problems.append(ImportProblem(N_("row %(row)s (line %(line)s): %(field)s: %(problem)s"),
                                              {"row": str(number), "line": str(line), "field": exc.field}, exc))
            continue
        seen[phone] = number
        rows.append((phone, edit))
        if len(preview) < PREVIEW_ROWS:
            preview.append({"row": number, "phone": phone, **values})
    if problems:
        raise ImportRefused(problems, total=bad)
    if not rows:
        raise ImportRefused([ImportProblem(N_("the file has a header but no rows"))], field="(body)")
    return ImportPlan(tuple(rows), columns, tuple(ignored), tuple(preview))
