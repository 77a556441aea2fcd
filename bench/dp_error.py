"""Error of differential-privacy mode (``FEDERATION_DP``, docs/PRIVACY.md) against its accuracy
goals: N organisations × 5 analyses, a year of 12 monthly releases at a yearly budget per
organisation (default ε 4, δ 1e-7), median relative error ≤ 10 % at 100 organisations and ≤ 25 % at
30 on the top-20 threats' prevalence and mean ``count``, the risk-level means and compliance maturity.

For each size, a scratch SQLite hub gets the demo generator's records (``statsservice.demo.payloads``:
every analysis once a month, ``--days`` days a month) through the storage layer uploads use; each
month's release is then made as ``stats_release`` makes it in DP mode (the year's objects chosen
once by OpenDP's noisy top-k on the first month, then each month's Gaussian noise), ``--draws``
times, without the ledger (each draw is a different year). The error of a released value is its
distance to the same indicator computed exactly (no noise, no clipping); the table gives the
median relative error over every released value, month and draw, and beside it the median
documented error (``indicators.expected_errors``, what ``stats_push --dry-run`` prints).

    .venv/bin/python -m bench.dp_error [--sizes 30,100] [--epsilons 4] [--draws 3] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
from collections import defaultdict
from datetime import UTC, date, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from flask_migrate import upgrade

from statsservice import create_app
from statsservice.demo.payloads import Generator
from statsservice.domain.federation import indicators
from statsservice.domain.federation.privacy import DpSettings, Plan, epsilon_of, period_of
from statsservice.domain.registry import REGISTRY, TYPE_NAMES
from statsservice.extensions import db
from statsservice.storage import clients as registry
from statsservice.storage import release as store
from statsservice.storage.stats import NewRecord, upsert_records

YEAR = 2026
#: the indicators the goals name, in the order of the table
GOALS = [
    ("threat", "prevalence"),
    ("threat", "count"),
    ("risk", "value"),
    ("compliance", "current"),
    ("compliance", "target"),
]
GOAL = {100: 0.10, 30: 0.25}


def seed_hub(root: Path, organisations: int, analyses: int, months: int, days: int) -> Any:
    """A migrated hub on its own SQLite file with every analysis's records of the year."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'hub.db'}", "TESTING": True})
    gen = Generator(seed=organisations, anrs=organisations * analyses)
    upload_days = [date(YEAR, m, 3 + 10 * d) for m in range(1, months + 1) for d in range(days)]
    with app.app_context():
        upgrade()
        for org in range(organisations):
            client, _ = registry.create_client(f"Org {org}")
            records = []
            for i in range(org * analyses, (org + 1) * analyses):
                for day in upload_days:
                    for raw in gen.day_batch(i, day):
                        data = REGISTRY[raw["type"]].load(raw["data"])
                        records.append(NewRecord(raw["anr"], raw["type"], day, data))
            upsert_records(client.id, records)
            db.session.commit()
    return app


