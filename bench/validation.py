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
from statsservice.domain.stats_types import REGISTRY


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


if __name__ == "__main__":
    main()
