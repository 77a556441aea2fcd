"""Forecasters: statsmodels' ETS (additive errors; level only, or with a damped trend) and the
naive forecast (a random walk, ARIMA(0,1,0)), each with 80 % and 95 % prediction intervals.

Nothing here is a model of our own: the parameters, the forecasts and the intervals are
statsmodels'. Fits are deterministic (same series, same numbers). A series whose training part
is constant has no variance to estimate: every model gives that constant with zero-width
intervals (statsmodels' optimisers fail or warn on it).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: model names as the answers spell them, in the order the backtest tries them
ETS_LEVEL = "ETS(A,N,N)"
ETS_DAMPED = "ETS(A,Ad,N)"
NAIVE = "naive"
MODELS = (ETS_LEVEL, ETS_DAMPED, NAIVE)
#: a damped trend has two more parameters: fitted only on this much training data
MIN_TREND_POINTS = 8


@dataclass(frozen=True, slots=True)
class Forecast:
    """``steps`` future values: the mean and the bounds of the 80 % and 95 % intervals."""

    model: str
    mean: tuple[float, ...]
    lower80: tuple[float, ...]
    upper80: tuple[float, ...]
    lower95: tuple[float, ...]
    upper95: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.mean)


def _tuple(values: object) -> tuple[float, ...]:
    return tuple(float(v) for v in np.asarray(values, dtype=float).ravel())


def _flat(model: str, value: float, steps: int) -> Forecast:
    same = (float(value),) * steps
    return Forecast(model, same, same, same, same, same)


def _ets(y: np.ndarray, steps: int, damped: bool, model: str) -> Forecast:
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    # statsmodels 0.15 needs an indexed series for its prediction results
    series = pd.Series(y, index=pd.RangeIndex(len(y)))
    trend = "add" if damped else None
    fitted = ETSModel(series, error="add", trend=trend, damped_trend=damped).fit(disp=False)
    prediction = fitted.get_prediction(start=len(y), end=len(y) + steps - 1)
    i80 = np.asarray(prediction.pred_int(alpha=0.2))
    i95 = np.asarray(prediction.pred_int(alpha=0.05))
    return Forecast(
        model,
        _tuple(prediction.predicted_mean),
        _tuple(i80[:, 0]),
        _tuple(i80[:, 1]),
        _tuple(i95[:, 0]),
        _tuple(i95[:, 1]),
    )


def _naive(y: np.ndarray, steps: int) -> Forecast:
    from statsmodels.tsa.arima.model import ARIMA

    fitted = ARIMA(y, order=(0, 1, 0)).fit()
    result = fitted.get_forecast(steps)
    i80 = np.asarray(result.conf_int(alpha=0.2))
    i95 = np.asarray(result.conf_int(alpha=0.05))
    return Forecast(
        NAIVE,
        _tuple(result.predicted_mean),
        _tuple(i80[:, 0]),
        _tuple(i80[:, 1]),
        _tuple(i95[:, 0]),
        _tuple(i95[:, 1]),
    )


def forecast(model: str, history: Sequence[float], steps: int) -> Forecast:
    """``steps`` values after ``history`` by ``model`` (one of ``MODELS``).

    A model statsmodels cannot fit on this history (too short for a trend, or its optimiser
    fails) gives the naive forecast, named as such: a caller never gets a line it did not ask
    for under another name."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; accepted: {', '.join(MODELS)}")
    y = np.asarray(history, dtype=float)
    if len(y) < 2 or steps < 1:
        raise ValueError("a forecast needs at least two past values and one step")
    if np.ptp(y) == 0:
        return _flat(model, y[-1], steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter: the backtest judges the result
        try:
            if model == ETS_LEVEL:
                result = _ets(y, steps, damped=False, model=model)
            elif model == ETS_DAMPED and len(y) >= MIN_TREND_POINTS:
                result = _ets(y, steps, damped=True, model=model)
            elif model == ETS_DAMPED:
                result = _naive(y, steps)
            else:
                result = _naive(y, steps)
        except (ValueError, np.linalg.LinAlgError, ZeroDivisionError):
            result = _naive(y, steps)
    if not all(np.isfinite(result.mean + result.lower95 + result.upper95)):
        return _naive(y, steps)
    return result
