"""What the weather forecasts: weekly series of released community figures, built from the
public processors' outputs (the same cells, k, weight and dominance rules as every public face;
nothing here sees a record).

Series, per ``type`` (as in the API) and ``key``:

- ``threat`` / ``vulnerability`` (key: the object's uuid), for the ``top_n`` objects by
  prevalence over the last quarter (``RANK_WEEKS``): ``share`` (share of the analyses of the week that list the
  object: the object's weight ``n`` over the week's risk records' weight, since the Front Office
  sends the five types of an analysis together), and the mean ``count``, ``averageRate`` and
  ``maxRisk`` over the analyses that list it;
- ``risk`` (key ``current/kind/level``, e.g. ``current/informational/High risks``): the mean
  number of current risks per analysis at that level (``value``);
- ``cartography`` (key ``current/kind``): the total of the current heat map, risks per analysis
  (``total``);

(residual risks, the plan after treatment, are left out: the weather is about the risks as they
are, and every series costs model fits);
- ``compliance`` (key: the referential's uuid): its current maturity, the plain mean of its
  released categories (``current``, a fraction).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

WEEK = timedelta(days=7)
#: the category of each type: states are given per category (cartography belongs to risks)
CATEGORIES = {
    "threat": "threats",
    "vulnerability": "vulnerabilities",
    "risk": "risks",
    "cartography": "risks",
    "compliance": "compliance",
}
CATEGORY_ORDER = ("threats", "vulnerabilities", "risks", "compliance")
OBJECT_METRICS = ("share", "count", "averageRate", "maxRisk")
#: the metric of each series type other than objects
METRIC_OF = {"risk": "value", "cartography": "total", "compliance": "current"}
TOP_N = 10
#: the weeks over which the most prevalent objects are ranked (a quarter: what matters now)
RANK_WEEKS = 13
#: the risk state forecast (risk levels and cartography)
STATE = "current"
#: significant digits a figure keeps on entering the weather (see ``steady``)
DIGITS = 9


def steady(value: float) -> float:
    """``value`` at ``DIGITS`` significant digits. The database adds floats in the order of its
    plan, and a plan changes (after autovacuum, say), so the same released cells can come back
    different in the last bit; a model fitted on a different last bit gives another forecast.
    Rounded here, a re-run on the same cells gives the same document (``stats_weather`` then
    says "nothing changed"), and nine digits are far finer than any figure means."""
    return float(f"{value:.{DIGITS}g}")


@dataclass(frozen=True, slots=True)
class Series:
    """One weekly series: ``points`` (Monday of the ISO week, value) ascending, released weeks
    only (a week whose cells were suppressed is absent, not zero)."""

    type: str
    key: str
    metric: str
    points: tuple[tuple[date, float], ...]
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def category(self) -> str:
        return CATEGORIES[self.type]

    @property
    def id(self) -> str:
        """Stable name of the series (permalinks, warnings)."""
        return f"{self.type}/{self.key}/{self.metric}"


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def modelled(points: Iterable[tuple[date, float]], last_week: date) -> tuple[list[date], list[float]]:
    """The part of a series a model is fitted on: the trailing run of weeks ending at
    ``last_week`` in which no two weeks in a row are missing; a single missing week inside it is
    filled halfway between its neighbours (a model needs every week). Empty when ``last_week``
    itself is missing: an old series is not forecast from where it stopped."""
    by_week = dict(points)
    if last_week not in by_week:
        return [], []
    dates = [last_week]
    week = last_week - WEEK
    while True:
        if week in by_week:
            dates.append(week)
        elif week - WEEK in by_week:
            dates.append(week)  # one missing week: interpolated below
        else:
            break
        week -= WEEK
    dates.reverse()
    values: list[float] = []
    for i, week in enumerate(dates):
        if week in by_week:
            values.append(by_week[week])
        else:
            values.append((by_week[dates[i - 1]] + by_week[dates[i + 1]]) / 2)
    return dates, values


def _day(text: str) -> date:
    return date.fromisoformat(text)


def _records_weight(risk_tree: Mapping[str, Any]) -> dict[date, float]:
    """The weight of each week's risk records (the same ``n`` on every leaf of the week)."""
    weights: dict[date, float] = {}
    for kinds in risk_tree.values():
        for levels in kinds.values():
            for points in levels.values():
                for point in points:
                    weights[_day(point["date"])] = steady(float(point["n"]))
    return weights


