"""Differential-privacy mode (``FEDERATION_DP``, docs/PRIVACY.md): the periodic releases
``stats_release`` makes instead of daily ones, the expected error ``stats_push --dry-run`` prints,
and ``statsservice dp budget``, the year's ledger.

Each (type, period) is released once, when its last day is ``FEDERATION_DELAY_DAYS`` old: the
ledger is checked first (OpenDP's composition of the year's releases plus this one must stay within
the budget, else the release is refused and nothing is drawn), then the noise is drawn once and
fixed in ``public_release`` with what it spent in ``dp_ledger``, in one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from statsservice import clock
from statsservice.domain.federation import indicators
from statsservice.domain.federation.aggregates import last_final_day
from statsservice.domain.federation.privacy import (
    BudgetExceeded,
    DpSettings,
    Plan,
    check,
    epsilon_of,
    period_label,
    period_of,
    periods,
    rho_of,
    short,
)
from statsservice.domain.registry import REGISTRY, TYPE_NAMES
from statsservice.domain.release import ReleaseRules
from statsservice.extensions import db
from statsservice.observability.cli import command
from statsservice.storage import ledger
from statsservice.storage import release as store
from statsservice.text import plural


@dataclass
class PeriodMade:
    """What was decided for one (type, period): released, withheld for now, or refused."""

    type: str
    start: date
    end: date
    period: str
    status: str
    organisations: int = 0
    demo: bool = False
    reason: str = ""

    @property
    def label(self) -> str:
        return f"{self.type} {period_label(self.start, self.period)} ({self.period})"


@dataclass
class DpRun:
    """A run's DP releases; ``refused`` the messages of the releases the budget refused."""

    made: list[PeriodMade] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def released(self) -> list[PeriodMade]:
        return [m for m in self.made if m.status == store.RELEASED]

    @property
    def withheld(self) -> list[PeriodMade]:
        return [m for m in self.made if m.status == store.WITHHELD]


def dp_settings() -> DpSettings | None:
    """DP mode's settings, None in exact mode (the default)."""
    return DpSettings.from_config(current_app.config)


def _final() -> date:
    return last_final_day(clock.today(), current_app.config["FEDERATION_DELAY_DAYS"])


def due_periods(
    stats_type: str, settings: DpSettings, date_from: date | None, date_to: date
) -> list[tuple[date, date]]:
    """Periods of a type with records, over by ``date_to`` (the last final day), never released
    nor withdrawn, or withheld within ``FEDERATION_WINDOW_DAYS``; none holding a day released
    exactly (those days are public already: a DP release never covers them again)."""
    days = store.candidate_days(stats_type, date_from, date_to)
    if not days:
        return []
    starts = {period_of(day, settings.period)[0] for day in days}
    known = {row.date: row for row in store.period_rows(stats_type)}
    recheck_from = date_to - timedelta(days=current_app.config["FEDERATION_WINDOW_DAYS"])
    due = []
    for start, end in periods(min(starts), date_to, settings.period):
        if start not in starts or end > date_to:
            continue
        row = known.get(start)
        if row is not None and (row.status != store.WITHHELD or start < recheck_from):
            continue
        if store.exact_days(stats_type, start, end):
            continue
        due.append((start, end))
    return due


def release_periods(
    date_from: date | None = None, date_to: date | None = None, *, dry_run: bool = False
) -> DpRun:
    """Release every due period of every type (``dry_run``: say which, draw and store nothing).
    Each release is committed on its own, with its ledger rows."""
    settings = dp_settings()
    assert settings is not None
    run = DpRun()
    final = min(date_to, _final()) if date_to else _final()
    for stats_type in TYPE_NAMES:
        for start, end in due_periods(stats_type, settings, date_from, final):
            made = release_period(stats_type, start, end, settings, dry_run=dry_run)
            run.made.append(made)
            if made.status == "refused":
                run.refused.append(made.reason)
    return run


