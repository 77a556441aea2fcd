"""The suite's clock: pinned, so no test depends on the day it runs.

``STATS_TEST_CLOCK`` names the instant the suite runs at (ISO 8601, UTC); unset, it is
``DEFAULT_INSTANT``, an ordinary mid-month, mid-quarter Wednesday morning. ``real`` leaves the
clock alone. ``tests/conftest.py`` freezes ``statsservice.clock`` (and everything else that reads
the time) there with time-machine:

- in-process tests each start exactly at the instant (the clock ticks from there), so a test
  frozen at 23:59 runs on that day, not on the next one;
- tests marked ``live`` (real processes: gunicorn, CLI runs, browsers) run on one shifted clock
  shared by the test process and every Python process it starts (``clock_hook/sitecustomize.py``
  applies the same offset there), so the hub and the test agree on "today" and on timestamps.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

ENV = "STATS_TEST_CLOCK"
OFFSET_ENV = "STATS_TEST_CLOCK_OFFSET"  # seconds to add to the real time, for child processes
DEFAULT_INSTANT = "2026-11-18T10:00:00Z"  # after every fixed date the tests upload
HOOK_DIR = Path(__file__).resolve().parent / "clock_hook"


def instant() -> datetime | None:
    """The pinned instant (aware, UTC), or None when the suite runs on the real clock."""
    text = os.environ.get(ENV, "").strip() or DEFAULT_INSTANT
    if text.lower() == "real":
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def today() -> date:
    """The suite's "today": the pinned instant's date (the real one with ``real``)."""
    moment = instant()
    return moment.date() if moment else datetime.now(UTC).date()
