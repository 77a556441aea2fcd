"""``stats_release``: each (type, day) released once, when it is ``FEDERATION_DELAY_DAYS`` old,
for every public face and for the push alike (SPEC §7, docs/PRIVACY.md). Cron runs it nightly
(``stats_push`` and ``stats_demo`` run it first too); reads never release anything."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from statsservice import clock
from statsservice.cli import dp as dp_mode
from statsservice.cli.options import DAY
from statsservice.domain.federation.aggregates import Outgoing, Withheld, build, last_final_day
from statsservice.domain.federation.privacy import period_of
from statsservice.domain.registry import REGISTRY, TYPE_NAMES
from statsservice.domain.release import ReleaseRules
from statsservice.extensions import db
from statsservice.observability.cli import command
from statsservice.observability.metrics import record_job
from statsservice.storage import release as store
from statsservice.text import plural
from statsservice.web.series import MAP_DECIMALS


@dataclass
class ReleaseRun:
    """What one run released (or, in a dry run, would release), and what it left for later."""

    made: list[store.Made] = field(default_factory=list)
    summed: int = 0
    #: in DP mode (``FEDERATION_DP``): the periods released instead of days
    dp: dp_mode.DpRun | None = None

    @property
    def released(self) -> list[Outgoing]:
        return [m.result for m in self.made if isinstance(m.result, Outgoing)]

    @property
    def withheld(self) -> list[Withheld]:
        return [m.result for m in self.made if isinstance(m.result, Withheld)]

    @property
    def demo(self) -> int:
        return sum(1 for m in self.made if m.demo and isinstance(m.result, Outgoing))

    @property
    def suppressed(self) -> Counter:
        total: Counter = Counter()
        for item in [*self.released, *self.withheld]:
            total.update(item.suppressed)
        return total


def final_day() -> date:
    """The newest day that may be released: ``FEDERATION_DELAY_DAYS`` old."""
    return last_final_day(clock.today(), current_app.config["FEDERATION_DELAY_DAYS"])


def plan_day(stats_type: str, day: date) -> store.Made:
    """The release of one (type, day) as it would be made now: the aggregate of the released cells
    of its organisations (``store.population``), or why it is withheld."""
    cfg = current_app.config
    rules = ReleaseRules.from_config(cfg)
    who, demo = store.population(stats_type, day)
    label_type = stats_type if REGISTRY[stats_type].labelled else ""
    counted = store.day_input(stats_type, day, label_type, rules.min_clients, who)
    return store.Made(build(counted, rules), counted.clients, demo)


def due_days(stats_type: str, date_from: date | None, date_to: date) -> list[date]:
    """Days of a type to look at: never released nor withdrawn, or withheld within
    ``FEDERATION_WINDOW_DAYS`` of the last final day (a late upload may bring it to k)."""
    known = store.releases_of(stats_type)
    recheck_from = final_day() - timedelta(days=current_app.config["FEDERATION_WINDOW_DAYS"])
    covered = _covered(stats_type)
    due = []
    for day in store.candidate_days(stats_type, date_from, date_to):
        row = known.get((stats_type, day))
        if day in covered:
            continue
        if row is None or (row.status == store.WITHHELD and day >= recheck_from):
            due.append(day)
    return due


def _covered(stats_type: str) -> set[date]:
    """Days inside a period DP mode released or withdrawn: never released exactly afterwards (a
    hub back in exact mode does not publish what its DP releases protected)."""
    days: set[date] = set()
    for row in store.period_rows(stats_type):
        if row.status == store.WITHHELD:
            continue
        start, end = period_of(row.date, row.period)
        days.update(start + timedelta(days=i) for i in range((end - start).days + 1))
    return days


def release_days(
    date_from: date | None = None, date_to: date | None = None, *, dry_run: bool = False
) -> ReleaseRun:
    """Release every due day up to the last final one (or ``date_to``, if earlier); with
    ``dry_run`` plan them and store nothing. Each day is committed on its own: a long first run
    keeps what it released if it stops half-way."""
    run = ReleaseRun()
    final = min(date_to, final_day()) if date_to else final_day()
    rules = ReleaseRules.from_config(current_app.config)
    if not dry_run:
        for row in store.unsummed():
            store.add_sums(row)
            run.summed += 1
        db.session.commit()
    if dp_mode.dp_settings() is not None:  # DP mode: periods instead of days, nothing exact
        run.dp = dp_mode.release_periods(date_from, date_to, dry_run=dry_run)
        return run
    for stats_type in TYPE_NAMES:
        for day in due_days(stats_type, date_from, final):
            made = plan_day(stats_type, day)
            run.made.append(made)
            if dry_run:
                continue
            store.store(made)
            if isinstance(made.result, Outgoing) and stats_type in store.MAP_TYPES:
                who, _demo = store.population(stats_type, day)
                store.store_areas(stats_type, day, rules, who, MAP_DECIMALS)
            db.session.commit()
    return run


def report(run: ReleaseRun) -> str:
    if run.dp is not None:
        return (
            f"released {len(run.dp.released)} periods (demo {sum(m.demo for m in run.dp.released)}), "
            f"withheld {len(run.dp.withheld)}, refused {len(run.dp.refused)}"
        )
    suppressed = run.suppressed
    return (
        f"released {len(run.released)} (demo {run.demo}), withheld {len(run.withheld)}, "
        f"suppressed_k {suppressed['k']}, suppressed_dominance {suppressed['dominance']}"
    )


def echo_privacy(run: ReleaseRun, *, withheld: bool = True) -> None:
    """In DP mode: the periods a run withheld, what it refused (on standard error), and the
    year's budget spent."""
    settings = dp_mode.dp_settings()
    if run.dp is None or settings is None:
        return
    for made in run.dp.withheld if withheld else []:
        click.echo(f"withheld {made.label}: {made.reason}")
    for message in run.dp.refused:
        click.echo(f"error: {message}", err=True)
    years = {m.start.year for m in run.dp.made} | {clock.today().year}
    click.echo(dp_mode.spent_line(settings, years))