def measure(app: Any, months: int, epsilons: list[float], draws: int) -> dict[float, dict]:
    """Per budget: the relative errors of every released value, by (type, indicator), with the
    documented ones, and the year's ε the releases spent by OpenDP's accounting."""
    out: dict[float, dict] = {}
    with app.app_context():
        who = store.sharing()
        data: dict[str, list[tuple[date, date, dict]]] = {}
        for stats_type in TYPE_NAMES:
            data[stats_type] = []
            for month in range(1, months + 1):
                start, end = period_of(date(YEAR, month, 1), "month")
                parts = indicators.parts(stats_type, store.period_records(stats_type, start, end, who))
                data[stats_type].append((start, end, parts))
    for epsilon in epsilons:
        settings = DpSettings(year_epsilon=epsilon)
        plan = Plan.of(settings, YEAR)
        errors: dict[tuple[str, str], list[float]] = defaultdict(list)
        documented: dict[tuple[str, str], list[float]] = defaultdict(list)
        spent: list[float] = []
        for _ in range(draws):
            specs = []
            for stats_type, monthly in data.items():
                noise = indicators.release_noise(stats_type, plan)
                keys: list[indicators.Key] = []
                if indicators.INDICATORS[stats_type].kind == "objects":
                    pool = indicators.candidates(monthly[0][2], 3)
                    spec = indicators.selection_spec(stats_type, plan, len(pool))
                    keys = indicators.select(stats_type, monthly[0][2], pool, spec)
                    specs += [spec] if spec else []
                for start, end, parts in monthly:
                    release = indicators.build_release(stats_type, start, end, parts, keys, noise, settings)
                    specs += release.specs
                    truth = indicators.exact_values(stats_type, parts, keys)
                    found = indicators.released_values(stats_type, release.payload)
                    for (key, name), value in truth.items():
                        if value and (key, name) in found:
                            errors[(stats_type, name)].append(abs(found[(key, name)] - value) / abs(value))
                    for error in indicators.expected_errors(stats_type, parts, keys, noise):
                        if error.relative is not None:
                            documented[(stats_type, error.indicator)].append(error.relative)
            spent.append(epsilon_of(specs, settings.delta))
        out[epsilon] = {
            "errors": {key: statistics.median(v) for key, v in errors.items()},
            "documented": {key: statistics.median(v) for key, v in documented.items()},
            "spent": max(spent),
        }
    return out


def _percent(value: float) -> str:
    return f"{value:.0%}" if value < 10 else f"{value:.3g}×"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="30,100", help="organisations, comma-separated")
    parser.add_argument("--analyses", type=int, default=5, help="analyses per organisation")
    parser.add_argument("--months", type=int, default=12, help="monthly releases of the year")
    parser.add_argument("--days", type=int, default=1, help="uploads per analysis and month")
    parser.add_argument("--epsilons", default="4", help="yearly ε per organisation, comma-separated")
    parser.add_argument("--draws", type=int, default=3, help="years drawn per size and budget")
    parser.add_argument("--smoke", action="store_true", help="CI size: 5 organisations, 2 months, 1 draw")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.months, args.draws = "5", 2, 1
    sizes = [int(s) for s in args.sizes.split(",")]
    epsilons = [float(e) for e in args.epsilons.split(",")]
    print(
        f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, opendp {version('opendp')}; "
        f"{args.analyses} analyses per organisation, {args.months} monthly releases, {args.days} upload(s) a "
        f"month, {args.draws} draws, δ 1e-07, top 20"
    )
    results: dict[int, dict[float, dict]] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as scratch:
            app = seed_hub(Path(scratch), size, args.analyses, args.months, args.days)
            results[size] = measure(app, args.months, epsilons, args.draws)
            with app.app_context():
                db.engine.dispose()
    for epsilon in epsilons:
        spent = max(results[s][epsilon]["spent"] for s in sizes)
        print(
            f"\nε {epsilon:g} a year per organisation ({args.months} releases spent ε {spent:.3g} by OpenDP's "
            "composition): median relative error of a released value (median documented error)\n"
        )
        print("| type | indicator | " + " | ".join(f"{s} orgs" for s in sizes) + " |")
        print("|---|---|" + "---|" * len(sizes))
        rows = GOALS + [
            (t, b.name)
            for t in TYPE_NAMES
            for b in indicators.INDICATORS[t].blocks
            if b.name != "organisations" and (t, b.name) not in GOALS
        ]
        for stats_type, name in rows:
            cells = []
            for size in sizes:
                found = results[size][epsilon]["errors"].get((stats_type, name))
                doc = results[size][epsilon]["documented"].get((stats_type, name))
                if found is None:
                    cells.append("—")
                    continue
                goal = GOAL.get(size)
                mark = (
                    ""
                    if goal is None or (stats_type, name) not in GOALS
                    else (" ✓" if found <= goal else " ✗")
                )
                cells.append(f"{_percent(found)}{mark} ({_percent(doc) if doc is not None else '—'})")
            print(f"| {stats_type} | {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
