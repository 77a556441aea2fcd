"""Calendar arithmetic shared by the API windows and retention (python-dateutil, not by hand)."""

from __future__ import annotations

from datetime import date

from dateutil.relativedelta import relativedelta


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier, clamped to that month's last day
    (31 May minus 3 months is 28 or 29 February); ``date.min`` before year 1."""
    try:
        return day - relativedelta(months=months)
    except (ValueError, OverflowError):
        return date.min