def release_period(
    stats_type: str, start: date, end: date, settings: DpSettings, *, dry_run: bool = False
) -> PeriodMade:
    """One (type, period): its organisations' parts, the year's objects (chosen now if not yet),
    the budget checked, the noise drawn once and the release fixed with its ledger rows."""
    cfg = current_app.config
    rules = ReleaseRules.from_config(cfg)
    who, demo = store.period_population(stats_type, start, end)
    parts = indicators.parts(stats_type, store.period_records(stats_type, start, end, who))
    made = PeriodMade(stats_type, start, end, settings.period, store.WITHHELD, len(parts), demo)
    if len(parts) < rules.min_clients:
        made.reason = plural(len(parts), "organisation")
        return _withheld(made, dry_run)
    if dry_run:
        made.status = store.RELEASED
        return made
    plan = Plan.of(settings, start.year)
    indicator = indicators.INDICATORS[stats_type]
    ledger.lock()
    year_specs = ledger.specs(ledger.entries(start.year))
    keys: list[indicators.Key] = []
    selection = None
    chosen = ledger.selection(stats_type, start.year) if indicator.kind == "objects" else None
    if indicator.kind == "objects" and chosen is None:
        pool = indicators.candidates(parts, rules.min_clients)
        selection = (pool, indicators.selection_spec(stats_type, plan, len(pool)))
    noise = indicators.release_noise(stats_type, plan)
    new = ([selection[1]] if selection and selection[1] else []) + [b.spec for b in noise]
    if not demo:  # the demo's data is known: no one to protect, nothing charged
        try:
            check(settings, start.year, year_specs, new, f"releasing {made.label}")
        except BudgetExceeded as exc:
            db.session.rollback()
            made.status, made.reason = "refused", str(exc)
            store.store_period(
                stats_type,
                start,
                settings.period,
                payload=None,
                organisations=0,
                demo=demo,
                reason=str(exc)[:255],
            )
            db.session.commit()
            return made
    if selection is not None:
        pool, spec = selection
        keys = indicators.select(stats_type, parts, pool, spec)
        if not demo:
            spent_specs = [spec] if spec else []
            year_specs += spent_specs
            ledger.add(
                year=start.year,
                stats_type=stats_type,
                period=settings.period,
                start=start,
                end=end,
                mechanism=ledger.SELECTION,
                rho=rho_of(spent_specs),
                epsilon=epsilon_of(year_specs, settings.delta),
                delta=settings.delta,
                spent=spent_specs,
                detail={"keys": [list(key) for key in keys], "top": indicators.top_of(stats_type, settings)},
            )
    elif chosen is not None:
        keys = chosen
    if indicator.kind == "objects" and not keys:
        made.reason = "no object held by enough organisations to choose from"
        db.session.commit()  # an empty selection spent nothing; the next period chooses again
        return _withheld(made, False)
    labels = {}
    if REGISTRY[stats_type].labelled:
        labels = store.client_labels(stats_type, {key[0] for key in keys}, rules.min_clients, who)
    release = indicators.build_release(
        stats_type,
        start,
        end,
        parts,
        keys,
        noise,
        settings,
        labels=labels,
        min_weight=max(rules.min_analyses, rules.min_clients),
        max_weight=int(cfg["FEDERATION_MAX_WEIGHT"]),
    )
    if not demo:
        year_specs += release.specs
        ledger.add(
            year=start.year,
            stats_type=stats_type,
            period=settings.period,
            start=start,
            end=end,
            mechanism=ledger.RELEASE,
            rho=rho_of(release.specs),
            epsilon=epsilon_of(year_specs, settings.delta),
            delta=settings.delta,
            spent=release.specs,
            detail={"noise": release.payload["dp"]["noise"], "keys": len(keys)},
        )
    store.store_period(
        stats_type,
        start,
        settings.period,
        payload=release.payload,
        organisations=release.organisations,
        demo=demo,
    )
    db.session.commit()
    made.status, made.organisations = store.RELEASED, release.organisations
    return made


def _withheld(made: PeriodMade, dry_run: bool) -> PeriodMade:
    if not dry_run:
        store.store_period(
            made.type,
            made.start,
            made.period,
            payload=None,
            organisations=0,
            demo=made.demo,
            reason=made.reason,
        )
        db.session.commit()
    return made


# --- reports ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Budget:
    """A year's ledger as ``dp budget`` prints it."""

    year: int
    epsilon_budget: float
    epsilon_spent: float
    rho_spent: float
    delta: float
    releases: list[dict]

    def as_json(self) -> dict:
        return {
            "year": self.year,
            "epsilon_budget": self.epsilon_budget,
            "epsilon_spent": self.epsilon_spent,
            "delta": self.delta,
            "releases": self.releases,
        }


def budget(year: int, settings: DpSettings) -> Budget:
    """The year's spend, recomputed by OpenDP from every ledger row of the year."""
    rows = ledger.entries(year)
    specs = ledger.specs(rows)
    listed = [
        {
            "type": row.type,
            "period": row.period,
            "label": period_label(row.date, row.period),
            "date": row.date.isoformat(),
            "date_to": row.date_to.isoformat(),
            "mechanism": row.mechanism,
            "rho": row.rho,
            "epsilon_after": row.epsilon,
            "made_at": row.created_at.isoformat(timespec="seconds"),
        }
        for row in rows
    ]
    return Budget(
        year, settings.year_epsilon, epsilon_of(specs, settings.delta), rho_of(specs), settings.delta, listed
    )


