"""AI Suggest's parser: a sentence in English or Bahasa Indonesia → a draft rule, offline and deterministic.

The phrases it knows are data (engine.suggest.phrases, built from engine.suggest.meaning over
the words of engine.suggest.words). Reading a sentence:

1. Lower-case it (same length, so spans index the sentence as typed) and mask quoted text.
2. Fixed phrases, in registry order: each claims its span; a later phrase cannot overlap it.
3. Keyword verbs ("bilang", "says", "tidak bilang"): the words after them, up to the next
   understood phrase or clause, are keywords of a Message condition. Then the `late` phrases,
   which read only what no keyword list took ("sudah bayar" after "bilang" is a keyword).
4. Two conditions joined only by "atau"/"or" become an ANY group.
5. Every understood span is reported with its meaning; every other word that is not filler is
   reported as not understood. Nothing is made up from words that matched no phrase.

No action understood means no draft (ok false), with what was not understood and a sentence
that works. The draft is checked with engine.rules.parse_rule before it is offered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from engine.errors import RuleError
from engine.fields import FIELDS, FieldKind
from engine.rules import MESSAGE_TRIGGER, default_env, parse_rule
from engine.suggest.describe import Translate, describe, same
from engine.suggest.meaning import N_, Hit, Meaning, Phrase, TextHead, leaf
from engine.suggest.notices import hints_of, refusal
from engine.suggest.phrases import PHRASES, TEXT_HEADS
from engine.suggest.words import (
    ACTION_VERBS,
    AND_WORDS,
    CONDITION_WORDS,
    EXAMPLES,
    FILLER,
    KEYWORD_SPLIT,
    LIST_SPLIT,
    MASK,
    NOT_KEYWORDS,
    OR_WORDS,
    SEND,
    STATUS_ALIASES,
    VALUE_LEAD,
    VALUE_STOP,
    VALUE_TRAIL,
    expand,
)

_QUOTES = re.compile(r"\"[^\"\n]+\"|“[^”\"\n]+[”\"]|‘[^’'\n]+[’']|(?<![\w])'[^\n]+?'(?![\w])")
_WORD = re.compile(r"\w+(?:['’]\w+)*")
QUOTE_CHARS = "\"'“”‘’"
_NEGATED_OP = {"equal": "not_equal", "not_equal": "equal", "contains": "not_contains", "not_contains": "contains",
               "in_list": "not_in_list", "not_in_list": "in_list", "gt": "lte", "lte": "gt", "gte": "lt", "lt": "gte"}


@dataclass(frozen=True, slots=True)
class _Grammar:
    """The registry compiled for one workspace's statuses."""

    statuses: dict[str, str]
    phrases: tuple[tuple[re.Pattern[str], Phrase], ...]
    heads: tuple[tuple[re.Pattern[str], TextHead], ...]
    stop: re.Pattern[str]
    send: re.Pattern[str]


@dataclass(slots=True)
class _Part:
    """One understood span and what it means."""

    start: int
    end: int
    meaning: Meaning
    description: str = ""


def _wrap(body: str, statuses: str, negatable: bool) -> re.Pattern[str]:
    neg = r"(?:(?P<neg>%NOT%)\s+)?" if negatable else ""
    return re.compile(expand(rf"(?<![\w{MASK}]){neg}(?:{body})(?![\w])", statuses))


@lru_cache(maxsize=16)
def _grammar(known: tuple[str, ...]) -> _Grammar:
    words = {" ".join(s.lower().split()): s for s in known}
    for alias, status in STATUS_ALIASES.items():
        if status in known and alias not in words:
            words[alias] = status
    alternation = "(?:" + "|".join(re.escape(w).replace(r"\ ", r"\s+")
                                   for w in sorted(words, key=len, reverse=True)) + ")"
    return _Grammar(
        statuses=words,
        phrases=tuple((_wrap(p.pattern, alternation, p.negatable), p) for p in PHRASES),
        heads=tuple((_wrap(h.pattern, alternation, False), h) for h in TEXT_HEADS),
        stop=re.compile(VALUE_STOP),
        send=re.compile(SEND),
    )


