"""Headless Chromium for the web-page tests: the Debian chromium driven by Playwright.

`browser_page(viewport, **context_options)` is a fresh page in a fresh browser; the options go to
`browser.new_context` (`is_mobile=True`, `device_scale_factor=2`, `storage_state=...`). Every page
collects uncaught page errors in `page.problems` and console errors in `page.console`: a test asserts
what it cares about is empty at the end (`page.console.clear()` forgets the expected ones, such as
the 401 of a wrong token).

`logged_in_page(base, path)` opens `path` on a real server, checks it is sent to the login form,
signs in with the test token (or `token=`), waits to be back on `path` and for `ready` when given.

Screenshots go to `ARTIFACTS` (test-artifacts/) for a person to look at; CI keeps them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.http.conftest import TOKEN

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _missing(reason: str) -> None:
    # CI installs both (.ci/run): there a missing browser is a failure, not a skip.
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def playwright_factory() -> Any:
    """`async_playwright`, or a skip (a failure under CI) when chromium or playwright is missing."""
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install playwright)")
    return async_playwright


@asynccontextmanager
async def browser_page(viewport: dict[str, int] | None = None, **context_options: Any) -> AsyncIterator[Any]:
    """A fresh page in a fresh headless Chromium; `page.problems` collects uncaught JS errors,
    `page.console` console errors. `context_options` go to `browser.new_context`."""
    async_playwright = playwright_factory()
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport=viewport or DESKTOP, **context_options)
            page = await context.new_page()
            problems: list[str] = []
            console: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
            page.problems = problems
            page.console = console
            yield page
        finally:
            await browser.close()


@asynccontextmanager
async def logged_in_page(base: str, path: str, viewport: dict[str, int] | None = None, ready: str | None = None,
                         token: str = TOKEN, **context_options: Any) -> AsyncIterator[Any]:
    """`path` opened on the server at `base` after signing in on the login form it redirects to;
    waits for `ready` when given. `context_options` as for `browser_page`."""
    base = base.rstrip("/")
    async with browser_page(viewport, **context_options) as page:
        await page.goto(f"{base}{path}")
        assert "/login" in page.url, f"{path} did not ask to log in: {page.url}"
        await page.fill("#token", token)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{base}{path}")
        await page.wait_for_load_state()
        if ready:
            await page.wait_for_selector(ready)
        yield page
