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


def period_start(day: date, period: str) -> date:
    """The first day of ``day``'s period, as the processors date their buckets (weeks start on
    Monday): what lets a hub bucket pulled days exactly as its SQL buckets its own."""
    if period == "week":
        return day - relativedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if period == "year":
        return day.replace(month=1, day=1)
    return day
