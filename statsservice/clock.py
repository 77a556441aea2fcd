"""The hub's one clock: every "today" and "now" is read here, in UTC.

Why one place: windows, retention cut-offs and federation days must agree on the date whatever
the server's time zone, and tests freeze this clock (``time-machine``) to prove that the hub
behaves the same on the first of a month, at a year boundary or on 29 February.
"""

from __future__ import annotations

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    """Now in UTC, naive (the database columns store naive UTC timestamps)."""
    return datetime.now(UTC).replace(tzinfo=None)


def today() -> date:
    """Today's date in UTC (not the server's local date)."""
    return datetime.now(UTC).date()
