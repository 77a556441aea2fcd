"""The weather's arithmetic on series whose truth is known: forecasts inside their intervals, a
rise warned about and a flat series not, too little history gives the empty state, and the same
input always gives the same output."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

from statsservice.domain.weather import report, states
from statsservice.domain.weather.alerts import detect
from statsservice.domain.weather.backtest import backtest
from statsservice.domain.weather.series import Series, from_processors, modelled

START = date(2025, 1, 6)  # a Monday
WEEK = timedelta(days=7)


def series(values: list[float], metric: str = "count", stats_type: str = "threat", key: str = "t") -> Series:
    return Series(stats_type, key, metric, tuple((START + WEEK * i, v) for i, v in enumerate(values)))


def noisy(level: float, slope: float, sd: float, weeks: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [level + slope * i + rng.gauss(0, sd) for i in range(weeks)]


def last_week(values: list[float]) -> date:
    return START + WEEK * (len(values) - 1)


def test_a_known_trend_is_forecast_inside_its_intervals():
    weeks, horizon = 40, 8
    full = noisy(10, 0.5, 1.0, weeks + horizon, seed=7)
    past, future = full[:weeks], full[weeks:]
    entry, _alert = report.one_series(series(past), last_week(past), report.Settings(horizon=horizon))
    assert entry["status"] == "forecast" and len(entry["forecast"]) == horizon
    inside95 = sum(p["lower95"] <= y <= p["upper95"] for p, y in zip(entry["forecast"], future, strict=True))
    assert inside95 >= horizon - 1, (entry["forecast"], future)
    # the true line (no noise) is inside the 80 % band at every step, and the forecast rises
    for i, point in enumerate(entry["forecast"]):
        truth = 10 + 0.5 * (weeks + i)
        assert point["lower80"] <= truth <= point["upper80"], (i, point, truth)
        assert point["lower95"] <= point["lower80"] <= point["mean"] <= point["upper80"] <= point["upper95"]
    assert entry["forecast"][-1]["mean"] > past[-1]
    test = entry["backtest"]
    assert test["model"] != "naive" and test["beats_naive"] and test["mase"] < test["naive_mase"]
    assert 0 <= test["coverage80"] <= test["coverage95"] <= 1 and test["points"] == test["origins"] * horizon


def test_an_injected_rise_is_warned_about_and_a_flat_series_is_not():
    flat = noisy(10, 0, 1.0, 30, seed=3)
    entry, alert = report.one_series(series(flat), last_week(flat), report.Settings())
    assert entry["status"] == "forecast" and alert is None

    risen = list(flat)
    for i in range(27, 30):  # the last three weeks up by 6 standard deviations
        risen[i] += 6
    entry, alert = report.one_series(series(risen), last_week(risen), report.Settings())
    assert alert is not None and alert.direction == "rising"
    assert alert.since == START + WEEK * 27
    assert alert.before == flat[23] and alert.after == risen[29] and alert.weeks == 6

    fallen = [v - 6 if i >= 27 else v for i, v in enumerate(flat)]
    assert detect(*modelled(series(fallen).points, last_week(fallen)), "count").direction == "falling"


def test_a_small_step_on_a_steady_share_is_not_news():
    shares = [0.5] * 20 + [0.52] * 4  # constant series: a zero-width interval, but 2 points is not 5
    entry, alert = report.one_series(series(shares, "share"), last_week(shares), report.Settings())
    assert entry["status"] == "forecast" and alert is None


def test_too_little_history_gives_the_empty_state():
    short = noisy(10, 0, 1, 11, seed=1)
    entry, alert = report.one_series(series(short), last_week(short), report.Settings())
    assert entry["status"] == "insufficient" and entry["forecast"] == [] and entry["backtest"] is None
    assert alert is None and entry["weeks"] == 11 and len(entry["history"]) == 11
    # a series that stopped before the last week is not forecast from where it stopped
    old = noisy(10, 0, 1, 30, seed=1)
    entry, _ = report.one_series(series(old), last_week(old) + WEEK * 2, report.Settings())
    assert entry["status"] == "insufficient" and entry["weeks"] == 0
    assert backtest(short[:8], horizon=4) is None


def test_one_missing_week_is_bridged_two_break_the_series():
    values = noisy(10, 0, 1, 20, seed=2)
    points = [(START + WEEK * i, v) for i, v in enumerate(values) if i != 10]
    dates, filled = modelled(points, last_week(values))
    assert len(dates) == 20 and filled[10] == (values[9] + values[11]) / 2
    points = [(START + WEEK * i, v) for i, v in enumerate(values) if i not in (9, 10)]
    dates, _ = modelled(points, last_week(values))
    assert dates[0] == START + WEEK * 11


def test_the_same_series_give_the_same_document():
    inputs = [series(noisy(10, 0.1 * k, 1, 26, seed=k), key=f"t{k}") for k in range(3)]
    one = report.build(inputs, START + WEEK * 25)
    two = report.build(list(reversed(inputs)), START + WEEK * 25)
    assert one == two
    assert one["as_of"] == (START + WEEK * 25 + timedelta(days=6)).isoformat()
    assert [s["category"] for s in one["states"]] == ["threats", "vulnerabilities", "risks", "compliance"]


def test_a_last_bit_of_the_database_sums_does_not_change_the_document():
    """PostgreSQL adds floats in its plan's order, and the plan changes (after autovacuum): the same
    released cells came back differing in the last bit, and a re-run rewrote every forecast."""

    def outputs(nudge: float) -> dict:
        values = noisy(0.45, 0.002, 0.02, 20, seed=7)
        days = [(START + WEEK * i).isoformat() for i in range(len(values))]
        categories = [
            {"values": [{"date": d, "current": v * f} for d, v in zip(days, values, strict=True)]}
            for f in (0.3, 0.1, 0.7)
        ]
        if nudge:  # another order of addition: the categories swapped, each value one ulp off
            categories = categories[::-1]
            for category in categories:
                for point in category["values"]:
                    point["current"] = math.nextafter(point["current"], 1.0)
        return {"compliance": [{"referential": "r", "labels": {}, "categories": categories}]}

    one, two = from_processors(outputs(0.0)), from_processors(outputs(1.0))
    assert one == two and one[0].points
    assert report.build(one, START + WEEK * 19) == report.build(two, START + WEEK * 19)


def test_monthly_states_follow_the_written_rule():
    warn = [{"type": "threat", "key": f"t{i}", "direction": "rising"} for i in range(3)]
    found = {s["category"]: s["state"] for s in states.category_states(warn[:1], {"threats": 10}, "2026-11")}
    assert found == {"threats": "worrying", "vulnerabilities": None, "risks": None, "compliance": None}
    found = {s["category"]: s["state"] for s in states.category_states(warn, {"threats": 10}, "2026-11")}
    assert found["threats"] == "serious"  # 3 of 10 keys: at least max(2, ceil(10 / 4))
    improving = [
        {"type": "compliance", "key": "r", "direction": "rising"},
        {"type": "risk", "key": "current/informational/Low risks", "direction": "rising"},
    ]
    found = {
        s["category"]: s["state"]
        for s in states.category_states(improving, {"compliance": 3, "risks": 8}, "2026-11")
    }
    assert found == {"threats": None, "vulnerabilities": None, "risks": "calm", "compliance": "calm"}
    assert states.month_of(date(2026, 11, 30)) == "2026-12" and states.last_week_of("2026-11") == date(
        2026, 11, 23
    )
