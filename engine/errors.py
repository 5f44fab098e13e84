"""Errors the engine reports: always with the path of the offending rule element."""

from __future__ import annotations

from collections.abc import Sequence


class EngineError(Exception):
    """Root of every error raised by `engine`."""


class RuleError(EngineError):
    """One problem in one rule, located by a path such as `rules[2].conditions[0].value`."""

    def __init__(self, path: str, message: str, rule_name: str | None = None) -> None:
        self.path = path
        self.message = message
        self.rule_name = rule_name
        super().__init__(self.describe())

    def describe(self) -> str:
        """Return `rule "NAME": PATH: problem`, the form the CLI and API print."""
        where = f'rule "{self.rule_name}": ' if self.rule_name else ""
        return f"{where}{self.path}: {self.message}"


class RuleSetError(EngineError):
    """Several rule problems at once; a rules file is refused as a whole."""

    def __init__(self, errors: Sequence[RuleError]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(e.describe() for e in self.errors))
