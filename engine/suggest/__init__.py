"""AI Suggest: a sentence in English or Bahasa Indonesia → a draft rule, offline and deterministic.

Pure like the rest of the engine: `suggest(text, statuses)` returns the draft (or none), what
was understood (with character spans) and what was not. The dashboard's `/api/rules/suggest`
and `wabridge rules suggest` are thin views over it.
"""

from engine.suggest.grammar import suggest

__all__ = ["suggest"]
