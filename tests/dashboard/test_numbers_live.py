"""The Numbers screen stays live (no reload) and Re-pair links a phone anew; Restart only reconnects.

Headless Chromium against a real server around the FakeControl: the test changes a session's
state the way the supervisor would, and the page must follow within a few poll intervals with the
server's own words (the live text equals what a fresh server render says).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bridge.daemon.sessions import REASON_WORDS, STATE_WORDS, SessionState
from bridge.http.dashboard.numbers import NUMBERS_POLL_SECONDS
from bridge.i18n import Wording
from tests.browser import ARTIFACTS, logged_in_page
from tests.conftest import JAKARTA
from tests.http.conftest import login
from tests.http.fake_control import ADMIN, OTHER_ADMIN, FakeControl
from tests.http.test_pair_page_browser import QR_SHOWN

pytestmark = pytest.mark.browser

WAIT_MS = int(NUMBERS_POLL_SECONDS * 1000 * 4)  # a few poll rounds


def item(number: str, selector: str) -> str:
    return f'[data-number="{number}"] {selector}'


async def snapshot(page: Any, number: str) -> dict[str, object]:
    """What the page shows for one number: words, dot, last message, phone name, which actions are visible."""
    script = """(number) => {
      const li = document.querySelector(`[data-number="${number}"]`);
      const visible = (el) => !!el && !el.closest('[hidden]');
      return {words: li.querySelector('.state-words').textContent, dot: li.querySelector('.dot').dataset.state,
              last: li.querySelector('.last-message').textContent,
              push: visible(li.querySelector('.push-name')) ? li.querySelector('.push-name-text').textContent : null,
              buttons: Array.from(li.querySelectorAll('.actions a, .actions button')).filter(visible)
                         .map((el) => el.textContent.trim())};
    }"""
    return await page.evaluate(script, number)  # type: ignore[no-any-return]


async def wait_for_words(page: Any, number: str, words: str) -> None:
    await page.wait_for_function(
        "([number, words]) => document.querySelector(`[data-number=\"${number}\"] .state-words`).textContent === words",
        arg=[number, words], timeout=WAIT_MS)


async def test_numbers_follow_state_changes_without_reload(client: TestClient, control: FakeControl) -> None:
    control.connect(ADMIN)
    base = str(client.make_url("")).rstrip("/")
    async with logged_in_page(base, "/numbers", ready="#numbers") as page:
        await page.evaluate("() => { window.__samePage = true; }")
        first = await snapshot(page, ADMIN)
        assert first["words"] == STATE_WORDS[SessionState.CONNECTED] and first["dot"] == "CONNECTED"
        assert first["buttons"] == ["Details", "Restart", "Re-pair", "Log out"]

        # The connection drops: words (with the reason), dot and actions change by themselves.
        control.set(ADMIN, SessionState.DISCONNECTED, "network")
        expected = f"{STATE_WORDS[SessionState.DISCONNECTED]} — {REASON_WORDS['network']}"
        await wait_for_words(page, ADMIN, expected)
        live = await snapshot(page, ADMIN)
        assert live["dot"] == "DISCONNECTED" and live["buttons"] == ["Details", "Restart"]  # still paired
        await page.screenshot(path=str(ARTIFACTS / "numbers-live-disconnected.png"), full_page=True)

        # Back, with a new message and another phone name; the other number moves too.
        moment = datetime(2026, 11, 23, 7, 45, tzinfo=UTC)
        control.set(ADMIN, SessionState.CONNECTED, linked_jid=f"{ADMIN}:3@s.whatsapp.net", push_name="Budi HP 2",
                    last_message_at=moment)
        control.show_qr(OTHER_ADMIN)
        await wait_for_words(page, ADMIN, STATE_WORDS[SessionState.CONNECTED])
        await wait_for_words(page, OTHER_ADMIN, STATE_WORDS[SessionState.SCAN_QR])
        live = await snapshot(page, ADMIN)
        # The page writes the time like the server: workspace zone and its abbreviation ("… 21:05 WIB").
        assert live["last"] == Wording("en", JAKARTA).when(moment) and live["last"].endswith(" WIB")
        assert live["push"] == "Budi HP 2"
        assert await page.evaluate("() => window.__samePage") is True  # never reloaded

        # What the page built live is what the server renders for the same states.
        others = await snapshot(page, OTHER_ADMIN)
        assert others["buttons"] == ["Pair this number"] and others["dot"] == "SCAN_QR"
        await page.reload()
        await page.wait_for_selector("#numbers")
        assert await snapshot(page, ADMIN) == live
        assert await snapshot(page, OTHER_ADMIN) == others
        assert page.problems == []


async def test_the_words_come_from_the_server(client: TestClient, control: FakeControl) -> None:
    control.set(ADMIN, SessionState.FAILED, "too_many_failures")
    await login(client)
    (admin, _) = await (await client.get("/api/sessions")).json()
    assert admin["state_words"] == STATE_WORDS[SessionState.FAILED]
    assert admin["reason_words"] == REASON_WORDS["too_many_failures"]
    script = await (await client.get("/static/dash_numbers.js")).text()
    for words in (*STATE_WORDS.values(), *REASON_WORDS.values()):
        assert json.dumps(words)[1:-1] not in script  # no second copy of the dictionary in the page's JS


async def test_repair_logs_out_and_shows_a_new_qr(client: TestClient, control: FakeControl) -> None:
    control.connect(ADMIN)
    base = str(client.make_url("")).rstrip("/")
    async with logged_in_page(base, "/numbers", ready="#numbers") as page:
        questions: list[str] = []

        async def dismiss(dialog: Any) -> None:
            questions.append(dialog.message)
            await dialog.dismiss()

        async def accept(dialog: Any) -> None:
            questions.append(dialog.message)
            await dialog.accept()

        # Changing one's mind at the confirm does nothing.
        page.once("dialog", dismiss)
        await page.click(item(ADMIN, "button[data-repair]"))
        await page.wait_for_timeout(300)
        assert questions and "logs out the phone that is linked now" in questions[0]
        assert control.calls == [] and page.url == f"{base}/numbers"

        # Restart only reconnects: no logout, no new scan asked for.
        page.once("dialog", accept)
        await page.click(item(ADMIN, "button:has-text('Restart')"))
        await wait_for_words(page, ADMIN, STATE_WORDS[SessionState.SCAN_QR])  # the fake's restart shows a QR
        assert "nobody has to scan again" in questions[-1]
        assert [call for call in control.calls if call[1] == ADMIN] == [("restart", ADMIN)]

        # Re-pair: confirm, log out, a new QR round, the pairing page with the QR.
        control.connect(ADMIN)
        await page.goto(f"{base}/numbers")
        control.calls.clear()
        page.once("dialog", lambda dialog: dialog.accept())
        await page.click(item(ADMIN, "button[data-repair]"))
        await page.wait_for_url(f"{base}/pair/{ADMIN}")
        assert control.calls == [("logout", ADMIN), ("restart", ADMIN)]
        await page.wait_for_function(QR_SHOWN, timeout=5000)
        assert await page.locator("#section-qr").is_visible()
        await page.screenshot(path=str(ARTIFACTS / "numbers-repair-qr.png"), full_page=True)
        assert page.problems == []


async def test_repair_that_cannot_log_out_says_why(client: TestClient, control: FakeControl) -> None:
    control.connect(ADMIN)
    base = str(client.make_url("")).rstrip("/")
    async with logged_in_page(base, "/numbers", ready="#numbers") as page:
        control.set(ADMIN, SessionState.DISCONNECTED, "network")  # the page has not polled yet
        page.once("dialog", lambda dialog: dialog.accept())
        await page.click(item(ADMIN, "button[data-repair]"))
        await page.wait_for_selector("#dash-error:not([hidden])")
        assert "not linked" in await page.locator("#dash-error").inner_text()
        assert page.url == f"{base}/numbers" and ("restart", ADMIN) not in control.calls


async def test_start_page_is_the_numbers_screen(client: TestClient, control: FakeControl) -> None:
    await login(client)
    start, numbers = await client.get("/", allow_redirects=False), await client.get("/numbers")
    assert start.status == 200
    html = await start.text()
    same = (await numbers.text()).replace("next=/numbers", "next=/")  # the language links come back here
    assert html.replace("next=/numbers", "next=/") == same  # one screen, one template
    assert 'aria-current="page">Numbers' in html and 'id="numbers"' in html
    unknown = await client.get("/pair/6289999999999")
    assert unknown.status == 404 and "is not in config.toml" in await unknown.text()
