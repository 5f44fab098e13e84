"""Every page string is in both catalogs, and every page's visible text goes through them.

Extraction is the project's own (babel.cfg: templates, static JS, Python N_()/_() in bridge/), so a
string added without running ./scripts/i18n, or left without its Indonesian translation, fails here.
The template scan fails on text a template shows outside {% trans %} / _() (docs/i18n.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from jinja2 import nodes

from bridge.i18n import LANGUAGES, catalog
from tests.conftest import ROOT

TEMPLATES = ROOT / "bridge" / "templates"
# Words that are the same in both languages: names of products, formats and units.
SAME_IN_BOTH = {"wabridge", "WhatsApp", "QR", "CSV", "PNG", "SVG", "API", "Rp", "EN", "ID", "Email", "Web", "TOML",
                "JSON", "UTC", "iPhone", "Android", "utm_campaign", "meta_ads", "OK", "Sari"}  # Sari: an example name
VISIBLE_ATTRIBUTES = re.compile(r'\b(?:title|placeholder|alt|aria-label|data-confirm|label)="([^"]*)"')


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "--no-wrap",
                                "-o", str(pot), str(ROOT)])
    with pot.open("rb") as handle:
        return read_po(handle)


def _key(message_id: str | tuple[str, ...]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def test_extraction_finds_the_page_strings(extracted: Catalog) -> None:
    ids = {_key(m.id) for m in extracted if m.id}
    assert len(ids) > 300
    assert {"Leads", "Log in", "Rules", "Activity"} <= ids  # templates
    assert "The server did not answer. Is wabridge running?" in ids  # static JS
    assert "Connected" in ids  # Python N_() (session state words)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_in_both_catalogs(extracted: Catalog, language: str) -> None:
    known = catalog(language)
    missing = sorted(_key(m.id) for m in extracted if m.id and known.get(m.id) is None)
    assert not missing, f"run ./scripts/i18n and translate (docs/i18n.md); not in {language}: {missing[:20]}"


def test_every_indonesian_translation_is_there(extracted: Catalog) -> None:
    indonesian = catalog("id")
    empty = []
    for message in extracted:
        if not message.id:
            continue
        found = indonesian.get(message.id)
        strings = found.string if found is not None else ""
        forms = strings if isinstance(strings, tuple | list) else (strings,)
        if found is None or found.fuzzy or not all(forms):
            empty.append(_key(message.id))
    assert not empty, f"these need an Indonesian msgstr in bridge/locale/id/LC_MESSAGES/messages.po: {empty[:20]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_survive_translation(language: str) -> None:
    problems = [(message.id, errors) for message, errors in catalog(language).check() if errors]
    assert not problems


def _shown_words(source: str) -> list[str]:
    """Words a template shows as plain text (Jinja blocks, scripts and code samples taken out)."""
    text = re.sub(r"\{#.*?#\}", " ", source, flags=re.S)
    text = re.sub(r"\{% block (body_class|main_attrs) %\}.*?\{% endblock %\}", " ", text, flags=re.S)  # markup
    text = re.sub(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}", " ", text, flags=re.S)
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", text, flags=re.S)
    text = re.sub(r"<(script|style|code|pre)\b.*?</\1>", " ", text, flags=re.S)
    attributes = " ".join(VISIBLE_ATTRIBUTES.findall(text))
    text = re.sub(r"<[^>]*>", " ", text) + " " + attributes
    text = re.sub(r"&\w+;", " ", text)
    return [w for w in re.findall(r"[A-Za-z][A-Za-z_']+", text) if w not in SAME_IN_BOTH]


GETTEXT = {"_", "gettext", "ngettext"}


def _words_in_expressions(node: nodes.Node) -> list[str]:
    """String constants that read like words ("Tickets", "Open now") outside _()/gettext calls."""
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name in GETTEXT:
        return []
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return [node.value] if re.search(r"[A-Z][a-z]|[a-z]{2} [a-z]{2}", node.value) else []
    return [word for child in node.iter_child_nodes() for word in _words_in_expressions(child)]


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_templates_show_no_untranslated_text(template: str) -> None:
    env = jinja2.Environment(extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    source = (TEMPLATES / template).read_text(encoding="utf-8")
    tree = env.parse(source)
    stray = _shown_words(source)
    constants = list(_words_in_expressions(tree))
    assert not stray and not constants, f"{template}: wrap these in {{% trans %}} or _(): {stray[:15]} {constants[:5]}"


def test_docs_tell_how_to_add_a_string() -> None:
    text = Path(ROOT / "docs" / "i18n.md").read_text(encoding="utf-8")
    assert "./scripts/i18n" in text and "messages.po" in text


def test_pages_use_no_emoji_a_servers_fonts_cannot_draw() -> None:
    # "👍" rendered as an empty box with a server's default fonts; ✓ ✕ ✗ (Dingbats) are in DejaVu Sans.
    emoji = re.compile("[\U0001F000-\U0001FFFF\u2600-\u26FF\uFE0F]")
    files = [*TEMPLATES.glob("*.html"), *(ROOT / "bridge" / "static").glob("*.js")]
    found = [(path.name, m.group(0)) for path in files for m in emoji.finditer(path.read_text(encoding="utf-8"))]
    assert not found
