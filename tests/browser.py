"""Headless Chromium for the page tests: the Debian package at /usr/bin/chromium driven by
Playwright (never a browser download), console errors and CSP violations collected, and
screenshots saved where CARELOG_SCREENSHOTS says (default: a directory under the temp dir).

Without /usr/bin/chromium the tests skip on a developer machine and fail under CI=true
(`make test` installs it: .ci/ensure-servers).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.conftest import IN_CI

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("CARELOG_SCREENSHOTS")
                   or Path(tempfile.gettempdir()) / "carelog-screenshots")
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)"
        if IN_CI:
            pytest.fail(f"{message}; CI must run the browser tests")
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            # Root in a container has no user namespaces for the sandbox; nothing but
            # loopback is ever loaded, and the browser phones nowhere.
            args=["--no-sandbox", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"])
        try:
            yield browser
        finally:
            browser.close()


class Watched:
    """A page whose console errors (CSP violations among them) the test can assert on."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


def new_page(browser: Browser, *, phone: bool = False) -> Watched:
    context = browser.new_context(viewport=PHONE if phone else LAPTOP,
                                  is_mobile=phone, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(20_000)
    return Watched(context.new_page())


def wait_ready(page: Page) -> None:
    """Until the page's module has rendered what it first asks for (`data-ready`)."""
    page.wait_for_selector("body[data-ready]", state="attached")
    assert page.get_attribute("body", "data-ready") == "true", page.inner_text("#status")


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
