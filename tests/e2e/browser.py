"""Headless Debian Chromium driven by Playwright for page tests.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (installed by
``.ci/setup.d/chromium.sh``) with a fresh profile and no background networking. Every request
that does not go to 127.0.0.1 is aborted and recorded, so a test can assert that none was made.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Playwright, Route

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
LOCAL_HOSTS = {"127.0.0.1"}
LOCAL_SCHEMES = {"data", "blob", "about"}


@dataclass
class Browser:
    """One browser profile; ``problems`` collects console errors, page errors and outside requests."""

    context: BrowserContext
    console_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)

    def _route(self, route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in LOCAL_SCHEMES or parts.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.outside_requests.append(url)
            route.abort()

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} @ {message.location.get('url')}")

    def new_page(self) -> Page:
        page = self.context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.console_errors.append(f"page error: {exc}"))
        return page

    @property
    def problems(self) -> list[str]:
        return self.console_errors + [f"request left 127.0.0.1: {url}" for url in self.outside_requests]


@contextmanager
def chromium(playwright: Playwright, **context_options) -> Iterator[Browser]:
    """A fresh Chromium profile; ``context_options`` go to Playwright (locale, viewport...).

    ``playwright`` is the session's one driver (the sync API allows one per thread)."""
    options = {
        "viewport": {"width": 1280, "height": 900},
        "locale": "en-US",
        "reduced_motion": "reduce",
        "accept_downloads": True,
        **context_options,
    }
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, **options
        )
        browser = Browser(context)
        context.route("**/*", browser._route)
        try:
            yield browser
        finally:
            context.close()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
