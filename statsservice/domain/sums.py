"""Records summed per element key, in Python: what the storage keeps per client and day at upload
(``client_day``) and what a selection of a few analyses is answered from.

One implementation of "explode, then sum": ``StatsType.explode`` gives the rows, these functions
add them up; the SQL that sums further (over clients, over days) only ever adds these sums.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from statsservice.domain.dates import period_start
from statsservice.domain.processors import Cell
from statsservice.domain.stats_types.base import StatsType

Key = tuple[str, str, str, str]
#: the key that stands for the records themselves: ``entries`` records of total weight ``n``
RECORDS: Key = ("", "", "", "")
#: positions of the key parts a processor's plan may restrict
PARTS = {"k1": 0, "k2": 1, "k3": 2, "k4": 3}

#: per key: [entries, n, s1, s2, s3]
Sums = dict[Key, list[float]]


def record_sums(stats_type: StatsType, records: Iterable[tuple[Any, float]]) -> Sums:
    """The records (``(data, n)``) of one client, type and day summed per key, the records key
    included: the rows of ``client_day``."""
    out: Sums = {RECORDS: [0, 0.0, 0.0, 0.0, 0.0]}
    total = out[RECORDS]
    for data, n in records:
        total[0] += 1
        total[1] += n
        for row in stats_type.explode(data, n):
            key = (row.k1, row.k2, row.k3, row.k4)
            acc = out.get(key)
            if acc is None:
                acc = out[key] = [0, 0.0, 0.0, 0.0, 0.0]
            acc[0] += 1
            acc[1] += row.n
            acc[2] += row.n * row.m1
            acc[3] += row.n * row.m2
            acc[4] += row.n * row.m3
    return out


def merge(into: Sums, other: Sums) -> None:
    """Add one record's (or day's) sums ``other`` into ``into``, key by key."""
    for key, values in other.items():
        acc = into.get(key)
        if acc is None:
            into[key] = list(values)
        else:
            for index, value in enumerate(values):
                acc[index] += value


def covers(kept: Mapping[str, tuple[str, ...]], match: Mapping[str, tuple[str, ...]]) -> bool:
    """Whether every row a plan's ``match`` asks for is among the rows ``kept`` (``{}``: all)."""
    return all(part in match and set(match[part]) <= set(values) for part, values in kept.items())


def kept_sums(sums: Sums, kept: Mapping[str, tuple[str, ...]]) -> Sums:
    """The keys of one record's sums that its stored sums keep: the records key dropped (the
    record's weight is its own column), and only keys whose parts take the ``kept`` values."""
    if not kept:
        return {key: values for key, values in sums.items() if key != RECORDS}
    wanted = [(PARTS[part], frozenset(values)) for part, values in kept.items()]
    return {
        key: values
        for key, values in sums.items()
        if key != RECORDS and all(key[index] in allowed for index, allowed in wanted)
    }


def selection_cells(
    stats_type: StatsType,
    records: Iterable[tuple[date, Any, float]],
    period: str | None,
    match: Mapping[str, tuple[str, ...]],
) -> tuple[list[Cell], dict[date | None, float]]:
    """Cells per (bucket, key) and the records' total weight per bucket, from the records
    themselves (``(day, data, n)``): how a selection of analyses is answered. ``period`` None sums
    the whole selection into one bucket; ``match`` keeps only keys whose parts take those values."""
    wanted = [(PARTS[part], frozenset(values)) for part, values in match.items()]
    sums: dict[tuple[date | None, Key], list[float]] = {}
    weights: dict[date | None, float] = {}
    for day, data, n in records:
        slot = period_start(day, period) if period is not None else None
        weights[slot] = weights.get(slot, 0.0) + n
        for row in stats_type.explode(data, n, match):
            key = (row.k1, row.k2, row.k3, row.k4)
            if any(key[index] not in values for index, values in wanted):
                continue
            acc = sums.get((slot, key))
            if acc is None:
                acc = sums[(slot, key)] = [0.0, 0.0, 0.0, 0.0]
            acc[0] += row.n
            acc[1] += row.n * row.m1
            acc[2] += row.n * row.m2
            acc[3] += row.n * row.m3
    cells = [Cell(slot, key, n, (s1, s2, s3)) for (slot, key), (n, s1, s2, s3) in sums.items()]
    return cells, {slot: total for slot, total in weights.items() if total}
