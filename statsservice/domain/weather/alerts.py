"""The warning test: has a series moved beyond what its own history explains?

ETS(A,N,N) (simple exponential smoothing with additive errors, statsmodels) is fitted on the
weeks before the last ``WINDOW`` weeks and forecasts those weeks with a 95 % interval. The test
uses that one model whatever forecaster the series' backtest chose: the backtest sees the
recent weeks, and a change in them makes the naive forecast (with its wide intervals) win it,
which would hide the very change the test is for. A series gets a warning when

1. its last ``RUN`` weeks (at least) all lie above the upper bound of that interval (``rising``)
   or all below the lower bound (``falling``), and
2. the last week differs from the forecast for it by at least ``MIN_RELATIVE`` of the forecast
   and at least the metric's ``MIN_ABSOLUTE`` (a series that barely varies has a narrow
   interval: a step too small to matter is not news).

``since`` is the first week of the trailing run of weeks beyond the interval. Under a model
that fits, one week falls above the 95 % band with probability 2.5 %; two weeks in a row much
less often (the bench measures the false warnings on flat series: docs/weather.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from statsservice.domain.weather.models import ETS_LEVEL, forecast

#: the recent weeks the test looks at (the forecast is made from just before them)
WINDOW = 6
#: trailing weeks that must all lie beyond the 95 % interval
RUN = 2
#: the last week must differ from its forecast by this share of the forecast at least...
MIN_RELATIVE = 0.10
#: ...and by this much in the metric's own unit (shares and compliance are fractions)
MIN_ABSOLUTE = {"share": 0.05, "current": 0.05}

RISING, FALLING = "rising", "falling"


@dataclass(frozen=True, slots=True)
class Alert:
    """A warning on one series: its direction, the first week of the move, and the values the
    sentence quotes (``before``: the last week before the window, ``after``: the last week)."""

    direction: str
    since: date
    before: float
    after: float
    expected: float
    weeks: int


#: the model of the test
MODEL = ETS_LEVEL


def detect(
    dates: Sequence[date], values: Sequence[float], metric: str, window: int = WINDOW, model: str = MODEL
) -> Alert | None:
    """The warning of a series (``values`` per week of ``dates``), or None."""
    origin = len(values) - window
    if origin < 2 or len(values) != len(dates):
        return None
    predicted = forecast(model, values[:origin], window)
    recent = values[origin:]
    above = [v > hi for v, hi in zip(recent, predicted.upper95, strict=True)]
    below = [v < lo for v, lo in zip(recent, predicted.lower95, strict=True)]
    for direction, beyond in ((RISING, above), (FALLING, below)):
        run = 0
        for flag in reversed(beyond):
            if not flag:
                break
            run += 1
        if run < RUN:
            continue
        last, expected = recent[-1], predicted.mean[-1]
        gap = abs(last - expected)
        if gap < MIN_ABSOLUTE.get(metric, 0.0) or gap < MIN_RELATIVE * abs(expected):
            continue
        return Alert(
            direction=direction,
            since=dates[len(values) - run],
            before=float(values[origin - 1]),
            after=float(last),
            expected=float(expected),
            weeks=window,
        )
    return None
