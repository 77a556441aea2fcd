"""What the public JSON routes compute: released days turned into chart data by the same
processors as ``/api/v1/stats/processed/`` (no aggregation of its own here). Every figure comes
from fixed releases (``storage.release``), every count is coarsened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import current_app

from statsservice import clock
from statsservice.domain.processors import ProcessorError
from statsservice.domain.processors.objects import EMPTY_LABELS
from statsservice.domain.release import ReleaseRules, coarsen, coarsen_weights
from statsservice.errors import ApiError
from statsservice.storage import release
from statsservice.storage.processed import run_processor
from statsservice.storage.stats import StatsFilter


@dataclass(frozen=True, slots=True)
class Kind:
    """A public route: the stats type it reads and its usual processor."""

    type: str
    processor: str


KINDS: dict[str, Kind] = {
    "threats": Kind("threat", "threat_average_on_date"),
    "vulnerabilities": Kind("vulnerability", "vulnerability_average_on_date"),
    "risks": Kind("risk", "risk_averages"),
    "compliance": Kind("compliance", "compliance_averages"),
    "cartography": Kind("cartography", "cartography_heatmap"),
}
#: what ranks a client's top threat and vulnerability on the map (an ``averages`` key)
MAP_METRIC = "maxRisk"
MAP_INDEX = 1  # MAP_METRIC is the element's m2 (``StatsType.explode``)
#: map coordinates are published with this many decimals (0.1° is about 11 km)
MAP_DECIMALS = 1
#: query parameters handed to the processor as its ``processor_params``
PROCESSOR_PARAMS = ("risks_type", "risks_state", "controls")
#: the processors' names for request fields, as the public routes call them
FIELDS = {"aggregation_period": "period", "type": "processor"}


def window(days: int, *, today: date | None = None) -> tuple[date, date]:
    """The last ``days`` days, today included."""
    today = today or clock.today()
    return today - timedelta(days=days - 1), today


def chosen_window(params: dict[str, Any]) -> tuple[date, date]:
    """A custom from/to range when given (a report cites fixed dates), else the last ``days`` days."""
    if params.get("date_from") and params.get("date_to"):
        return params["date_from"], params["date_to"]
    return window(params.get("days", 365))


def public_count(own: float, released: float, k: int) -> int | None:
    """A count as a public face shows it: this hub's part coarsened (``coarsen``), plus what other
    hubs released (a global hub's hubs and the analyses behind their aggregates: released values,
    counted as they are)."""
    mine = coarsen(own, k)
    return int(released) + (mine or 0) if released else mine


def public_counts(found: release.Coverage, k: int) -> tuple[int | None, int | None]:
    """(organisations, analyses) behind a window: the most behind one released day of this hub,
    coarsened; on a global hub, the hubs and the analyses behind their aggregates."""
    return public_count(found.organisations, found.hubs, k), public_count(
        found.analyses, found.hub_analyses, k
    )


def with_coverage(result: dict[str, Any], stats_type: str, selection: StatsFilter) -> dict[str, Any]:
    """Add the organisations and analyses behind a chart (what a reader needs to weigh it), from
    the released days of its window only."""
    found = release.coverage(
        stats_type, selection.date_from, selection.date_to, local_only=selection.local_only
    )
    organisations, analyses = public_counts(found, min_clients())
    return {**result, "organisations": organisations, "analyses": analyses}


def min_clients() -> int:
    return ReleaseRules.from_config(current_app.config).min_clients


def compute(kind_name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run the requested processor for a public route; bad parameters are 400 errors."""
    kind = KINDS[kind_name]
    name = params.get("processor") or kind.processor
    local_only = bool(params.get("local_stats_only"))
    if params.get("last_stats"):
        newest = release.latest_day(kind.type, local_only=local_only)
        date_from = date_to = newest or clock.today()
    else:
        date_from, date_to = chosen_window(params)
    selection = StatsFilter(date_from=date_from, date_to=date_to, local_only=local_only)
    processor_params = {key: params[key] for key in PROCESSOR_PARAMS if params.get(key) is not None}
    period = params.get("period") or "day"
    data = run_named(name, kind.type, selection, period, processor_params)
    result = {
        "type": kind.type,
        "processor": name,
        "period": period,
        "date_from": date_from,
        "date_to": date_to,
        "local_stats_only": local_only,
        "data": data,
    }
    return with_coverage(result, kind.type, selection)


def run_named(
    name: str, stats_type: str, selection: StatsFilter, period: str, params: dict[str, Any] | None = None
) -> Any:
    """Run a processor over the released data, every point's weight coarsened; its
    ``ProcessorError`` becomes a 400 naming the public parameter."""
    try:
        data = run_processor(
            name, stats_type=stats_type, params=params or None, selection=selection, period=period
        )
        return coarsen_weights(data, min_clients())
    except ProcessorError as exc:
        field = FIELDS.get(exc.field, exc.field.removeprefix("processor_params."))
        raise ApiError(400, exc.message, {field: [exc.message]}) from None


def _top(cells: list[tuple], labels: dict[str, dict[str, str]]) -> dict[str, Any] | None:
    """The object of an area's released cells with the highest mean ``MAP_METRIC``."""
    best = max(((s[MAP_INDEX] / n, key) for key, n, *s in cells if n), default=None)
    if best is None:
        return None
    value, key = best
    return {"labels": {**EMPTY_LABELS, **labels.get(key, {})}, "value": value}


def markers(params: dict[str, Any]) -> dict[str, Any]:
    """One marker per area of at least k organisations (coordinates rounded to ``MAP_DECIMALS``),
    with the top threat and vulnerability of the cells its organisations released together over
    the window: released day cells only (``storage.release.store_areas``), so a day that no area
    released reads back through no window, and no area says how many organisations it holds."""
    date_from, date_to = chosen_window(params)
    by_type = {t: release.area_cells(t, date_from, date_to) for t in release.MAP_TYPES}
    labels = {
        t: release.public_labels(t, {cell[0] for cells in areas.values() for cell in cells})
        for t, areas in by_type.items()
    }
    out = []
    for latitude, longitude in sorted(set().union(*by_type.values())):
        top = {t: _top(by_type[t].get((latitude, longitude), []), labels[t]) for t in release.MAP_TYPES}
        out.append({"latitude": latitude, "longitude": longitude, **top})
    return {
        "metric": MAP_METRIC,
        "markers": out,
        "min_organisations": min_clients(),
        "date_from": date_from,
        "date_to": date_to,
    }
