"""``flask stats_weather``: compute the cyber weather of the last complete released week and
store it (docs/weather.md). Idempotent: a second run on the same data changes nothing. Nightly,
after ``stats_push`` (contrib/cron.d/statsservice)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from statsservice import clock
from statsservice.domain.weather import feed, report, states
from statsservice.domain.weather.series import WEEK, monday
from statsservice.extensions import db
from statsservice.observability.cli import command
from statsservice.observability.metrics import record_job
from statsservice.storage import weather_store
from statsservice.storage.weather import released_series
from statsservice.text import plural


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a run computed and stored."""

    as_of: str
    series: int
    forecast: int
    warnings: int
    new_warnings: int
    bulletin: str | None
    changed: bool


def last_complete_week(today: date, delay_days: int) -> date:
    """The Monday of the last ISO week whose every day is released (``delay_days`` old)."""
    released = today - timedelta(days=delay_days)
    return monday(released + timedelta(days=1)) - WEEK


def settings_from(config: Any) -> report.Settings:
    return report.Settings(
        horizon=int(config["WEATHER_HORIZON_WEEKS"]),
        origins=int(config["WEATHER_BACKTEST_ORIGINS"]),
        window=int(config["WEATHER_WINDOW_WEEKS"]),
        min_history=int(config["WEATHER_MIN_HISTORY_WEEKS"]),
    )


def compute(top_n: int | None = None) -> Outcome:
    """Compute and store the weather (the caller commits)."""
    config = current_app.config
    settings = settings_from(config)
    last_week = last_complete_week(clock.today(), int(config["FEDERATION_DELAY_DAYS"]))
    first_week = last_week - WEEK * (int(config["WEATHER_HISTORY_WEEKS"]) - 1)
    top = int(config["WEATHER_TOP_N"]) if top_n is None else top_n
    series = released_series(first_week, last_week + timedelta(days=6), top)
    document = report.build(series, last_week, settings)

    stored = weather_store.warnings()
    rows = feed.continued(stored, document["warnings"], last_week, settings.window)
    known = {row["id"]: row for row in stored}
    new = sum(1 for row in rows if row["id"] not in known)
    document["warnings"] = rows
    month = document["month"]
    standing = feed.merged(rows, feed.standing_in(stored, month))
    document["states"] = states.category_states(standing, document["keys"], month)

    written = None
    previous = states.previous_month(month)
    if document["keys"] and weather_store.bulletin(previous) is None:
        end = states.last_week_of(previous)
        in_month = feed.merged(
            feed.standing_in([*stored, *rows], previous), report.warnings_as_of(document, series, end)
        )
        bulletin = states.bulletin(
            previous,
            in_month,
            document["keys"],
            document["series"],
            weather_store.bulletin(states.previous_month(previous)),
        )
        if weather_store.save_bulletin(bulletin, end + timedelta(days=6)):
            written = previous
    changed = weather_store.save_warnings(rows) > 0
    changed = weather_store.save_report(document) or changed or written is not None
    return Outcome(
        as_of=document["as_of"],
        series=len(document["series"]),
        forecast=sum(1 for entry in document["series"] if entry["status"] == report.FORECAST),
        warnings=len(rows),
        new_warnings=new,
        bulletin=written,
        changed=changed,
    )


@command("stats_weather")
@click.option(
    "--top",
    type=click.IntRange(1, 50),
    default=None,
    help="Threats and vulnerabilities (default: WEATHER_TOP_N).",
)
@with_appcontext
def stats_weather(top: int | None) -> None:
    """Compute the cyber weather (forecasts, warnings, monthly bulletin) from released cells."""
    try:
        outcome = compute(top)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        record_job("weather", False)
        raise
    except ValueError as exc:  # a WEATHER_* setting out of range
        db.session.rollback()
        record_job("weather", False)
        raise click.ClickException(str(exc)) from None
    record_job("weather", True)
    click.echo(
        f"weather as of {outcome.as_of}: {plural(outcome.series, 'series', 'series')} "
        f"({outcome.forecast} forecast, {outcome.series - outcome.forecast} with not enough data), "
        f"{plural(outcome.warnings, 'warning')} ({outcome.new_warnings} new)"
        + (f", bulletin {outcome.bulletin} published" if outcome.bulletin else "")
        + ("" if outcome.changed else "; nothing changed")
    )


def register(app: Flask) -> None:
    app.cli.add_command(stats_weather)