def _lower(text: str) -> str:
    """Lower-case without changing the length (a few characters grow when lower-cased)."""
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _mask(lowered: str) -> str:
    """Hide what is inside quotes, so no phrase is read there unless it asks for %QUOTED%."""
    return _QUOTES.sub(lambda m: m.group(0)[0] + MASK * (len(m.group(0)) - 2) + m.group(0)[-1], lowered)


def negate(meaning: Meaning) -> Meaning:
    """The meaning after "tidak"/"bukan"/"not": the opposite operator where the engine has one."""
    if len(meaning.conditions) != 1:
        return replace(meaning, conditions=({"not": {"all": list(meaning.conditions)}},))
    cond = meaning.conditions[0]
    op = cond.get("op")
    if "field" in cond and FIELDS[cond["field"]].kind is FieldKind.BOOL and op == "equal":
        negated = {**cond, "value": not cond["value"]}
    elif op == "between":
        start, end = cond["value"].split("-")
        negated = {**cond, "value": f"{end}-{start}"}  # the rest of the day (the engine wraps midnight)
    elif op in _NEGATED_OP:
        negated = {**cond, "op": _NEGATED_OP[op]}
    else:
        negated = {"not": {"any": [cond]}}
    return replace(meaning, conditions=(negated,))


# ------------------------------------------------------------------ reading


