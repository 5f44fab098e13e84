"""Every screen in one language at a time: the header switch, the workspace zone on every time.

Headless Chromium on a real server (FakeControl data): each screen is read in English, then the
header's ID link is followed and the same screen is read in Bahasa Indonesia. A screen fails when
it shows a catalog sentence of the other language (beyond names and data), and every time on it
must carry the workspace zone's abbreviation (WIB for Asia/Jakarta).
"""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from bridge.i18n import catalog
from tests.browser import ARTIFACTS, logged_in_page
from tests.dashboard.sample import HOT, fill
from tests.http.fake_control import ADMIN, FakeControl

pytestmark = pytest.mark.browser

SCREENS = {"/numbers": "#numbers", "/rules": "h1", "/rules/new": "#editor", "/leads": ".leads-table",
           f"/leads/{HOT}": "#lead-value", "/activity": "h1", "/events": "h1", "/links": "h1",
           f"/pair/{ADMIN}": "#state-words"}
TIME = re.compile(r"\b\d{1,2}:\d{2}\b(?! (WIB|WITA|WIT)\b)")  # a clock time without its zone


def _sentences(language: str) -> set[str]:
    """The catalog's multi-word texts that differ between the two languages, as shown in `language`."""
    shown: set[str] = set()
    for message in catalog("id"):
        if not message.id or isinstance(message.id, tuple | list) or "%(" in message.id or "<" in message.id:
            continue
        if all(path.startswith("engine/") for path, _ in message.locations):
            continue  # template titles become rule names: data, shown as the owner saved them
        indonesian = str(message.string)
        if not indonesian or indonesian == message.id or len(message.id.split()) < 3:
            continue
        shown.add(message.id if language == "en" else indonesian)
    return shown


async def _read(page: object, path: str, ready: str) -> str:
    await page.goto(page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2] + path)  # type: ignore[attr-defined]
    await page.wait_for_selector(ready)  # type: ignore[attr-defined]
    if path == "/rules/new":
        await page.wait_for_selector("#editor select")  # type: ignore[attr-defined]
    return " ".join((await page.inner_text("body")).split())  # type: ignore[attr-defined]


async def test_every_screen_in_one_language_with_workspace_times(client: TestClient, control: FakeControl) -> None:
    fill(control)
    base = str(client.make_url(""))
    english, indonesian = _sentences("en"), _sentences("id")
    async with logged_in_page(base, "/numbers", ready="#numbers") as page:
        for language, other in (("en", indonesian), ("id", english)):
            if language == "id":
                await page.click('.lang-switch a[lang="id"]')  # the header switch, remembered by cookie
                await page.wait_for_selector('html[lang="id"]')
            for path, ready in SCREENS.items():
                text = await _read(page, path, ready)
                assert await page.get_attribute("html", "lang") == language, path
                leaked = sorted(s for s in other if s in text)
                assert not leaked, f"{path} in {language} shows the other language: {leaked[:5]}"
                assert not TIME.search(text), f"{path}: a time without its zone: {TIME.search(text)}"
                await page.screenshot(path=str(ARTIFACTS / f"lang-{language}{path.replace('/', '-')}.png"))
        editor = await _read(page, "/rules/new", "#editor")  # built by JS from the server's words
        assert "JIKA" in editor and "Semua ini harus benar (DAN)" in editor and "Simpan aturan" in editor
        leads = await _read(page, "/leads", ".leads-table")
        assert "Semua orang yang chat dengan nomor Anda" in leads and " WIB" in leads
        assert page.problems == []
