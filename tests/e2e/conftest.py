"""Browser tests share one Playwright driver per session (its sync API allows one per thread) and
one read-only demo hub (no browser test writes to it)."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tests.live import LiveHub

DEMO_ANALYSES = 6
DEMO_DAYS = 60


@pytest.fixture(scope="session")
def playwright():
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def demo_hub(tmp_path_factory):
    """A live hub filled by ``stats_demo`` (DEMO_ANALYSES analyses over DEMO_DAYS days)."""
    hub = LiveHub(tmp_path_factory.mktemp("dashboard-hub")).start()
    try:
        hub.flask("stats_demo", "--analyses", str(DEMO_ANALYSES), "--days", str(DEMO_DAYS))
        yield hub
    finally:
        hub.stop()
