"""Validation benchmark: records/s of upload validation per stats type, the marshmallow path the
hub used before (old) against the compiled fast path (new), in one run on the same records.

Records come from the project's generator (``statsservice.demo.payloads``, PHP encodings on).
Two figures per type, each the median of ``--repeat`` timed passes over the same records:

- ``data``: ``StatsType.load`` of a record's ``data`` (old: ``load_marshmallow``);
- ``record``: what ``POST /stats/`` does to each record before storing it (``stats._validate``
  without the database): the text check, the envelope and the data, the weight check.

No database, no HTTP: CPU of validation only. Usage:
``.venv/bin/python -m bench.validation [--anrs 40] [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from statsservice.api.v1 import params, schemas
from statsservice.api.v1.params import text_errors
from statsservice.api.v1.schemas import HubLimits, StatsRecordSchema
from statsservice.demo.payloads import TYPES, Generator
from statsservice.domain.registry import REGISTRY


@contextmanager
def old_path() -> Iterator[None]:
    """The hub as it validated before the fast path: marshmallow for every record, and the Python
    walks for text and weights on every record."""
    saved = (params.clean_text, schemas.may_hold_weights)
    fast = {name: t.__dict__.get("_fast", REGISTRY[name]._fast) for name, t in REGISTRY.items()}
    params.clean_text = lambda value: False
    schemas.may_hold_weights = lambda data: True
    for stats_type in REGISTRY.values():
        stats_type.__dict__["_fast"] = None
    try:
        yield
    finally:
        params.clean_text, schemas.may_hold_weights = saved
        for name, stats_type in REGISTRY.items():
            stats_type.__dict__["_fast"] = fast[name]


def validate_records(records: list[dict], schema: StatsRecordSchema, *, new: bool) -> None:
    """``stats._validate``'s loop, without the app: text check, then envelope and data."""
    load = schema.load_record if new else schema.load
    for index, raw in enumerate(records):
        if not text_errors(raw, str(index)):
            load(raw)


def median_rates(
    count: int, old: Callable[[], Any], new: Callable[[], Any], repeat: int
) -> tuple[float, float]:
    """Records/s of each path, passes interleaved (old, new, old...) so that a busy neighbour on
    a shared machine slows both alike."""
    times: dict[str, list[float]] = {"old": [], "new": []}
    for _ in range(repeat):
        for name, run in (("old", old), ("new", new)):
            if name == "old":
                with old_path():
                    start = time.perf_counter()
                    run()
                    times[name].append(time.perf_counter() - start)
            else:
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    return count / statistics.median(times["old"]), count / statistics.median(times["new"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--anrs", type=int, default=40, help="analyses (five records each per day)")
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7, help="timed passes; the median is printed")
    parser.add_argument(
        "--upload", action="store_true", help="also time whole uploads in-process (Flask, SQLite)"
    )
    args = parser.parse_args()

    gen = Generator(seed=1, anrs=args.anrs, php_quirks=True)
    batch = [
        r
        for day in range(args.days)
        for i in range(args.anrs)
        for r in gen.day_batch(i, date(2026, 1, 5 + day))
    ]
    by_type = {name: [r for r in batch if r["type"] == name] for name in TYPES}
    schema = StatsRecordSchema(hub_client=False, limits=HubLimits())

    print(
        f"validation benchmark: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {len(batch)} generator records, median of {args.repeat} passes"
    )
    header = (
        f"{'type':<14}{'data old':>11}{'data new':>11}{'×':>7}{'record old':>13}{'record new':>13}{'×':>7}"
    )
    print(header)
    print("-" * len(header))
    rows = [*((name, by_type[name]) for name in TYPES), ("all (batch)", batch)]
    for name, records in rows:
        datas = [(REGISTRY[r["type"]], r["data"]) for r in records]
        data_old, data_new = median_rates(
            len(datas),
            lambda d=datas: [t.load(x) for t, x in d],
            lambda d=datas: [t.load(x) for t, x in d],
            args.repeat,
        )
        record_old, record_new = median_rates(
            len(records),
            lambda r=records: validate_records(r, schema, new=False),
            lambda r=records: validate_records(r, schema, new=True),
            args.repeat,
        )
        print(
            f"{name:<14}{data_old:>11,.0f}{data_new:>11,.0f}{data_new / data_old:>7.1f}"
            f"{record_old:>13,.0f}{record_new:>13,.0f}{record_new / record_old:>7.1f}"
        )
    print("records/s of one CPU core (old: marshmallow only; new: compiled fast path)")
    if args.upload:
        upload(batch, args.repeat)


def upload(batch: list[dict], repeat: int) -> None:
    """Whole ``POST /api/v1/stats/`` requests in-process (Flask test client, temporary SQLite,
    storage as it is): how much of an upload validation still is."""
    import cProfile
    import logging
    import pstats
    import tempfile

    from flask_migrate import upgrade

    from statsservice.api.v1 import stats as stats_view
    from statsservice.app import create_app
    from statsservice.storage import clients

    logging.disable(logging.INFO)  # migration and request lines would drown the figures
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db", "RATELIMIT_ENABLED": False}
        )
        with app.app_context():
            upgrade()
            _client, token = clients.create_client("bench")
        web = app.test_client()

        def post() -> None:
            response = web.post("/api/v1/stats/", json=batch, headers={"X-API-KEY": token})
            assert response.status_code == 201, response.get_json()

        post()  # first upload inserts; the timed ones replace the same keys, as a retry would
        rate_old, rate_new = median_rates(len(batch), post, post, max(3, repeat // 2))
        shares = []
        for label, context in (("old", old_path), ("new", _no_patch)):
            profile = cProfile.Profile()
            with context():
                profile.runcall(post)
            stats = pstats.Stats(profile)
            total = max(row[3] for row in stats.stats.values())  # type: ignore[attr-defined]
            validate = next(
                row[3]
                for func, row in stats.stats.items()  # type: ignore[attr-defined]
                if func[2] == stats_view._validate.__name__ and func[0].endswith("stats.py")
            )
            shares.append(f"{label} {100 * validate / total:.0f}%")
        print(
            f"upload, in-process on SQLite, {len(batch)} records per request: old {rate_old:,.0f} records/s, "
            f"new {rate_new:,.0f} records/s (× {rate_new / rate_old:.1f}); "
            f"validation's share of the request under cProfile: {', '.join(shares)}"
        )


@contextmanager
def _no_patch() -> Iterator[None]:
    yield


if __name__ == "__main__":
    main()
