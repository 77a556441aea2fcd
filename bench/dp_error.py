"""Error of the community means in differential-privacy mode (``FEDERATION_DP_EPSILON``), and
the cells suppressed by k and by dominance, at several hub sizes (docs/PRIVACY.md).

For each size, a hub on a scratch SQLite database gets one day of the demo generator's uploads
(``statsservice.demo.payloads``: every organisation ``--analyses`` analyses) through the API; the
push is then planned as ``stats_push`` plans it, once exact (DP off) and ``--draws`` times with
noise. The error of a released mean is its distance to the exact released mean; the table gives
the median over every released value and draw, per type and metric, beside the metric's clipping
bound and the median over the released cells of the documented error
(``DifferentialPrivacy.typical_error``, which depends on the analyses behind each cell).

    .venv/bin/python -m bench.dp_error [--sizes 3,10,20,50] [--epsilons 1,10] [--draws 20]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

from flask_migrate import upgrade

from statsservice import clock, create_app
from statsservice.demo.payloads import Generator
from statsservice.domain.federation.aggregates import Outgoing, build
from statsservice.domain.federation.noise import BOUNDS, DifferentialPrivacy, contributions
from statsservice.domain.registry import REGISTRY, TYPE_NAMES
from statsservice.domain.release import ReleaseRules
from statsservice.extensions import db
from statsservice.storage import clients as registry
from statsservice.storage import release as store

METRICS = {
    "threat": ("count", "maxRisk", "averageRate"),
    "vulnerability": ("count", "maxRisk", "averageRate"),
    "risk": ("value",),
    "cartography": ("cell",),
    "compliance": ("current", "target"),
}


def leaves(
    stats_type: str, data: Any, weight: float, path: tuple = ()
) -> dict[tuple, tuple[str, float, float]]:
    """Every released mean of an aggregate: path → (metric, value, the weight it is a mean over:
    its element's ``n``, else the aggregate's)."""
    found: dict[tuple, tuple[str, float, float]] = {}
    if isinstance(data, dict):
        weight = data.get("n", weight)
        for key, value in data.items():
            if key == "n" or key.startswith("label"):
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                found[(*path, key)] = (_metric(stats_type, (*path, key)), float(value), float(weight))
            else:
                found.update(leaves(stats_type, value, weight, (*path, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.update(leaves(stats_type, value, weight, (*path, index)))
    return found


def _metric(stats_type: str, path: tuple) -> str:
    if stats_type == "cartography":
        return "cell"
    if stats_type == "compliance":
        return "current" if "current" in path else "target"
    return str(path[-1])


def seed_hub(root: Path, organisations: int, analyses: int, day) -> Any:
    """A migrated hub on its own SQLite file, with one day of uploads of every organisation."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'hub.db'}", "TESTING": True})
    gen = Generator(seed=organisations, anrs=organisations * analyses)
    with app.app_context():
        upgrade()
        http = app.test_client()
        for org in range(organisations):
            _, token = registry.create_client(f"Org {org}")
            batch = [r for i in range(org * analyses, (org + 1) * analyses) for r in gen.day_batch(i, day)]
            response = http.post("/api/v1/stats/", json=batch, headers={"X-API-KEY": token})
            assert response.status_code == 201, response.get_json()
    return app


def measure(app: Any, day, epsilons: list[float], draws: int) -> dict[str, Any]:
    """Suppression counts of the exact plan, and per ε the errors of the noisy ones."""
    result: dict[str, Any] = {"cells": 0, "suppressed": Counter(), "errors": {}}
    with app.app_context():
        cfg = app.config
        rules = ReleaseRules.from_config(cfg)
        inputs = {}
        for stats_type in TYPE_NAMES:
            label_type = stats_type if REGISTRY[stats_type].labelled else ""
            who = store.sharing()
            counted = store.day_input(stats_type, day, label_type, rules.min_clients, who)
            parts = contributions(stats_type, store.day_records(stats_type, day, who))
            inputs[stats_type] = (counted, parts)
            result["cells"] += len(counted.cells)
        for epsilon in epsilons:
            privacy = DifferentialPrivacy(epsilon, float(cfg["FEDERATION_DP_MAX_ANALYSES"]))
            errors: dict[tuple[str, str], list[float]] = defaultdict(list)
            documented: dict[tuple[str, str], list[float]] = defaultdict(list)
            for stats_type, (counted, parts) in inputs.items():
                exact = build(counted, rules)
                if epsilon == epsilons[0]:
                    result["suppressed"].update(exact.suppressed)
                if not isinstance(exact, Outgoing):
                    continue
                truth = leaves(stats_type, exact.payload["data"], exact.payload["n"])
                released = len(counted.cells) - sum(exact.suppressed.values())
                index = {metric: i for i, metric in enumerate(METRICS[stats_type])}
                for metric, _, weight in truth.values():
                    documented[(stats_type, metric)].append(
                        privacy.typical_error(stats_type, released, weight)[index[metric]]
                    )
                for _ in range(draws):
                    noisy = build(counted, rules, privacy=privacy, parts=parts)
                    assert isinstance(noisy, Outgoing)
                    for path, (metric, value, _) in leaves(
                        stats_type, noisy.payload["data"], noisy.payload["n"]
                    ).items():
                        errors[(stats_type, metric)].append(abs(value - truth[path][1]))
            result["errors"][epsilon] = {
                key: (statistics.median(values), statistics.median(documented[key]))
                for key, values in errors.items()
            }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="3,10,20,50", help="organisations, comma-separated")
    parser.add_argument("--analyses", type=int, default=5, help="analyses per organisation")
    parser.add_argument(
        "--epsilons", default="1,10,100,1000", help="ε per (type, day) release, comma-separated"
    )
    parser.add_argument("--draws", type=int, default=20, help="noisy plans per size and ε")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    epsilons = [float(e) for e in args.epsilons.split(",")]
    day = clock.today() - timedelta(days=3)
    print(
        f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, opendp {version('opendp')}; "
        f"{args.analyses} analyses per organisation, {args.draws} draws, one day"
    )
    results = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as scratch:
            app = seed_hub(Path(scratch), size, args.analyses, day)
            results[size] = measure(app, day, epsilons, args.draws)
            with app.app_context():
                db.engine.dispose()
    print("\n| organisations × analyses | cells | suppressed by k | suppressed by dominance |")
    print("|---|---|---|---|")
    for size, res in results.items():
        sup = res["suppressed"]
        print(f"| {size} × {args.analyses} | {res['cells']} | {sup['k']} | {sup['dominance']} |")
    for epsilon in epsilons:
        print(
            f"\nε = {epsilon:g} per (type, day): median absolute error of a released mean (median documented error)\n"
        )
        print("| type | metric | bound | " + " | ".join(f"{s} orgs" for s in sizes) + " |")
        print("|---|---|---|" + "---|" * len(sizes))
        for stats_type, metrics in METRICS.items():
            for index, metric in enumerate(metrics):
                cells = []
                for size in sizes:
                    found = results[size]["errors"][epsilon].get((stats_type, metric))
                    cells.append(f"{found[0]:.3g} ({found[1]:.3g})" if found else "withheld")
                bound = BOUNDS[stats_type].sums[index]
                print(f"| {stats_type} | {metric} | {bound:g} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
