"""The pages' two languages (English, Bahasa Indonesia) and the workspace's way of writing times.

Words come from gettext catalogs, `bridge/locale/<lang>/LC_MESSAGES/messages.po`, read with
Babel at first use and compiled in memory (no .mo files to build or commit). Templates use
Jinja2's i18n extension (`{% trans %}`, `_()`); Python code marks words with `N_()` where they
are defined and the page translates them at render time; the pages' JavaScript gets its words
from `js_catalog()` (the catalog entries whose source is a static/*.js file) through a JSON
block in base.html. docs/i18n.md says how to add a string.

Times: every time a person reads is in the workspace time zone with its abbreviation, one
format per language (`6 Des 2026 10:37 WIB`); the JSON the pages read carries ISO 8601 with
the workspace's offset (`iso()`). Money is Rupiah written the Indonesian way in both languages
(`Rp 1.500.000`), formatted by Babel; other numbers follow the page's language.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, get_month_names
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations

from engine.actions import ACTIONS
from engine.errors import Templated, filled
from engine.notes import read_note

__all__ = ["COOKIE", "DEFAULT_LANGUAGE", "LANGUAGES", "LANGUAGE_NAMES", "NO_VALUE", "N_", "Wording",
           "catalog", "js_catalog", "money", "parse_moment", "translations"]

LANGUAGES = ("en", "id")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "id": "Bahasa Indonesia"}
COOKIE = "wabridge_lang"  # the language a browser picked in the header switch
NO_VALUE = "—"  # what pages show for an unset value
MONEY_LOCALE = "id"  # Rupiah as Indonesians write it, whatever the page's language
_MONEY_WHOLE = "¤\u00a0#,##0"
_MONEY_CENTS = "¤\u00a0#,##0.00"


def N_(message: str) -> str:
    """Mark a string for the catalogs where it is defined; pages translate it when they show it."""
    return message


def _po_path(language: str) -> Any:
    return files("bridge") / "locale" / language / "LC_MESSAGES" / "messages.po"


@cache
def catalog(language: str) -> Catalog:
    """The parsed messages.po of one language (cached for the process)."""
    if language not in LANGUAGES:
        raise ValueError(f"language: {language!r} is not one of {', '.join(LANGUAGES)}")
    with _po_path(language).open("rb") as po:
        return read_po(po, locale=language)


@cache
def translations(language: str) -> Translations:
    """gettext translations compiled in memory from the .po file."""
    buffer = io.BytesIO()
    write_mo(buffer, catalog(language))
    buffer.seek(0)
    return Translations(buffer, domain="messages")


@cache
def js_catalog(language: str) -> dict[str, str | list[str]]:
    """msgid → translation for the strings the pages' JavaScript uses (their source is a .js file) where
    the translation differs (English pages get none: the JS falls back to the msgid); plurals map the
    singular msgid to the list of forms."""
    words: dict[str, str | list[str]] = {}
    for message in catalog(language):
        if not message.id or not any(path.endswith(".js") for path, _line in message.locations):
            continue
        if isinstance(message.id, tuple | list):
            forms = [str(s) for s in message.string] if isinstance(message.string, tuple | list) else []
            if forms and all(forms) and forms != [str(s) for s in message.id]:
                words[str(message.id[0])] = forms
        elif message.string and message.string != message.id:
            words[str(message.id)] = str(message.string)
    return words


def parse_moment(value: Any) -> datetime | None:
    """A datetime from a datetime, an ISO 8601 string or epoch seconds; naive means UTC; None if unreadable."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, UTC)
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Wording:
    """One page language in one workspace zone: translations and the formats people read."""

    language: str
    tz: ZoneInfo

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.language)

    def gettext(self, message: str) -> str:
        return translations(self.language).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return translations(self.language).ngettext(singular, plural, n)

    def note(self, line: str) -> str:
        """A rule run's note ("add_tag: +vip") in these words ("Tambah Tag: +vip"): the action's
        label and its note's template translated (engine.notes); any other line as it is."""
        reading = read_note(line)
        if reading is None:
            return line
        label = self.gettext(ACTIONS[reading.action].label)
        return f"{label}: {self.fill(reading.template, reading.params)}" if reading.template else label

    def problem(self, error: Templated) -> str:
        """An engine problem (a rule's, a lead change's: a template and its parameters) in these words."""
        return self.fill(error.template, error.params)

    def fill(self, template: str, params: Mapping[str, str]) -> str:
        """A template translated and filled in; the English one should a catalog entry have lost a
        placeholder: a wrong translation never fails a save or a page."""
        try:
            return filled(self.gettext(template), dict(params))
        except (KeyError, TypeError, ValueError):
            return filled(template, dict(params))

    def local(self, value: Any) -> datetime | None:
        """The moment in the workspace zone (None for no value, an unreadable one, or one the zone's
        calendar cannot hold: year 9999 at a negative offset)."""
        moment = parse_moment(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(self.tz)
        except OverflowError:
            return None

    def when(self, value: Any) -> str:
        """'6 Dec 2026 10:37 WIB' (en), '6 Des 2026 10:37 WIB' (id); '—' when unset."""
        local = self.local(value)
        if local is None:
            return NO_VALUE if value in (None, "") else str(value)
        return f"{format_date(local.date(), 'd MMM y', locale=self.language)} {self._clock(local)}"

    def time(self, value: Any) -> str:
        """'10:37 WIB'; '—' when unset."""
        local = self.local(value)
        if local is None:
            return NO_VALUE if value in (None, "") else str(value)
        return self._clock(local)

    def day(self, value: date) -> str:
        """A calendar day: '6 Dec 2026' / '6 Des 2026'."""
        return format_date(value, "d MMM y", locale=self.language)

    @staticmethod
    def _clock(local: datetime) -> str:
        return f"{local:%H:%M} {local.tzname() or local.strftime('%z')}"

    def iso(self, value: Any) -> str | None:
        """ISO 8601 with the workspace's offset, for the JSON the pages read."""
        local = self.local(value)
        return local.isoformat() if local is not None else None

    def number(self, value: Any) -> str:
        """A count or amount in the page's language: 1,500 (en) / 1.500 (id)."""
        if value is None or value == "":
            return NO_VALUE
        try:
            return format_decimal(value, locale=self.language)
        except (ValueError, TypeError, InvalidOperation):
            return str(value)

    def zone_words(self) -> dict[str, Any]:
        """What the pages' JavaScript needs to write times like the server: abbreviations by
        UTC offset (both sides of a daylight-saving change) and the month names."""
        now = datetime.now(UTC)
        abbreviations: dict[str, str] = {}
        for moment in (now, now + timedelta(days=182)):
            local = moment.astimezone(self.tz)
            abbreviations[local.isoformat()[-6:]] = local.tzname() or local.strftime("%z")
        months = get_month_names("abbreviated", locale=self.language)
        return {"language": self.language, "zone": self.tz.key, "abbreviations": abbreviations,
                "months": [months[i] for i in range(1, 13)], "no_value": NO_VALUE}


def money(value: object) -> str:
    """`1500000` → "Rp 1.500.000"; `-2500.5` → "-Rp 2.500,50"; None or "" → "—".

    Text that is not a number is shown as it is (a page never fails over a bad value).
    """
    if value is None or value == "":
        return NO_VALUE
    if isinstance(value, bool):
        return str(value)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return str(value)
    if not amount.is_finite():
        return str(value)
    cents = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    pattern = _MONEY_WHOLE if cents == cents.to_integral_value() else _MONEY_CENTS
    text = format_currency(cents, "IDR", pattern, locale=MONEY_LOCALE, currency_digits=False)
    text = text.replace("\u00a0", " ")
    return text if cents else text.lstrip("-")


def engine_words() -> list[str]:
    """The labels, hints and template texts the pure engine's registries show on pages (msgids)."""
    from engine.actions import ACTIONS, PRESET_LABELS
    from engine.fields import FIELDS
    from engine.operators import OPERATORS
    from engine.rules import SENDERS, TRIGGERS
    from engine.suggest.notices import NOTICES
    from engine.suggest.words import HINTS
    from engine.templates import TEMPLATES
    from engine.verdicts import VERDICTS

    words: list[str] = []
    for f in FIELDS.values():
        words += [f.label, f.description]
    for o in OPERATORS.values():
        words += [o.label, o.value_hint]
    words += [a.label for a in ACTIONS.values()]
    words += [note for a in ACTIONS.values() for note in a.notes]
    words += [*PRESET_LABELS.values(), *SENDERS.values(), *TRIGGERS.values(), *VERDICTS.values()]
    words += [*NOTICES.values(), *HINTS.values()]
    for t in TEMPLATES.values():
        words += [t.title, t.summary]
    return sorted({w for w in words if w})


def extract_engine_words(fileobj: Any, keywords: Any, comment_tags: Any, options: Any) -> Any:
    """A Babel extraction method (babel.cfg maps it to engine/fields.py): the engine cannot import
    gettext markers, so its page words are read from the registries themselves."""
    for word in engine_words():
        yield 1, None, word, []
