"""The weather of one week: every series with its history, forecast, backtest and warning, the
warnings, and the category states of the month. The result is the document the hub stores and
serves as it is (``/stats/weather.json``); same series in, same document out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from statsservice.domain.weather.alerts import WINDOW, Alert, detect
from statsservice.domain.weather.backtest import ORIGINS, backtest, usable_horizon
from statsservice.domain.weather.models import NAIVE, forecast
from statsservice.domain.weather.series import WEEK, Series, modelled
from statsservice.domain.weather.states import adverse, category_states, month_of

#: shortest modelled history (weeks) that gets a forecast; shorter: "not enough data"
MIN_HISTORY = 12
HORIZON = 8
MIN_HORIZON, MAX_HORIZON = 4, 12
#: natural bounds of each metric (forecasts and intervals are clipped to them)
BOUNDS: dict[str, tuple[float, float | None]] = {"share": (0.0, 1.0), "current": (0.0, 1.0)}
INSUFFICIENT, FORECAST = "insufficient", "forecast"


@dataclass(frozen=True, slots=True)
class Settings:
    """How far ahead, how many backtest origins, the warning window and the shortest history."""

    horizon: int = HORIZON
    origins: int = ORIGINS
    window: int = WINDOW
    min_history: int = MIN_HISTORY

    def __post_init__(self) -> None:
        if not MIN_HORIZON <= self.horizon <= MAX_HORIZON:
            raise ValueError(f"horizon must be {MIN_HORIZON} to {MAX_HORIZON} weeks")
        if self.min_history < MIN_HORIZON + 8 or self.origins < 1 or self.window < 2:
            raise ValueError("min_history must be at least 12 weeks, origins and window positive")


def _clip(metric: str, value: float) -> float:
    low, high = BOUNDS.get(metric, (0.0, None))
    value = max(low, value)
    return min(high, value) if high is not None else value


def _forecast_points(metric: str, last_week: date, values: Sequence[float], model: str, steps: int) -> list:
    predicted = forecast(model, values, steps)
    return [
        {
            "date": (last_week + WEEK * (i + 1)).isoformat(),
            "mean": _clip(metric, predicted.mean[i]),
            "lower80": _clip(metric, predicted.lower80[i]),
            "upper80": _clip(metric, predicted.upper80[i]),
            "lower95": _clip(metric, predicted.lower95[i]),
            "upper95": _clip(metric, predicted.upper95[i]),
        }
        for i in range(steps)
    ]


def _warning(series: Series, alert: Alert) -> dict[str, Any]:
    return {
        "id": f"{series.id}/{alert.direction}/{alert.since.isoformat()}",
        "series": series.id,
        "type": series.type,
        "key": series.key,
        "metric": series.metric,
        "category": series.category,
        "labels": dict(series.labels),
        "direction": alert.direction,
        "since": alert.since.isoformat(),
        "from": alert.before,
        "to": alert.after,
        "expected": alert.expected,
        "weeks": alert.weeks,
        "adverse": adverse(series.type, series.key, alert.direction),
    }


def one_series(series: Series, last_week: date, settings: Settings) -> tuple[dict[str, Any], Alert | None]:
    """The entry of one series and its warning, if any."""
    dates, values = modelled(series.points, last_week)
    entry: dict[str, Any] = {
        "id": series.id,
        "type": series.type,
        "key": series.key,
        "metric": series.metric,
        "category": series.category,
        "labels": dict(series.labels),
        "history": [{"date": day.isoformat(), "value": value} for day, value in series.points],
        "status": INSUFFICIENT,
        "weeks": len(values),
        "forecast": [],
        "backtest": None,
    }
    steps = usable_horizon(len(values), settings.horizon)
    if len(values) < settings.min_history or steps < MIN_HORIZON:
        return entry, None
    tested = backtest(values, steps, settings.origins)
    if tested is None:  # cannot happen past the checks above; never a forecast without accuracy
        return entry, None
    entry["status"] = FORECAST
    entry["forecast"] = _forecast_points(series.metric, last_week, values, tested.model, steps)
    entry["backtest"] = {
        "model": tested.model,
        "mase": tested.score.mase,
        "coverage80": tested.score.coverage80,
        "coverage95": tested.score.coverage95,
        "naive_mase": tested.naive.mase,
        "beats_naive": tested.beats_naive,
        "origins": tested.origins,
        "horizon": tested.horizon,
        "points": tested.score.points,
    }
    alert = detect(dates, values, series.metric, settings.window)
    return entry, alert


def build(series: Sequence[Series], last_week: date, settings: Settings | None = None) -> dict[str, Any]:
    """The weather document for the week starting ``last_week`` (the last complete week)."""
    settings = settings or Settings()
    entries, warnings = [], []
    keys: dict[str, set[str]] = {}
    for one in sorted(series, key=lambda s: s.id):
        entry, alert = one_series(one, last_week, settings)
        entries.append(entry)
        if entry["status"] == FORECAST:
            keys.setdefault(one.category, set()).add(f"{one.type}/{one.key}")
        if alert is not None:
            warnings.append(_warning(one, alert))
    month = month_of(last_week)
    counts = {category: len(found) for category, found in keys.items()}
    return {
        "as_of": (last_week + WEEK - WEEK / 7).isoformat(),
        "last_week": last_week.isoformat(),
        "period": "week",
        "month": month,
        "settings": {
            "horizon": settings.horizon,
            "origins": settings.origins,
            "window": settings.window,
            "min_history": settings.min_history,
            "naive": NAIVE,
        },
        "keys": counts,
        "states": category_states(warnings, counts, month),
        "warnings": warnings,
        "series": entries,
    }


def warnings_as_of(
    document: Mapping[str, Any], series: Sequence[Series], last_week: date
) -> list[dict[str, Any]]:
    """The warnings the series had with data up to ``last_week`` (an earlier week than the
    document's), for the series the document forecasts: what a run that week would have raised
    (the bulletin of a month the command did not run in)."""
    models = {e["id"] for e in document["series"] if e["backtest"]}
    window = int(document["settings"]["window"])
    found = []
    for one in series:
        if one.id not in models:
            continue
        dates, values = modelled([p for p in one.points if p[0] <= last_week], last_week)
        if len(values) < int(document["settings"]["min_history"]):
            continue
        alert = detect(dates, values, one.metric, window)
        if alert is not None:
            found.append(_warning(one, alert))
    return found
