"""Errors the engine reports: always with the path of the offending rule element."""

from __future__ import annotations

from collections.abc import Sequence


class EngineError(Exception):
    """Root of every error raised by `engine`."""


def filled(template: str, params: dict[str, str]) -> str:
    """A problem's template with its parameters (only a template with parameters is formatted:
    a plain message may hold a literal "%")."""
    return template % params if params else template


class Templated:
    """A problem said as a template (a msgid: scripts/i18n extracts it) and its parameters, so a
    page can say it in its language (bridge.i18n.Wording.problem); `_say` keeps both and returns
    the English (RuleError.message, ChangeError.problem)."""

    template: str
    params: dict[str, str]

    def _say(self, template: str, params: dict[str, object]) -> str:
        self.template = template
        self.params = {name: str(value) for name, value in params.items()}
        return filled(template, self.params)


class RuleError(Templated, EngineError):
    """One problem in one rule, located by a path such as `rules[2].conditions[0].value`.

    `message` is a template with %(name)s placeholders filled from `params`: the English
    `message` the CLI and API print is the filled template, and pages translate the template
    (its msgid: scripts/i18n extracts the second argument of every `RuleError(...)`).
    """

    def __init__(self, path: str, message: str, rule_name: str | None = None, **params: object) -> None:
        self.path = path
        self.message = self._say(message, params)
        self.rule_name = rule_name
        super().__init__(self.describe())

    def named(self, rule_name: str) -> RuleError:
        """The same problem, said of the rule called `rule_name`."""
        return RuleError(self.path, self.template, rule_name, **self.params)

    def at(self, path: str) -> RuleError:
        """The same problem, found at `path`."""
        return RuleError(path, self.template, self.rule_name, **self.params)

    def describe(self) -> str:
        """Return `rule "NAME": PATH: problem`, the form the CLI and API print."""
        where = f'rule "{self.rule_name}": ' if self.rule_name else ""
        return f"{where}{self.path}: {self.message}"


class RuleSetError(EngineError):
    """Several rule problems at once; a rules file is refused as a whole."""

    def __init__(self, errors: Sequence[RuleError]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(e.describe() for e in self.errors))