def spent_line(settings: DpSettings, years: set[int] | None = None) -> str:
    """One line of the ledger for a run's report."""
    chosen = sorted(years or {clock.today().year})
    parts = []
    for year in chosen:
        found = ledger.entries(year)
        epsilon = found[-1].epsilon if found else 0.0
        parts.append(f"{year} ε {short(epsilon)} of {short(settings.year_epsilon)}")
    return (
        f"differential privacy: {', '.join(parts)} spent (δ {settings.delta:g}, one budget per organisation "
        f"and year, releases by {settings.period}; statsservice dp budget)"
    )


def expected_lines(settings: DpSettings) -> list[str]:
    """What ``stats_push --dry-run`` prints in DP mode: per type and indicator, the error a release
    of the newest final period would have at the configured budget (median over its keys)."""
    rules = ReleaseRules.from_config(current_app.config)
    final = _final()
    lines = []
    for stats_type in TYPE_NAMES:
        days = store.candidate_days(stats_type, None, final)
        ends = [period_of(day, settings.period) for day in days]
        complete = [(s, e) for s, e in ends if e <= final]
        if not complete:
            lines.append(f"expected error {stats_type}: no final {settings.period} with data yet")
            continue
        start, end = max(complete)
        who, _demo = store.period_population(stats_type, start, end)
        parts = indicators.parts(stats_type, store.period_records(stats_type, start, end, who))
        plan = Plan.of(settings, start.year)
        keys: list[indicators.Key] = []
        if indicators.INDICATORS[stats_type].kind == "objects":
            keys = ledger.selection(stats_type, start.year) or _likely_top(stats_type, parts, settings, rules)
        where = f"{period_label(start, settings.period)}, {plural(len(parts), 'organisation')}"
        errors = indicators.expected_errors(
            stats_type, parts, keys, indicators.release_noise(stats_type, plan)
        )
        if not errors:
            lines.append(f"expected error {stats_type}: nothing to release ({where})")
        for error in errors:
            relative = f", {error.relative:.0%} of the value" if error.relative is not None else ""
            lines.append(
                f"expected error {stats_type} {error.indicator}: ±{error.absolute:.3g} (median over "
                f"{error.keys} {'keys' if error.keys != 1 else 'key'}{relative}; {where})"
            )
    return lines


def _likely_top(
    stats_type: str, parts: dict, settings: DpSettings, rules: ReleaseRules
) -> list[indicators.Key]:
    """For an estimate only (nothing is released): the candidates most organisations hold."""
    pool = indicators.candidates(parts, rules.min_clients)
    top = indicators.top_of(stats_type, settings)
    return sorted(pool, key=lambda key: -sum(p.prevalence(key) for p in parts.values()))[:top]


@click.group("dp")
def dp_group() -> None:
    """Differential privacy: the yearly budget per organisation and its ledger."""


@command("budget")
@click.option("--year", type=int, help="Calendar year (default: this year).")
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object: year, budget, spent, delta, releases."
)
@with_appcontext
def budget_command(year: int | None, as_json: bool) -> None:
    """What the year's DP releases spent of each organisation's budget (OpenDP's composition)."""
    settings = DpSettings.from_config(current_app.config) or DpSettings(
        float(current_app.config["FEDERATION_DP_YEAR_EPSILON"]),
        float(current_app.config["FEDERATION_DP_DELTA"]),
        current_app.config["FEDERATION_DP_PERIOD"],
        int(current_app.config["FEDERATION_DP_TOP"]),
    )
    found = budget(year or clock.today().year, settings)
    if as_json:
        click.echo(json.dumps(found.as_json(), sort_keys=True))
        return
    mode = (
        "on" if current_app.config.get("FEDERATION_DP") else "off (FEDERATION_DP = false: releases are exact)"
    )
    click.echo(f"differential privacy: {mode}")
    click.echo(
        f"{found.year}: ε {short(found.epsilon_spent)} of {short(found.epsilon_budget)} spent "
        f"(δ {found.delta:g}, zCDP ρ {found.rho_spent:.4g}), {len(found.releases)} ledger rows"
    )
    for item in found.releases:
        click.echo(
            f"  {item['made_at']} {item['mechanism']} {item['type']} {item['label']}: ρ {item['rho']:.4g}, "
            f"year ε {short(item['epsilon_after'])} after it"
        )


dp_group.add_command(budget_command)


def register(app: Flask) -> None:
    app.cli.add_command(dp_group)
