"""Headless Chromium walks the dashboard nav through every screen, events and links included.

Each screen's nav marks its own item (aria-current) and takes the user to every other one;
screenshots land in test-artifacts/nav-*.png (laptop) and nav-*-phone.png (390 px wide).
"""

from __future__ import annotations

import pytest

from bridge.daemon.sessions import STATE_WORDS
from engine.model import parse_message
from store.inbox import ingest
from tests.browser import ARTIFACTS, PHONE, logged_in_page
from tests.conftest import message
from tests.dashboard.sample import fill
from tests.dashboard.test_links import CUSTOMER, attach_services, click
from tests.http.conftest import Serve
from tests.http.fake_control import ADMIN, FakeControl
from tests.http.fake_events import EVENT

pytestmark = pytest.mark.browser

# (nav item, the path it leads to, something only that screen shows)
SCREENS = [("Numbers", "/numbers", "#numbers"), ("Rules", "/rules", "main h1"), ("Leads", "/leads", ".leads-table"),
           ("Activity", "/activity", "main h1"), ("Events", "/events", ".event-list"),
           ("Webhooks", "/webhooks", "#add-subscription"), ("Links", "/links", "#rotators")]
NAV_ITEMS = [name for name, _, _ in SCREENS]
CURRENT = "() => Array.from(document.querySelectorAll('nav.dash-nav [aria-current=page]')).map(a => a.textContent)"
ITEMS = "() => Array.from(document.querySelectorAll('nav.dash-nav a')).map(a => a.textContent)"
WIDTH = "() => document.documentElement.scrollWidth"


async def test_nav_walks_every_screen(serve: Serve) -> None:
    control = FakeControl()
    services = attach_services(control)
    fill(control)
    control.connect(ADMIN)
    client = await serve(control)
    base = str(client.make_url("")).rstrip("/")
    code = await click(client)  # a visitor who then writes: the Links screen has something to show
    ingest(services.db, parse_message(message(id="M-nav-1", session=ADMIN, text=f"[{code}]",
                                              sender=f"{CUSTOMER}@s.whatsapp.net", chat=f"{CUSTOMER}@s.whatsapp.net")),
           services.clock())
    services.process()

    async with logged_in_page(base, "/numbers", ready="nav.dash-nav") as page:
        assert page.url == f"{base}/numbers"
        assert await page.locator(f'[data-number="{ADMIN}"] .state-text').inner_text() == STATE_WORDS[
            control.session(ADMIN).state]
        for name, path, marker in [*SCREENS[1:], SCREENS[0]]:
            await page.click(f"nav.dash-nav >> text={name}")
            await page.wait_for_url(f"{base}{path}")
            await page.wait_for_selector(marker)
            assert await page.evaluate(ITEMS) == NAV_ITEMS, path  # every screen is one click away
            assert await page.evaluate(CURRENT) == [name], path
            await page.screenshot(path=str(ARTIFACTS / f"nav-{name.lower()}.png"), full_page=True)

        # The door page of an event keeps the nav, with Events marked.
        await page.goto(f"{base}/events")
        await page.click(f'a[href="/events/{EVENT}"]')
        await page.wait_for_url(f"{base}/events/{EVENT}")
        assert await page.evaluate(CURRENT) == ["Events"]
        await page.screenshot(path=str(ARTIFACTS / "nav-event-door.png"), full_page=True)

        await page.goto(f"{base}/links")
        assert await page.locator(f'#rotator-default [data-number="{ADMIN}"] .number-state').inner_text() == (
            STATE_WORDS[control.session(ADMIN).state])
        assert await page.locator(f'.visitors tr[data-code="{code}"]').count() == 1
        assert page.problems == []

    # On a phone: the nav wraps (no sideways scrolling) and every screen still fits 390 px.
    async with logged_in_page(base, "/links", viewport=PHONE, ready="#rotators") as phone:
        assert await phone.evaluate(CURRENT) == ["Links"]
        await phone.screenshot(path=str(ARTIFACTS / "nav-links-phone.png"), full_page=True)
        for path in ("/links", "/numbers", "/events", f"/events/{EVENT}"):
            await phone.goto(f"{base}{path}")
            await phone.wait_for_selector("nav.dash-nav")
            assert await phone.evaluate(WIDTH) <= PHONE["width"], path
            links = phone.locator("nav.dash-nav a")
            for index in range(await links.count()):  # every item visible without scrolling the nav
                box = await links.nth(index).bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (path, index)
        await phone.goto(f"{base}/events")
        await phone.screenshot(path=str(ARTIFACTS / "nav-events-phone.png"), full_page=True)
        assert phone.problems == []


async def test_links_empty_states_fit_a_phone(serve: Serve) -> None:
    control = FakeControl()
    attach_services(control, numbers=[], rotators={}, partners={})
    client = await serve(control)
    base = str(client.make_url("")).rstrip("/")
    async with logged_in_page(base, "/links", viewport=PHONE, ready="#rotators") as phone:
        assert await phone.get_by_text("No rotator links yet").is_visible()
        assert await phone.get_by_text("No partner channels").is_visible()
        assert await phone.evaluate(WIDTH) <= PHONE["width"]  # long config lines and URLs wrap or scroll inside
        await phone.screenshot(path=str(ARTIFACTS / "nav-links-empty-phone.png"), full_page=True)
        assert phone.problems == []