class _Reader:
    """One sentence being read: the spans taken so far and what they mean."""

    def __init__(self, text: str, grammar: _Grammar) -> None:
        self.text = text
        self.masked = _mask(_lower(text))
        self.grammar = grammar
        self.parts: list[_Part] = []
        self.taken: list[tuple[int, int]] = []

    def free(self, start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in self.taken)

    def take(self, start: int, end: int, meaning: Meaning) -> None:
        self.taken.append((start, end))
        self.parts.append(_Part(start, end, meaning))

    def phrases(self, *, late: bool) -> None:
        for regex, phrase in self.grammar.phrases:
            if phrase.late is not late:
                continue
            for match in regex.finditer(self.masked):
                if not self.free(match.start(), match.end()):
                    continue
                meaning = phrase.build(Hit(match, self.text, self.grammar.statuses))
                if meaning is None:
                    continue
                if phrase.negatable and match.group("neg"):
                    meaning = negate(meaning)
                self.take(match.start(), match.end(), meaning)

    def keywords(self) -> None:
        heads: list[tuple[re.Match[str], TextHead]] = []
        for regex, head in self.grammar.heads:
            for match in regex.finditer(self.masked):
                if self.free(match.start(), match.end()):
                    heads.append((match, head))
                    self.taken.append(match.span())
        for match, head in sorted(heads, key=lambda h: h[0].start()):
            self._reported_speech(match.end())
            found = self._keyword_value(match.end())
            if found is None:
                self.taken.remove(match.span())  # a verb with nothing after it: its words are left over
                continue
            end, words = found
            self.taken.remove(match.span())
            self.take(match.start(), end, Meaning(conditions=(leaf(head.field, head.op, ", ".join(words)),)))

    def _reported_speech(self, start: int) -> None:
        """"bilang mau kirim foto": a send-verb condition right after a keyword verb is what is said."""
        after = [p for p in self.parts if p.start >= start and p.meaning.conditions]
        if not after:
            return
        part = min(after, key=lambda p: p.start)
        between = self.masked[start:part.start]
        if (any(s >= start and s < part.start for s, _ in self.taken) or re.search(r"[,;.!?]", between)
                or set(_WORD.findall(between)) & (OR_WORDS | AND_WORDS)
                or self.grammar.stop.search(between) or not self.grammar.send.match(self.masked, part.start)):
            return
        self.parts.remove(part)
        self.taken.remove((part.start, part.end))

    def _keyword_value(self, start: int) -> tuple[int, list[str]] | None:
        """The keywords after a verb: (where they end, the words), or None when there are none."""
        limit = min([s for s, _ in self.taken if s >= start] + [len(self.masked)])
        stop = self.grammar.stop.search(self.masked, start, limit)
        if stop is not None:
            limit = stop.start()
        region = self.masked[start:limit]
        segments = region.split(",")
        end = start + len(segments[0])
        listed = False
        for segment in segments[1:]:
            words = [w for w in _WORD.findall(segment) if w not in OR_WORDS | AND_WORDS]
            quoted = segment.strip()[:1] in tuple(QUOTE_CHARS)
            if not quoted and (not 0 < len(words) <= 3 or all(w in FILLER for w in words) or words[0] in ACTION_VERBS):
                break
            end += 1 + len(segment)
            listed = True
        value = self.masked[start:end]
        lead = re.match(VALUE_LEAD, value)
        begin = start + (lead.end() if lead else 0)
        trail = re.search(VALUE_TRAIL, self.masked[begin:end])
        end = begin + (trail.start() if trail else len(self.masked[begin:end]))
        while end > begin and self.masked[end - 1].isspace():
            end -= 1
        while begin < end and self.masked[begin].isspace():
            begin += 1
        first = _WORD.match(self.masked, begin)
        if end <= begin or (first is not None and first.group(0) in NOT_KEYWORDS):
            return None
        words = self._split_keywords(begin, end, listed)
        return (end, words) if words else None

    def _split_keywords(self, begin: int, end: int, listed: bool) -> list[str]:
        """Split on "atau"/"or"/commas (and "dan"/"and" in a comma list); quotes keep their commas."""
        splitter = LIST_SPLIT if listed else KEYWORD_SPLIT  # "a, b and c": "and" joins a list
        words: list[str] = []
        at = begin
        bounds = [(begin + m.start(), begin + m.end()) for m in re.finditer(splitter, self.masked[begin:end])]
        for stop, after in [*bounds, (end, end)]:
            piece = self.text[at:stop].strip()
            masked = self.masked[at:stop].strip()
            at = after
            quoted = len(masked) > 2 and masked[1] == MASK
            for word in (piece[1:-1].split(",") if quoted else [piece]):
                word = " ".join(word.strip().strip(QUOTE_CHARS).split())
                if word and word.casefold() not in (w.casefold() for w in words):
                    words.append(word)
        return words

    def conditions(self) -> tuple[list[dict[str, Any]], list[_Part]]:
        """The conditions in sentence order; runs joined by "atau"/"or" become ANY groups."""
        parts = sorted((p for p in self.parts if p.meaning.conditions), key=lambda p: p.start)
        others = [p for p in self.parts if not p.meaning.conditions]
        groups: list[list[_Part]] = []
        joints: list[_Part] = []
        for part in parts:
            joint = self._or_between(groups[-1][-1], part, others) if groups else None
            if joint is not None:
                groups[-1].append(part)
                joints.append(joint)
            else:
                groups.append([part])
        out: list[dict[str, Any]] = []
        for group in groups:
            if len(group) == 1:
                out.extend(group[0].meaning.conditions)
                continue
            out.append({"any": [p.meaning.conditions[0] if len(p.meaning.conditions) == 1
                                else {"all": list(p.meaning.conditions)} for p in group]})
        return out, joints

    def _or_between(self, left: _Part, right: _Part, others: list[_Part]) -> _Part | None:
        if any(left.end <= p.start < right.start for p in others):
            return None
        words = [(m.group(0), m.start()) for m in _WORD.finditer(self.masked, left.end, right.start)]
        names = {w for w, _ in words}
        if not names & OR_WORDS or names & AND_WORDS:
            return None
        at = next(i for w, i in words if w in OR_WORDS)
        length = len(next(w for w, _ in words if w in OR_WORDS))
        part = _Part(at, at + length, Meaning(), N_("OR: either condition is enough (an ANY group)"))
        self.taken.append((part.start, part.end))
        return part

    def leftover(self) -> list[str]:
        out: list[str] = []
        for word in _WORD.finditer(self.text):
            inside = any(s <= word.start() < e for s, e in self.taken)
            folded = word.group(0).casefold()
            if not inside and folded not in FILLER and not folded.isdigit():
                out.append(word.group(0))
        return out


