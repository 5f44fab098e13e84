"""AI Suggest (issue #7, stage 4): a sentence in English or Bahasa Indonesia → a draft rule.

Offline and deterministic: a small phrase grammar over the engine's vocabulary (fields,
statuses, actions), no model. It reports which parts of the sentence it understood (character
spans, for highlighting) and which words it did not; it never saves anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bridge.http.auth import CONTROL
from bridge.http.dashboard import statuses
from bridge.http.errors import ApiError, json_response, read_json_object
from engine.errors import RuleError
from engine.rules import parse_rule

MAX_TEXT = 500
# Where a quoted keyword list ends: the next clause.
_END = (r"(?=\s+(?:and|dan|serta|then|maka|lalu|terus)\s+(?:status|lead|the|ubah|ganti|set|change|move|mark|ambil|"
        r"capture|take|tambah|add|balas|reply|chat|more|lebih)|\s*[,.;]|\s+(?:then|maka|lalu)\b|$)")
FILLER = frozenset("""
if when whenever kalau jika bila apabila kalo the a an and dan or atau then maka lalu terus it its itu nya
customer customers pelanggan konsumen cs admin team tim they dia mereka lead status to ke jadi menjadi as
is sudah please tolong yang di sender pengirim says bilang
""".split())


@dataclass
class Draft:
    """The rule being assembled, with the spans of the sentence each part came from."""

    conditions: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    sender: str = "customer"
    understood: list[dict[str, Any]] = field(default_factory=list)

    def note(self, match: re.Match[str], meaning: str) -> None:
        self.understood.append({"start": match.start(), "end": match.end(), "text": match.group(0),
                                "meaning": meaning})


def _words(value: str) -> list[str]:
    parts = re.split(r"\s*(?:,|\bor\b|\batau\b|/)\s*", value.strip().strip("\"'“”"))
    return [p.strip().strip("\"'“”") for p in parts if p.strip().strip("\"'“”")]


def _status_pattern(known: Sequence[str]) -> str:
    return "|".join(re.escape(s) for s in sorted(known, key=len, reverse=True))


def suggest(text: str, known_statuses: Sequence[str]) -> dict[str, Any]:
    """Parse one sentence into {"ok", "rule", "understood", "not_understood", "message"}."""
    lower = text.lower()
    draft = Draft()
    status = _status_pattern(known_statuses)
    taken: list[tuple[int, int]] = []

    def free(match: re.Match[str]) -> bool:
        return all(match.end() <= start or match.start() >= end for start, end in taken)

    def use(match: re.Match[str], meaning: str) -> None:
        taken.append((match.start(), match.end()))
        draft.note(match, meaning)

    # Actions first, so "change to hot" is not read as a status condition.
    for match in re.finditer(rf"\b(?:change|set|move|mark|update|ubah|ganti|pindah(?:kan)?|jadikan|set)"
                             rf"(?:\s+(?:it|the lead|lead|status(?:nya)?|statusnya|jadi))?"
                             rf"\s+(?:to|as|into|ke|jadi|menjadi)\s+({status})\b", lower):
        draft.actions.append({"type": "set_status", "status": match.group(1)})
        use(match, f"Change Status to {match.group(1)}")
    for match in re.finditer(r"\b(?:capture|take|grab|extract|get|save|ambil|catat|simpan)\s+(?:the\s+)?"
                             r"(?:amount|value|nominal|total|price|jumlah|nilai|harga)"
                             r"(?:\s+(?:rp|rupiah|idr))?\b", lower):
        draft.actions.append({"type": "update_value", "target": "lead.value_actual", "preset": "rupiah_flexible"})
        use(match, "Update Lead Value (Flexible Rupiah) into Actual Value")
    for match in re.finditer(r"\b(?:add|put|give|tambah(?:kan)?|kasih|beri)\s+(?:a\s+)?(?:the\s+)?tag\s+"
                             r"([\w-]+)", lower):
        draft.actions.append({"type": "add_tag", "tag": match.group(1)})
        use(match, f"Add Tag {match.group(1)}")
    for match in re.finditer(r"\b(?:reply|answer|respond|balas|jawab)\s+(?:with\s+|dengan\s+)?[\"“](.+?)[\"”]",
                             lower):
        original = text[match.start(1):match.end(1)]
        draft.actions.append({"type": "send_reply", "text": original})
        use(match, f"Send Reply “{original}”")

    # Conditions ("more than 2 messages" before keywords, so "sends more than 2 messages" is a count).
    for match in re.finditer(r"\b(?:more than|over|lebih dari|di atas)\s+(\d+)\s+(?:messages?|chats?|pesan|kali)\b",
                             lower):
        if free(match):
            draft.conditions.append({"field": "chat.count", "op": "gt", "value": int(match.group(1))})
            use(match, f"Chat Count greater than {match.group(1)}")
    for match in re.finditer(rf"\b(?:says?|said|writes?|wrote|mentions?|types?|sends?|contains?|bilang|"
                             rf"menulis|nulis|ketik|mengetik|kirim|mengirim|menyebut|ada kata)\s+(.+?){_END}", lower):
        if not free(match):
            continue
        words = _words(text[match.start(1):match.end(1)])
        if words:
            draft.conditions.append({"field": "message.text", "op": "contains", "value": ", ".join(words)})
            use(match, "Message contains " + " or ".join(f"“{w}”" for w in words))
    for match in re.finditer(rf"\b(?:status(?:nya)?|lead)\s+(?:is\s+|adalah\s+|masih\s+|sudah\s+|=\s*)?({status})\b",
                             lower):
        if free(match):
            draft.conditions.append({"field": "lead.status", "op": "equal", "value": match.group(1)})
            use(match, f"Lead Status equal {match.group(1)}")
    for match in re.finditer(r"\b(?:cs|admin|team|tim)\s+(?:says?|bilang|writes?|menulis|kirim)\b", lower):
        draft.sender = "team"
        draft.note(match, "Sender: Team/CS")
    draft.understood.sort(key=lambda span: span["start"])
    for span in draft.understood:
        span["text"] = text[span["start"]:span["end"]]  # as typed (matching ran on the lower-cased text)

    leftover = []
    for word in re.finditer(r"[\w'-]+", lower):
        inside = any(span["start"] <= word.start() < span["end"] for span in draft.understood)
        if not inside and word.group(0) not in FILLER and not word.group(0).isdigit():
            leftover.append(text[word.start():word.end()])

    if not draft.actions:
        message = ("I did not understand what to do. Say an action, e.g. “change to hot”, “ubah ke purchase”, "
                   "“ambil nominal Rp”, “add tag vip”.") if draft.conditions else (
                   "I did not understand this sentence. Try e.g. “if customer says order or buy and status "
                   "responded, change to hot” / “kalau customer bilang transfer dan status hot, ubah ke purchase”.")
        return {"ok": False, "rule": None, "understood": draft.understood, "not_understood": leftover,
                "message": message}
    title = " ".join(text.split())
    if len(title) > 60:
        title = title[:60].rsplit(" ", 1)[0] + "…"
    rule = {"name": "Suggested: " + title, "trigger": "message.received",
            "sender": draft.sender, "enabled": True, "stop_processing": False,
            "conditions": draft.conditions, "actions": draft.actions}
    message = "Draft put in the editor: check it, then press Save. Nothing is saved yet."
    if not draft.conditions:
        message = "No condition understood: as written the rule would fire on every message. " + message
    if leftover:
        message = f"Not understood: {', '.join(leftover)}. " + message
    return {"ok": True, "rule": rule, "understood": draft.understood, "not_understood": leftover,
            "message": message}


async def suggest_rule(request: web.Request) -> web.StreamResponse:
    """POST /api/rules/suggest {"text": "..."} → a draft rule (never saved) and what was understood."""
    control = request.app[CONTROL]
    body = await read_json_object(request, required=True)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "bad_request", "text: describe the rule in a sentence", field="text")
    if len(text) > MAX_TEXT:
        raise ApiError(400, "bad_request", f"text: keep it under {MAX_TEXT} characters", field="text")
    unknown = sorted(set(body) - {"text"})
    if unknown:
        raise ApiError(400, "bad_request", f"{unknown[0]}: not expected (only text)", field=unknown[0])
    result = suggest(text, statuses(control))
    if result["rule"] is not None:
        try:
            parse_rule(result["rule"], "rule", control.rule_env())
        except RuleError as exc:  # the grammar only builds valid rules; say so plainly if not
            result.update(ok=False, message=f"The draft is not valid ({exc.path}: {exc.message}).")
    return json_response(result)


def add_routes(app: web.Application) -> None:
    """Register AI Suggest."""
    app.router.add_post("/api/rules/suggest", suggest_rule)
