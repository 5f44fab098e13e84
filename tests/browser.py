"""Headless Chromium for the web-page tests: the Debian chromium driven by Playwright.

`logged_in_page(base, path)` opens `path` on a real server, signs in with the test token on the
login form the page redirects to, and collects uncaught page errors in `page.problems`: a test
asserts it is empty at the end. Screenshots go to `ARTIFACTS` (test-artifacts/) for a person to
look at; CI keeps them.
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
async def browser_page(viewport: dict[str, int] | None = None) -> AsyncIterator[Any]:
    """A fresh page in a fresh headless Chromium; `page.problems` collects uncaught JS errors."""
    async_playwright = playwright_factory()
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport=viewport or DESKTOP)
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.problems = problems
            yield page
        finally:
            await browser.close()


@asynccontextmanager
async def logged_in_page(base: str, path: str, viewport: dict[str, int] | None = None,
                         ready: str | None = None) -> AsyncIterator[Any]:
    """`path` opened on the server at `base` after signing in; waits for `ready` when given."""
    async with browser_page(viewport) as page:
        await page.goto(f"{base.rstrip('/')}{path}")
        await page.fill("#token", TOKEN)
        await page.click("button[type=submit]")
        await page.wait_for_load_state()
        if ready:
            await page.wait_for_selector(ready)
        yield page
