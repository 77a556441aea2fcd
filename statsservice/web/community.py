"""The community side of a local hub's charts: the global hub's series pulled per day with their
weights (``stats_pull``), rebuilt into the very processor output the local chart shows, over the
same window and period.

The pulled points carry ``n``, the weight behind each day's means, so each day's sums are
``mean × n``; summing those over the window's days (per period bucket) and handing them to the
local processor's own ``shape`` is the local computation itself, only on the community's released
days. With identical data on both sides, both figures are equal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from typing import Any

from statsservice.domain.dates import period_start
from statsservice.domain.processors import Aggregate, Cell
from statsservice.domain.registry import get_processor
from statsservice.domain.stats_types.compliance import category_key

#: the period every series is pulled at: any window and any period can be rebuilt from days
PULL_PERIOD = "day"
#: a chart's processor -> the pulled series it is rebuilt from
SOURCES: dict[str, str] = {
    "threat_average_on_date": "threat_average_on_date",
    "vulnerability_average_on_date": "vulnerability_average_on_date",
    "risk_averages": "risk_averages_on_date",
    "risk_averages_on_date": "risk_averages_on_date",
    "compliance_averages": "compliance_averages_on_date",
    "compliance_averages_on_date": "compliance_averages_on_date",
    "cartography_heatmap": "cartography_heatmap_on_date",
}
#: what ``stats_pull`` fetches from the global hub
PULLED = tuple(sorted(set(SOURCES.values())))

Sums = dict[tuple[date | None, tuple[str, str, str, str]], list[float]]


def _day(point: dict[str, Any]) -> date:
    return date.fromisoformat(str(point["date"]))


def _objects(data: list[dict], days: Any) -> tuple[Sums, dict[date, float], dict]:
    sums: Sums = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    weights: dict[date, float] = {}
    labels = {}
    for item in data:
        labels[item["object"]] = item.get("labels", {})
        for point in item.get("values", []):
            day, n = _day(point), float(point["n"])
            if day not in days:
                continue
            cell = sums[(day, (item["object"], "", "", ""))]
            cell[0] += n
            for i, name in enumerate(("count", "maxRisk", "averageRate")):
                cell[i + 1] += float(point[name]) * n
            weights[day] = max(weights.get(day, 0.0), n)  # not used by the shape: the day's peak
    return sums, weights, labels


def _risks(data: dict, days: Any) -> tuple[Sums, dict[date, float], dict]:
    sums: Sums = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    weights: dict[date, float] = {}
    for state, kinds in data.items():
        for kind, levels in kinds.items():
            for level, points in levels.items():
                for point in points:
                    day, n = _day(point), float(point["n"])
                    if day not in days:
                        continue
                    weights[day] = n  # the same record weight on every leaf of the day
                    cell = sums[(day, (state, kind, level, ""))]
                    cell[0] += n
                    cell[1] += float(point["value"]) * n
    return sums, weights, {}


def _compliance(data: list[dict], days: Any) -> tuple[Sums, dict[date, float], dict]:
    sums: Sums = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    weights: dict[date, float] = {}
    labels = {}
    for ref in data:
        labels[ref["referential"]] = ref.get("labels", {})
        for category in ref.get("categories", []):
            labels[category_key(ref["referential"], category["category"])] = category.get("labels", {})
            for point in category.get("values", []):
                day, n = _day(point), float(point["n"])
                if day not in days:
                    continue
                weights[day] = max(weights.get(day, 0.0), n)  # not used by the shape: the day's peak
                cell = sums[(day, (ref["referential"], category["category"], "", ""))]
                cell[0] += n
                cell[1] += float(point["current"]) * n
                cell[2] += float(point["target"]) * n
    return sums, weights, labels


def _cartography(data: dict, days: Any) -> tuple[Sums, dict[date, float], dict]:
    sums: Sums = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    weights: dict[date, float] = {}
    for point in data.get("values", []):
        day, n = _day(point), float(point["n"])
        if day not in days:
            continue
        weights[day] = n
        for state, kinds in point.items():
            if not isinstance(kinds, dict):
                continue
            for kind, cells in kinds.items():
                for cell in cells:
                    column = cell.get("likelihood", cell.get("probability"))
                    entry = sums[(day, (state, kind, str(cell["impact"]), str(column)))]
                    entry[0] += n
                    entry[1] += float(cell["value"]) * n
    return sums, weights, {}


READERS = {
    "threat_average_on_date": _objects,
    "vulnerability_average_on_date": _objects,
    "risk_averages_on_date": _risks,
    "compliance_averages_on_date": _compliance,
    "cartography_heatmap_on_date": _cartography,
}


class Window:
    """The days of a chart's window, as a container ``day in window`` asks."""

    def __init__(self, date_from: date, date_to: date):
        self.date_from, self.date_to = date_from, date_to

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.date_from <= day <= self.date_to


def _buckets(sums: Sums, weights: dict[date, float], period: str | None) -> Iterator[Any]:
    """Day sums added up per bucket (``None``: the whole window), as the SQL groups them."""
    cells: Sums = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for (day, key), values in sums.items():
        bucket = period_start(day, period) if period else None
        cell = cells[(bucket, key)]
        for i, value in enumerate(values):
            cell[i] += value
    totals: dict[date | None, float] = defaultdict(float)
    for day, weight in weights.items():
        totals[period_start(day, period) if period else None] += weight
    yield [Cell(bucket, key, v[0], (v[1], v[2], v[3])) for (bucket, key), v in cells.items()]
    yield dict(totals)


def rebuild(
    processor_name: str, pulled: Any, date_from: date, date_to: date, period: str
) -> tuple[Any, int, int]:
    """The output of ``processor_name`` over the window from a pulled day series, the number of
    the window's days the community has data for (0: nothing to compare with) and the most
    analyses behind one of those days (what a chart can say it stands on)."""
    processor = get_processor(processor_name)
    reader = READERS[SOURCES[processor_name]]
    sums, weights, labels = reader(pulled, Window(date_from, date_to))
    cells, totals = _buckets(sums, weights, period if processor.series else None)
    aggregate = Aggregate(cells=cells, weights=totals, labels=labels)
    analyses = round(max(weights.values(), default=0.0))
    return processor.shape(aggregate, processor.load_params(None)), len(weights), analyses
