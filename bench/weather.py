"""The cyber weather's bench (docs/weather.md): detection on generated series with injected
changes of known size and date, false warnings on flat series, and ``weather.json`` latency.

1. **Detection.** Weekly series of ``--weeks`` weeks, Gaussian noise (sd 1) around a level of
   10 (seeded, so every run draws the same series). A step of ``size`` standard deviations is
   injected ``at`` weeks before the end (1 to the test window); the share of series warned about
   in the step's direction is the detection rate. ``--series`` flat series (no step) give the
   false warnings per 100 series; a slow trend (0.05 sd a week) is counted the same way.
2. **Latency.** A scratch SQLite hub with demo data (weather mode), ``stats_weather`` run once
   (its time reported), then ``GET /stats/weather.json`` ``--requests`` times through the app.

    .venv/bin/python -m bench.weather [--smoke] [--series 100] [--weeks 52]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from datetime import date, timedelta
from importlib.metadata import version
from pathlib import Path

from bench.harness import scratch_hub
from statsservice import clock
from statsservice.domain.weather.alerts import WINDOW, detect

START = date(2025, 1, 6)
WEEK = timedelta(days=7)
SIZES = (2.0, 3.0, 4.0, 6.0)


def draw(weeks: int, seed: int, step: float = 0.0, at: int = 0, slope: float = 0.0) -> list[float]:
    rng = random.Random(seed)
    return [10 + slope * i + rng.gauss(0, 1) + (step if i >= weeks - at else 0.0) for i in range(weeks)]


def warned(values: list[float]) -> str | None:
    dates = [START + WEEK * i for i in range(len(values))]
    alert = detect(dates, values, "count")
    return alert.direction if alert else None


def detection(series: int, weeks: int) -> None:
    print(f"## detection: {series} series per cell, {weeks} weeks, noise sd 1, window {WINDOW} weeks\n")
    ats = (2, 3, 4, 6)
    print("| step (sd) | " + " | ".join(f"{at} weeks before the end" for at in ats) + " |")
    print("|---|" + "---|" * len(ats))
    for size in SIZES:
        cells = []
        for at in ats:
            hits = sum(warned(draw(weeks, 1000 * at + k, size, at)) == "rising" for k in range(series))
            cells.append(f"{100 * hits / series:.0f} %")
        print(f"| +{size:g} | " + " | ".join(cells) + " |")
    flat = sum(warned(draw(weeks, 50_000 + k)) is not None for k in range(series))
    trend = sum(warned(draw(weeks, 60_000 + k, slope=0.05)) is not None for k in range(series))
    print(f"\nfalse warnings per 100 flat series: {100 * flat / series:.1f} ({flat} of {series})")
    print(f"warnings per 100 series with a slow trend (0.05 sd/week): {100 * trend / series:.1f}\n")


def latency(requests: int, days: int) -> None:
    from statsservice.cli.demo import fill
    from statsservice.cli.release import release_days
    from statsservice.cli.weather import compute
    from statsservice.extensions import db

    with tempfile.TemporaryDirectory(prefix="bench-weather-") as scratch, scratch_hub(Path(scratch)) as app:
        fill(analyses=10, days=days, weather=True)
        release_days()  # the weather reads released days only
        started = time.perf_counter()
        outcome = compute()
        db.session.commit()
        took = time.perf_counter() - started
        print(
            f"## weather.json: demo hub, 10 analyses x {days} days; stats_weather {took:.1f} s for "
            f"{outcome.series} series ({outcome.forecast} forecast, {outcome.warnings} warnings)\n"
        )
        client = app.test_client()
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get("/stats/weather.json")
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        times.sort()
        p95 = times[max(0, int(len(times) * 0.95) - 1)]
        print(
            f"GET /stats/weather.json ({len(response.data) / 1024:.0f} KiB), {requests} requests in-process: "
            f"p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds: checks the bench runs")
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--days", type=int, default=364)
    args = parser.parse_args()
    if args.smoke:
        args.series, args.weeks, args.requests, args.days = 3, 20, 3, 100
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"statsmodels {version('statsmodels')}, {clock.today()}\n"
    )
    detection(args.series, args.weeks)
    latency(args.requests, args.days)


if __name__ == "__main__":
    main()