def _dedupe(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _keyword_words(node: Any) -> list[str]:
    """Words inside the draft's message-text keywords (a condition phrase may have been swallowed)."""
    if isinstance(node, list):
        return [w for item in node for w in _keyword_words(item)]
    if not isinstance(node, dict):
        return []
    if node.get("field") == "message.text" and isinstance(node.get("value"), str):
        return _WORD.findall(node["value"])
    return [w for value in node.values() if isinstance(value, list | dict) for w in _keyword_words(value)]


def warnings_for(leftover: list[str], conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What to check before saving, as data: `ignored_words`, and `unread_condition` (words such as "still"
    or "kecuali" left over or swallowed into a keyword: the draft may fire more often than meant)."""
    out: list[dict[str, Any]] = []
    if leftover:
        out.append({"code": "ignored_words", "words": list(dict.fromkeys(leftover))})
    suspicious = [w for w in [*leftover, *_keyword_words(conditions)] if w.casefold() in CONDITION_WORDS]
    if suspicious:
        out.append({"code": "unread_condition", "words": list(dict.fromkeys(suspicious))})
    return out


def suggest(text: str, known_statuses: tuple[str, ...] | list[str], gettext: Translate = same) -> dict[str, Any]:
    """One sentence → {"ok", "rule", "understood", "not_understood", "warnings" (data), "message"}; saves nothing.

    Each understood span's `meaning` is English; `meaning_text` is the same through `gettext`
    (a page's language)."""
    statuses = tuple(known_statuses)
    reader = _Reader(text, _grammar(statuses))
    reader.phrases(late=False)
    reader.keywords()
    reader.phrases(late=True)
    conditions, joints = reader.conditions()
    parts = sorted([*reader.parts, *joints], key=lambda p: p.start)
    understood = [{"start": p.start, "end": p.end, "text": text[p.start:p.end],
                   "meaning": p.description or describe(p.meaning),
                   "meaning_text": gettext(p.description) if p.description else describe(p.meaning, gettext)}
                  for p in parts]
    leftover = reader.leftover()
    in_order = sorted(reader.parts, key=lambda p: p.start)
    actions = _dedupe([a for p in in_order for a in p.meaning.actions])
    settings: dict[str, Any] = {}
    for part in in_order:
        settings.update(part.meaning.settings)
    shown = ", ".join(leftover[:12]) + (", …" if len(leftover) > 12 else "")
    if not actions:
        if conditions or settings:
            said = (refusal("no_action_words", leftover, words=shown) if leftover
                    else refusal("no_action", leftover))
        else:
            examples = {"first": EXAMPLES[0], "second": EXAMPLES[1]}
            said = (refusal("no_rule_words", leftover, words=shown, **examples) if leftover
                    else refusal("no_rule", leftover, **examples))
        return {"ok": False, "rule": None, "understood": understood, "not_understood": leftover,
                "warnings": warnings_for(leftover, conditions), **said}
    trigger = settings.get("trigger", MESSAGE_TRIGGER)
    title = " ".join(text.split())
    if len(title) > 60:
        title = title[:60].rsplit(" ", 1)[0] + "…"
    rule = {"name": "Suggested: " + title, "trigger": trigger,
            "sender": settings.get("sender", "customer") if trigger == MESSAGE_TRIGGER else "all",
            "enabled": True, "stop_processing": settings.get("stop_processing", False),
            "conditions": _dedupe(conditions), "actions": actions}
    try:
        parse_rule(rule, "rule", default_env(statuses))
    except RuleError as exc:
        return {"ok": False, "rule": None, "understood": understood, "not_understood": leftover,
                "warnings": warnings_for(leftover, conditions),
                **refusal("invalid_draft", leftover, problem=f"{exc.path}: {exc.message}")}
    message = "Draft ready: check it before you save it. Nothing is saved yet."
    if not conditions:
        every = {"lead.created": "new lead", "lead.status_changed": "status change"}.get(trigger, "message")
        message = f"No condition understood: as written the rule would fire on every {every}. " + message
    if leftover:
        message = f"Not understood: {shown}. " + message + hints_of(leftover)
    warnings = warnings_for(leftover, conditions)
    unread = [w["words"] for w in warnings if w["code"] == "unread_condition"]
    if unread:
        message = (f"Check the conditions before saving: {', '.join(f'“{w}”' for w in unread[0])} was not read as "
                   "a condition, so the draft may fire more often than the sentence says. " + message)
    return {"ok": True, "rule": rule, "understood": understood, "not_understood": leftover, "warnings": warnings,
            "message": message}
