"""What the public JSON routes compute: a selection of records turned into chart data by the same
processors as ``/api/v1/stats/processed/`` (no aggregation of its own here)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import current_app

from statsservice import clock
from statsservice.domain.processors import ProcessorError
from statsservice.domain.processors.objects import EMPTY_LABELS
from statsservice.domain.release import ReleaseRules
from statsservice.errors import ApiError
from statsservice.storage import dashboard
from statsservice.storage.processed import labels_for, run_processor
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


def with_coverage(result: dict[str, Any], stats_type: str, selection: StatsFilter) -> dict[str, Any]:
    """Add the organisations and analyses behind a chart (what a reader needs to weigh it)."""
    organisations, analyses = dashboard.coverage(
        StatsFilter(
            type=stats_type,
            client_id=selection.client_id,
            date_from=selection.date_from,
            date_to=selection.date_to,
            local_only=selection.local_only,
        )
    )
    return {**result, "organisations": organisations, "analyses": analyses}


def compute(kind_name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run the requested processor for a public route; bad parameters are 400 errors."""
    kind = KINDS[kind_name]
    name = params.get("processor") or kind.processor
    local_only = bool(params.get("local_stats_only"))
    if params.get("last_stats"):
        newest = dashboard.latest_date(kind.type, local_only=local_only)
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
    """Run a processor; its ``ProcessorError`` becomes a 400 naming the public parameter."""
    try:
        return run_processor(
            name,
            stats_type=stats_type,
            params=params or None,
            selection=selection,
            period=period,
            rules=ReleaseRules.from_config(current_app.config),
        )
    except ProcessorError as exc:
        field = FIELDS.get(exc.field, exc.field.removeprefix("processor_params."))
        raise ApiError(400, exc.message, {field: [exc.message]}) from None


def _top(
    stats_type: str, ids: list[int], date_from: date, date_to: date, rules: ReleaseRules
) -> dict[str, Any] | None:
    """The released object of an area's clients with the highest mean ``MAP_METRIC``."""
    found = dashboard.top_released(stats_type, ids, date_from, date_to, rules, MAP_INDEX)
    if found is None:
        return None
    key, value = found
    labels = labels_for(stats_type, [key], needed=rules.min_clients).get(key, {})
    return {"labels": {**EMPTY_LABELS, **labels}, "value": value}


def markers(params: dict[str, Any], *, local_only: bool = False) -> dict[str, Any]:
    """One marker per area (coordinates rounded to ``MAP_DECIMALS``) where at least k sharing
    organisations are, with the top threat and vulnerability they release together over the
    window; an area with fewer is not on the map (it would point at one organisation)."""
    date_from, date_to = chosen_window(params)
    rules = ReleaseRules.from_config(current_app.config)
    areas: dict[tuple[float, float], list[int]] = defaultdict(list)
    for client in dashboard.mapped_clients():
        if local_only and not client.local:
            continue
        area = (round(client.latitude, MAP_DECIMALS), round(client.longitude, MAP_DECIMALS))
        areas[area].append(client.id)
    out = []
    organisations = 0
    for (latitude, longitude), ids in sorted(areas.items()):
        if len(ids) < rules.min_clients:
            continue
        threat = _top("threat", ids, date_from, date_to, rules)
        vulnerability = _top("vulnerability", ids, date_from, date_to, rules)
        if threat is None and vulnerability is None:
            continue
        organisations += len(ids)
        out.append(
            {"latitude": latitude, "longitude": longitude, "threat": threat, "vulnerability": vulnerability}
        )
    return {
        "metric": MAP_METRIC,
        "markers": out,
        "organisations": organisations,
        "date_from": date_from,
        "date_to": date_to,
    }
