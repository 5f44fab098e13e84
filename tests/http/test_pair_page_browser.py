"""Headless Chromium against the real server: log in, watch the pairing page follow the session.

Screenshots land in test-artifacts/pair-*.png for a person to look at.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bridge.sessions import SessionState
from tests.conftest import ROOT
from tests.http.conftest import TOKEN
from tests.http.fake_control import ADMIN, OTHER_ADMIN, FakeControl

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"
QR_SHOWN = "() => { const img = document.getElementById('qr');" \
           " return img.complete && img.naturalWidth > 0 && img.offsetWidth > 0; }"


def _missing(reason: str) -> None:
    # CI installs both (.ci/run): there a missing browser is a failure, not a skip.
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _playwright() -> Any:
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install playwright)")
    return async_playwright


async def test_pair_page_in_chromium(client: TestClient, control: FakeControl) -> None:
    async_playwright = _playwright()
    ARTIFACTS.mkdir(exist_ok=True)
    base = str(client.make_url("")).rstrip("/")
    control.show_qr(ADMIN, lifetime=60)
    problems: list[str] = []
    watching: list[bool] = []  # console errors count once logged in (a wrong token is a 401)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            page.on("console", lambda m: problems.append(m.text)
                    if m.type == "error" and watching else None)
            page.on("pageerror", lambda e: problems.append(str(e)))

            # Not logged in: the page sends us to the form, which brings us back.
            await page.goto(f"{base}/pair/{ADMIN}")
            assert "/login" in page.url
            await page.fill("#token", "wrong")
            await page.click("button[type=submit]")
            assert await page.locator(".alert").inner_text() == (
                "That token is not right. Check it and try again.")
            await page.fill("#token", TOKEN)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/pair/{ADMIN}")
            watching.append(True)

            await page.wait_for_function(QR_SHOWN, timeout=5000)
            assert await page.locator("#state-words").inner_text() == (
                "Waiting for you to scan the QR code")
            steps = page.locator("#section-qr .steps")
            for text in ("Link a device", "Linked devices", "Tautkan perangkat"):
                assert await steps.get_by_text(text).first.is_visible(), text
            assert await page.get_by_role("button", name="Use a phone number code instead"
                                          ).is_visible()
            await page.wait_for_function(
                "() => document.getElementById('countdown').textContent.includes('changes in')")
            await page.evaluate("() => { window.__sameDocument = true; }")
            await page.screenshot(path=str(ARTIFACTS / "pair-scan.png"), full_page=True)

            # The QR rotates: the page swaps the image without a reload.
            control.show_qr(ADMIN, lifetime=20)
            await page.wait_for_function(
                "() => document.getElementById('qr').src.endsWith('seq=2')", timeout=1500)
            await page.wait_for_function(QR_SHOWN, timeout=2000)

            # Phone code instead of the QR.
            await page.click("#use-code")
            await page.wait_for_function(
                "() => document.getElementById('pair-code').textContent === 'ABCD-0001'",
                timeout=2000)
            assert await page.locator("#section-code").is_visible()
            assert not await page.locator("#section-qr").is_visible()
            await page.screenshot(path=str(ARTIFACTS / "pair-code.png"), full_page=True)

            # The phone links: the page says so, with the name, still without a reload.
            control.connect(ADMIN, push_name="Budi HP")
            await page.wait_for_function(
                "() => document.getElementById('state-words').textContent === 'Connected'",
                timeout=1500)
            linked = await page.locator("#linked-as").inner_text()
            assert "Budi HP" in linked and f"+{ADMIN}" in linked
            assert await page.evaluate("() => window.__sameDocument === true")
            await page.screenshot(path=str(ARTIFACTS / "pair-connected.png"), full_page=True)

            # A different phone scans: the page names it and offers a restart.
            control.set(ADMIN, SessionState.FAILED, "wrong_number",
                        attempted_phone="6281299999999")
            await page.wait_for_function(
                "() => !document.getElementById('wrong-number').hidden", timeout=1500)
            assert "+6281299999999" in await page.locator("#wrong-number").inner_text()
            await page.screenshot(path=str(ARTIFACTS / "pair-wrong-number.png"), full_page=True)
            await page.click("#restart")
            await page.wait_for_function(
                "() => !document.getElementById('section-qr').hidden", timeout=2000)
            await page.wait_for_function(QR_SHOWN, timeout=2000)
            assert ("restart", ADMIN) in control.calls
            assert await page.evaluate("() => window.__sameDocument === true")
            await context.close()

            # A phone-sized screen, logged in through the form again.
            control.show_qr(OTHER_ADMIN, lifetime=60)
            phone = await browser.new_context(viewport={"width": 390, "height": 844},
                                              device_scale_factor=2, is_mobile=True)
            page = await phone.new_page()
            page.on("pageerror", lambda e: problems.append(str(e)))
            await page.goto(f"{base}/login?next=/pair/{OTHER_ADMIN}")
            await page.fill("#token", TOKEN)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/pair/{OTHER_ADMIN}")
            await page.wait_for_function(QR_SHOWN, timeout=5000)
            width = await page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
            assert await page.locator(".phone-hint").is_visible()
            await page.screenshot(path=str(ARTIFACTS / "pair-phone.png"), full_page=True)
            await phone.close()
        finally:
            await browser.close()
    assert not problems, problems