def _recent_weight(item: Mapping[str, Any], since: date) -> float:
    return steady(math.fsum(float(p["n"]) for p in item["values"] if _day(p["date"]) >= since))


def object_series(
    stats_type: str, objects: list[dict[str, Any]], weights: Mapping[date, float], top_n: int
) -> list[Series]:
    """The ``top_n`` objects by prevalence over the last ``RANK_WEEKS`` weeks (total weight of
    the analyses that list them; ties by uuid), each with its four metrics."""
    last = max((_day(p["date"]) for item in objects for p in item["values"]), default=date.min)
    since = last - WEEK * (RANK_WEEKS - 1) if last != date.min else last
    ranked = sorted(objects, key=lambda item: (-_recent_weight(item, since), item["object"]))
    out = []
    for item in ranked[:top_n]:
        shares, means = [], defaultdict(list)
        for point in item["values"]:
            week = _day(point["date"])
            total = weights.get(week)
            if total:
                shares.append((week, steady(min(1.0, float(point["n"]) / total))))
            for metric in OBJECT_METRICS[1:]:
                means[metric].append((week, steady(float(point[metric]))))
        labels = dict(item.get("labels") or {})
        out.append(Series(stats_type, item["object"], "share", tuple(shares), labels))
        out.extend(
            Series(stats_type, item["object"], metric, tuple(means[metric]), labels)
            for metric in OBJECT_METRICS[1:]
        )
    return out


def risk_series(tree: Mapping[str, Any]) -> list[Series]:
    out = []
    kinds = tree.get(STATE) or {}
    for kind in sorted(kinds):
        for level, points in kinds[kind].items():
            values = tuple((_day(p["date"]), steady(float(p["value"]))) for p in points)
            out.append(Series("risk", f"{STATE}/{kind}/{level}", "value", values))
    return out


def cartography_series(heatmap: Mapping[str, Any]) -> list[Series]:
    totals: dict[tuple[str, str], list[tuple[date, float]]] = defaultdict(list)
    for point in heatmap.get("values", []):
        week = _day(point["date"])
        for kind, cells in (point.get(STATE) or {}).items():
            totals[(STATE, kind)].append((week, steady(math.fsum(float(cell["value"]) for cell in cells))))
    return [
        Series("cartography", f"{state}/{kind}", "total", tuple(points))
        for (state, kind), points in sorted(totals.items())
    ]


def compliance_series(referentials: list[dict[str, Any]]) -> list[Series]:
    out = []
    for referential in referentials:
        by_week: dict[date, list[float]] = defaultdict(list)
        for category in referential.get("categories", []):
            for point in category.get("values", []):
                by_week[_day(point["date"])].append(steady(float(point["current"])))
        points = tuple((week, steady(math.fsum(v) / len(v))) for week, v in sorted(by_week.items()))
        labels = dict(referential.get("labels") or {})
        out.append(Series("compliance", referential["referential"], "current", points, labels))
    return out


def from_processors(outputs: Mapping[str, Any], top_n: int = TOP_N) -> list[Series]:
    """Every weather series from the weekly outputs of the public processors:
    ``threat``/``vulnerability`` (``*_average_on_date``), ``risk`` (``risk_averages_on_date``),
    ``cartography`` (``cartography_heatmap_on_date``), ``compliance``
    (``compliance_averages_on_date``)."""
    weights = _records_weight(outputs.get("risk") or {})
    series: list[Series] = []
    for stats_type in ("threat", "vulnerability"):
        series.extend(object_series(stats_type, outputs.get(stats_type) or [], weights, top_n))
    series.extend(risk_series(outputs.get("risk") or {}))
    series.extend(cartography_series(outputs.get("cartography") or {}))
    series.extend(compliance_series(outputs.get("compliance") or []))
    return series
