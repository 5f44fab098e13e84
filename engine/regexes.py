"""All `matches` patterns of a rule set, per field, matched in one RE2::Set pass per event."""

from __future__ import annotations

import re2  # type: ignore[import-untyped]

from engine.memo import TextMemo
from engine.text import re2_options


class RegexBank:
    """Collects patterns per field while rules compile, then matches them together."""

    def __init__(self) -> None:
        self._patterns: dict[str, list[str]] = {}
        self._index: dict[tuple[str, str], int] = {}
        self._sets: dict[str, re2.Set] = {}
        self._frozen = False
        self._hits: TextMemo[tuple[str, str], frozenset[int]] = TextMemo()

    def add(self, field: str, pattern: str) -> int:
        """Register a pattern for a field and return its index (shared if seen before)."""
        key = (field, pattern)
        if key in self._index:
            return self._index[key]
        if self._frozen:
            raise RuntimeError("RegexBank is frozen; compile every rule before matching")
        patterns = self._patterns.setdefault(field, [])
        patterns.append(pattern)
        self._index[key] = len(patterns) - 1
        return self._index[key]

    def indices(self, field: str) -> dict[str, int]:
        """Pattern → index for one field (the anchors file regex rules under these)."""
        return {pattern: i for (f, pattern), i in self._index.items() if f == field}

    def freeze(self) -> None:
        """Build one RE2::Set per field."""
        for field, patterns in self._patterns.items():
            regex_set = re2.Set.SearchSet(re2_options())
            for pattern in patterns:
                regex_set.Add(pattern)
            regex_set.Compile()
            self._sets[field] = regex_set
        self._frozen = True

    def match(self, field: str, text: str) -> frozenset[int]:
        """Return the indices of the field's patterns that match somewhere in `text`."""
        key = (field, text)
        known = self._hits.values.get(key)
        if known is not None:
            return known
        regex_set = self._sets.get(field)
        if regex_set is None:
            return frozenset()
        hits = regex_set.Match(text)
        return self._hits.keep(key, text, frozenset(hits) if hits else frozenset())
