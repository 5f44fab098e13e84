"""Headless Chromium against the real server: log in, watch the pairing page follow the session.

Screenshots land in test-artifacts/pair-*.png for a person to look at.
"""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from bridge.daemon.sessions import SessionState
from tests.browser import ARTIFACTS, PHONE, browser_page, logged_in_page
from tests.http.conftest import TOKEN
from tests.http.fake_control import ADMIN, OTHER_ADMIN, FakeControl

pytestmark = pytest.mark.browser

QR_SHOWN = "() => { const img = document.getElementById('qr');" \
           " return img.complete && img.naturalWidth > 0 && img.offsetWidth > 0; }"


async def test_pair_page_in_chromium(client: TestClient, control: FakeControl) -> None:
    base = str(client.make_url("")).rstrip("/")
    control.show_qr(ADMIN, lifetime=60)

    async with browser_page() as page:
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
        page.console.clear()  # console errors count once logged in (a wrong token is a 401)

        await page.wait_for_function(QR_SHOWN, timeout=5000)
        assert await page.locator("#state-words").inner_text() == (
            "Waiting for you to scan the QR code")
        steps = page.locator("#section-qr .steps")
        for text in ("Link a device", "Linked devices"):
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

    # A phone-sized screen, logged in through the form again.
    control.show_qr(OTHER_ADMIN, lifetime=60)
    async with logged_in_page(base, f"/pair/{OTHER_ADMIN}", viewport=PHONE, device_scale_factor=2,
                              is_mobile=True) as phone:
        await phone.wait_for_function(QR_SHOWN, timeout=5000)
        width = await phone.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
        assert await phone.locator(".phone-hint").is_visible()
        await phone.screenshot(path=str(ARTIFACTS / "pair-phone.png"), full_page=True)
    problems = page.problems + page.console + phone.problems
    assert not problems, problems