def refuse_loudly(run: ReleaseRun) -> None:
    """A run whose releases the budget refused fails (after storing what it could)."""
    if run.dp is not None and run.dp.refused:
        raise click.ClickException(
            f"{plural(len(run.dp.refused), 'release')} refused: the year's differential-privacy budget "
            "would be exceeded (statsservice dp budget)"
        )


@command("stats_release")
@click.option("--date-from", type=DAY, help="First day to look at (default: every day with records).")
@click.option(
    "--date-to", type=DAY, help="Last day (default and latest: FEDERATION_DELAY_DAYS before today)."
)
@click.option("--dry-run", is_flag=True, help="Say what would be released; store nothing.")
@click.option(
    "--withdraw",
    "withdraw_day",
    type=DAY,
    help="Take this day back from the public faces (every type); it is never released again.",
)
@with_appcontext
def stats_release(date_from, date_to, dry_run: bool, withdraw_day) -> None:
    """Release each final day once for every public face (and for the push)."""
    if withdraw_day:
        store.withdraw(withdraw_day.date(), TYPE_NAMES)
        db.session.commit()
        click.echo(f"withdrawn {withdraw_day.date()} from the public faces: never released again")
        return
    run = release_days(
        date_from.date() if date_from else None, date_to.date() if date_to else None, dry_run=dry_run
    )
    for item in run.withheld:
        click.echo(f"withheld {item.type} {item.date}: {item.reason}")
    echo_privacy(run)
    if dry_run:
        click.echo(f"dry run: would have {report(run)}")
        return
    record_job("release", not (run.dp and run.dp.refused))
    summed = f", {plural(run.summed, 'earlier release')} summed" if run.summed else ""
    click.echo(f"{report(run)}{summed}; days up to {final_day()} are final")
    refuse_loudly(run)


def register(app: Flask) -> None:
    app.cli.add_command(stats_release)
