"""The suite's clock reaches the processes it starts: a live hub and its test agree on "today"
(``tests/frozen_clock.py``), also on a pytest-xdist worker, whose own clock the hook already
shifted when it started (measured again there, the offset was zero and put hubs on today)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from tests import frozen_clock

pytestmark = pytest.mark.live  # the session's shifted clock, which child processes share


def test_a_child_process_reads_the_suites_clock():
    here = datetime.now(UTC)
    printed = subprocess.run(
        [sys.executable, "-c", "from datetime import UTC, datetime; print(datetime.now(UTC).isoformat())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    child = datetime.fromisoformat(printed)
    assert abs((child - here).total_seconds()) < 120, (here, child)
    moment = frozen_clock.instant()
    if moment is not None:  # the session started at the pinned instant, not on today's date
        assert abs((child - moment).total_seconds()) < 6 * 3600, (moment, child)
