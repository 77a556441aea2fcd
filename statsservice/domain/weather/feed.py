"""Warnings over time: which warning of a run continues one raised before (so a feed entry
keeps its id while the move lasts) and which ones stand in a month (the bulletin)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from statsservice.domain.weather.states import month_of

WEEK = timedelta(days=7)


def continued(
    stored: Sequence[Mapping[str, Any]], current: Iterable[Mapping[str, Any]], last_week: date, window: int
) -> list[dict[str, Any]]:
    """The warning rows to store after a run of the week ``last_week``: each current warning,
    under the id of the stored warning it continues — same series and direction, seen within
    the last ``window`` weeks — or as a new warning raised this week. Running twice on the same
    data gives the same rows."""
    recent: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in sorted(stored, key=lambda r: (r["last_week"], r["id"])):
        if date.fromisoformat(row["last_week"]) >= last_week - WEEK * window:
            recent[(row["series"], row["direction"])] = row
    out = []
    for warning in current:
        row = dict(warning)
        before = recent.get((warning["series"], warning["direction"]))
        if before is not None and before["raised"] <= last_week.isoformat():
            row.update(id=before["id"], since=before["since"], raised=before["raised"])
            row["from"] = before["from"]
        else:
            row["raised"] = last_week.isoformat()
        row["last_week"] = last_week.isoformat()
        out.append(row)
    return out


def standing_in(rows: Iterable[Mapping[str, Any]], month: str) -> list[dict[str, Any]]:
    """The stored warnings that stood in a week of ``month`` (from the week they were raised to
    the last week a run saw them)."""
    found = []
    for row in rows:
        week = date.fromisoformat(row["raised"])
        last = date.fromisoformat(row["last_week"])
        while week <= last:
            if month_of(week) == month:
                found.append(dict(row))
                break
            week += WEEK
    return found


def merged(*groups: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Warnings of several sources, one per (series, direction), the first source winning."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for group in groups:
        for warning in group:
            seen.setdefault((warning["series"], warning["direction"]), dict(warning))
    return [seen[key] for key in sorted(seen)]
