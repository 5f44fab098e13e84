"""What AI Suggest says when a sentence gives no draft: notices (templates with arguments) and
hints for words it met but could not use. English here; pages translate the templates, and
bridge.i18n reads NOTICES and HINTS for the catalogs."""

from __future__ import annotations

from typing import Any

from engine.suggest.words import HINTS

# Why a sentence gave no draft, by notice: templates with %(name)s arguments, in English; pages
# show them translated (bridge.i18n reads this registry, and HINTS, for the catalogs).
NOTICES: dict[str, str] = {
    "no_action": "I did not understand what to do. Say an action, e.g. “change to hot”, “ubah ke purchase”, "
                 "“ambil nominal Rp”, “tambah tag vip”, “balas 'terima kasih'”.",
    "no_action_words": "I did not understand what to do (%(words)s). Say an action, e.g. “change to hot”, "
                       "“ubah ke purchase”, “ambil nominal Rp”, “tambah tag vip”, “balas 'terima kasih'”.",
    "no_rule": "I did not understand this sentence: it has no words for a condition or an action. A rule needs "
               "an action and usually a condition; try e.g. %(first)s or %(second)s.",
    "no_rule_words": "I did not understand this sentence: %(words)s. A rule needs an action and usually a "
                     "condition; try e.g. %(first)s or %(second)s.",
    "invalid_draft": "The draft would not be a valid rule (%(problem)s). Reword the sentence.",
    "hints": " Hint: %(hints)s.",
}


def _hint_list(leftover: list[str]) -> list[str]:
    """The hints for these left-over words, each once, in the order the words came."""
    return list(dict.fromkeys(HINTS[w.casefold()] for w in dict.fromkeys(leftover) if w.casefold() in HINTS))


def hints_of(leftover: list[str]) -> str:
    """The hints for these left-over words, as the sentence appended to a message ("" if none)."""
    said = _hint_list(leftover)
    return NOTICES["hints"] % {"hints": "; ".join(said)} if said else ""


def refusal(notice: str, leftover: list[str], **args: str) -> dict[str, Any]:
    """The parts of a result without a draft: the English message, and its notice, arguments
    and hints for a page to translate."""
    hints = _hint_list(leftover) if notice != "invalid_draft" else []
    message = NOTICES[notice] % args + (NOTICES["hints"] % {"hints": "; ".join(hints)} if hints else "")
    return {"message": message, "notice": notice, "notice_args": args, "hints": hints}
