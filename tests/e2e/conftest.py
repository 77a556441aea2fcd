"""Browser tests share one Playwright driver per session (its sync API allows one per thread)."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright


@pytest.fixture(scope="session")
def playwright():
    with sync_playwright() as driver:
        yield driver
