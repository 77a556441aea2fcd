"""Loaded at start-up by every Python process the test suite starts (``PYTHONPATH`` points here):
shift its clock by the same offset as the test process, so a live hub and its test agree on
"today". See ``tests/frozen_clock.py``. Not on the path outside the suite."""

import os
import time

_offset = os.environ.get("STATS_TEST_CLOCK_OFFSET")
if _offset:
    import time_machine

    time_machine.travel(time.time() + float(_offset), tick=True).start()
