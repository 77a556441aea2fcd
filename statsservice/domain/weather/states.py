"""Monthly category states (calm / worrying / serious) and the monthly bulletin.

The rule (docs/weather.md): a warning is *adverse* when it goes the bad way for its series —
rising for threats, vulnerabilities, Medium and High risk levels and cartography totals, falling
for compliance maturity (a rise of Low risks, or any improvement, is reported but never adverse).
A category's state for a month counts the distinct keys (objects, levels, referentials) of the
category with an adverse warning raised or still standing in a week of that month:

- ``serious``: at least ``max(2, ⌈keys / 4⌉)`` of its keys (``keys``: the category's forecast keys);
- ``worrying``: at least one;
- ``calm``: none;
- none (``null``, "not enough data") when no series of the category has a forecast.

A week belongs to the month of its Thursday (the ISO rule), so every week has one month.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from statsservice.domain.weather.alerts import FALLING, RISING
from statsservice.domain.weather.series import CATEGORIES, CATEGORY_ORDER

CALM, WORRYING, SERIOUS = "calm", "worrying", "serious"
STATES = (CALM, WORRYING, SERIOUS)
#: series whose moves are never adverse
NEUTRAL_LEVELS = ("Low risks",)
MOVERS = 5


def month_of(week: date) -> str:
    """``YYYY-MM`` of the month a week (its Monday) belongs to: the month of its Thursday."""
    return (week + timedelta(days=3)).strftime("%Y-%m")


def last_week_of(month: str) -> date:
    """The Monday of the last week belonging to ``month``."""
    year, number = (int(part) for part in month.split("-"))
    first_next = date(year + number // 12, number % 12 + 1, 1)
    thursday = first_next - timedelta(days=1)
    while thursday.weekday() != 3:
        thursday -= timedelta(days=1)
    return thursday - timedelta(days=3)


def previous_month(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def adverse(stats_type: str, key: str, direction: str) -> bool:
    """Whether a warning goes the bad way for its series (see the module's rule)."""
    if stats_type == "compliance":
        return direction == FALLING
    if stats_type == "risk" and key.rsplit("/", 1)[-1] in NEUTRAL_LEVELS:
        return False
    return direction == RISING


def state_for(keys_warned: int, keys: int) -> str | None:
    """The state of a category (None: none of its series has enough history to be judged)."""
    if not keys:
        return None
    if keys_warned >= max(2, math.ceil(keys / 4)):
        return SERIOUS
    return WORRYING if keys_warned else CALM


def category_states(
    warnings: Iterable[Mapping[str, Any]], keys: Mapping[str, int], month: str
) -> list[dict[str, Any]]:
    """One state per category for ``month`` from the ``warnings`` (dicts with ``type``, ``key``,
    ``direction``) standing in it; ``keys``: forecast keys per category."""
    warned: dict[str, set[str]] = {category: set() for category in CATEGORY_ORDER}
    for warning in warnings:
        if adverse(warning["type"], warning["key"], warning["direction"]):
            warned[CATEGORIES[warning["type"]]].add(f"{warning['type']}/{warning['key']}")
    return [
        {
            "category": category,
            "state": state_for(len(warned[category]), keys.get(category, 0)),
            "month": month,
            "adverse": len(warned[category]),
            "keys": keys.get(category, 0),
        }
        for category in CATEGORY_ORDER
    ]


def movers(series: Sequence[Mapping[str, Any]], month: str, count: int = MOVERS) -> list[dict[str, Any]]:
    """The series that moved most within ``month`` (relative change from its first to its last
    week in the month; at least two weeks), largest first, ties by series id."""
    found = []
    for entry in series:
        inside = [p for p in entry["history"] if month_of(date.fromisoformat(p["date"])) == month]
        if len(inside) < 2:
            continue
        first, last = inside[0]["value"], inside[-1]["value"]
        scale = max(abs(first), 1e-9)
        found.append(
            {
                "type": entry["type"],
                "key": entry["key"],
                "metric": entry["metric"],
                "labels": entry.get("labels", {}),
                "from": first,
                "to": last,
                "change": (last - first) / scale,
            }
        )
    found.sort(key=lambda m: (-abs(m["change"]), f"{m['type']}/{m['key']}/{m['metric']}"))
    return found[:count]


def bulletin(
    month: str,
    warnings: Sequence[Mapping[str, Any]],
    keys: Mapping[str, int],
    series: Sequence[Mapping[str, Any]],
    previous: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The bulletin of ``month``: states (with last month's, when there was a bulletin), the
    warnings standing in the month, what changed, and the top movers."""
    states = category_states(warnings, keys, month)
    before = {s["category"]: s["state"] for s in (previous or {}).get("states", [])}
    for state in states:
        state["previous"] = before.get(state["category"])
    changed = [s["category"] for s in states if s["previous"] is not None and s["previous"] != s["state"]]
    return {
        "month": month,
        "states": states,
        "changed": changed,
        "warnings": [dict(w) for w in warnings],
        "movers": movers(series, month),
    }
