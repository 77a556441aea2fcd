"""Rolling-origin backtest: how well each model would have forecast this very series, and which
forecaster the series therefore uses.

From each of the last ``origins`` weeks that leave ``horizon`` weeks after them, the model is
refitted on the weeks before (never on what it forecasts) and forecasts 1..``horizon`` weeks
ahead; every forecast point is compared with what happened. Reported per series:

- **MASE**: the mean absolute error of those forecasts divided by the mean absolute one-week
  change of the series before the first origin (the in-sample naive error; Hyndman & Koehler
  2006). Below 1: better than "next week as this week" was in-sample.
- **coverage80 / coverage95**: the share of actual values inside the 80 % / 95 % intervals.

A model is used only if its backtest error is lower than the naive forecast's over the same
points; otherwise the series uses the naive forecast and says so (``beats_naive`` false).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from statsservice.domain.weather.models import ETS_DAMPED, ETS_LEVEL, NAIVE, Forecast, forecast

#: the shortest training part a backtest origin may have
MIN_TRAIN = 8
#: rolling origins per series (each refits every candidate model)
ORIGINS = 4
#: the candidates compared with the naive forecast
CANDIDATES = (ETS_LEVEL, ETS_DAMPED)


@dataclass(frozen=True, slots=True)
class Score:
    """A model's backtest on one series."""

    model: str
    mae: float
    mase: float | None  # None: the series never moved before the first origin (no scale)
    coverage80: float
    coverage95: float
    points: int


@dataclass(frozen=True, slots=True)
class Backtest:
    """The forecaster a series uses and the measured accuracy shown with its forecast."""

    model: str
    score: Score
    naive: Score
    beats_naive: bool
    origins: int
    horizon: int


def usable_horizon(length: int, horizon: int) -> int:
    """The longest horizon (at most ``horizon``) a series of ``length`` weeks can be backtested
    at with at least one origin; 0 when not even one week can."""
    return max(0, min(horizon, length - MIN_TRAIN))


def _score(model: str, y: np.ndarray, horizon: int, starts: Sequence[int], scale: float) -> Score:
    errors: list[float] = []
    in80 = in95 = 0  # counts of actual values inside each interval
    for start in starts:
        predicted: Forecast = forecast(model, y[:start], horizon)
        actual = y[start : start + horizon]
        for i, value in enumerate(actual):
            errors.append(abs(float(value) - predicted.mean[i]))
            in80 += int(predicted.lower80[i] <= value <= predicted.upper80[i])
            in95 += int(predicted.lower95[i] <= value <= predicted.upper95[i])
    points = len(errors)
    mae = float(np.mean(errors))
    return Score(
        model=model,
        mae=mae,
        mase=mae / scale if scale > 0 else None,
        coverage80=in80 / points,
        coverage95=in95 / points,
        points=points,
    )


def backtest(history: Sequence[float], horizon: int, origins: int = ORIGINS) -> Backtest | None:
    """Backtest every candidate and the naive forecast on ``history``; None when the series is
    too short for one origin at ``horizon`` weeks (see ``usable_horizon``)."""
    y = np.asarray(history, dtype=float)
    count = min(origins, len(y) - MIN_TRAIN - horizon + 1)
    if horizon < 1 or count < 1:
        return None
    starts = list(range(len(y) - horizon - count + 1, len(y) - horizon + 1))
    scale = float(np.mean(np.abs(np.diff(y[: starts[0]])))) if starts[0] > 1 else 0.0
    naive = _score(NAIVE, y, horizon, starts, scale)
    best = naive
    for model in CANDIDATES:
        score = _score(model, y, horizon, starts, scale)
        if score.mae < best.mae - 1e-12:
            best = score
    return Backtest(
        model=best.model,
        score=best,
        naive=naive,
        beats_naive=best.model != NAIVE,
        origins=count,
        horizon=horizon,
    )
