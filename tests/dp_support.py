"""Helpers of the differential-privacy tests: stable snapshots over months, and what an attacker
reads off a DP release (its noisy sums, with the noise scale the release documents) against what a
victim truly contributed (its bounded part, computed by the hub's own code)."""

from __future__ import annotations

import copy
import statistics
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from statsservice.demo.payloads import Generator
from statsservice.domain.federation import indicators
from statsservice.domain.registry import REGISTRY

Coordinate = tuple[str, tuple[str, str, str, str], str]  # (type, key, block)
#: days of each month an analysis uploads on (the same snapshot each time: nothing drifts)
UPLOAD_DAYS = (5, 20)


def month_days(months: Iterable[tuple[int, int]], days: Iterable[int] = UPLOAD_DAYS) -> list[date]:
    return [date(year, month, day) for year, month in months for day in days]


def snapshots(gen: Generator, index: int, days: Iterable[date]) -> list[dict]:
    """One analysis's five records, the same values on every day of ``days`` (redated)."""
    base = gen.day_batch(index, date(2026, 1, 1))
    out = []
    for day in days:
        for record in copy.deepcopy(base):
            record["date"] = day.isoformat()
            out.append(record)
    return out


def noisy_sums(payload: Mapping[str, Any], min_weight: int = 3) -> dict[Coordinate, tuple[float, float]]:
    """Every noisy sum an attacker recovers exactly from a DP release (a mean × its weight),
    with the standard deviation of its noise (``dp.noise``); sums post-processing clamped (a mean
    at its bound, a weight at k or at the aggregate's) are left out: they are not the draw."""
    stats_type = payload["type"]
    indicator = indicators.INDICATORS[stats_type]
    weight = float(payload["n"])
    noise = payload["dp"]["noise"]
    out: dict[Coordinate, tuple[float, float]] = {}
    data = REGISTRY[stats_type].load(payload["data"])
    for key, row_weight, values in indicators.released_rows(stats_type, data, weight):
        if indicator.kind == "grid":
            (metric,) = indicator.metrics
            if 0 < values[0] < metric.bound:
                out[(stats_type, key, metric.name)] = (values[0] * weight, noise[metric.name])
            continue
        if min_weight < row_weight < weight:
            out[(stats_type, key, "prevalence")] = (row_weight, noise["prevalence"])
        for index, block in enumerate(indicator.metrics):
            if 0 < values[index] < block.bound:
                out[(stats_type, key, block.name)] = (values[index] * row_weight, noise[block.name])
    return out


def released_keys(payload: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """The keys a release names (the year's selection, for objects)."""
    stats_type = payload["type"]
    data = REGISTRY[stats_type].load(payload["data"])
    return [key for key, _, _ in indicators.released_rows(stats_type, data, float(payload["n"]))]


def contributions(
    stats_type: str, records: Iterable[dict], keys: Iterable[tuple[str, str, str, str]]
) -> dict[Coordinate, float]:
    """One organisation's bounded part of a release, by coordinate: what its records add to each
    noisy sum (``indicators.block_vector``, the very function the release sums)."""
    loaded = [(0, REGISTRY[stats_type].load(r["data"]), 1) for r in records if r["type"] == stats_type]
    parts = indicators.parts(stats_type, loaded)
    indicator = indicators.INDICATORS[stats_type]
    chosen = list(keys) if indicator.kind == "objects" else indicators.grid(stats_type)
    out: dict[Coordinate, float] = {}
    part = parts.get(0, indicators.Part())
    for block in indicator.blocks:
        if block.name == "organisations":
            continue
        for key, value in zip(chosen, indicators.block_vector(indicator, block, part, chosen), strict=True):
            out[(stats_type, key, block.name)] = value
    return out


def clear_of_bounds(
    sums: Mapping[Coordinate, tuple[float, float]],
    exact: Mapping[Coordinate, float],
    organisations: int,
    margin: float = 2.0,
    min_weight: int = 3,
) -> dict[Coordinate, tuple[float, float]]:
    """The noisy sums whose exact value lies ``margin`` σ inside the range post-processing keeps
    (a weight between k and the number of organisations, a mean within its bound): their noise
    was almost never clamped, so |error| / σ is the Gaussian's. Decided on the exact values, not
    on the noisy ones (keeping the noisy sums that happen to be unclamped would keep the small
    errors)."""
    out = {}
    for coordinate, (value, sigma) in sums.items():
        stats_type, key, block = coordinate
        indicator = indicators.INDICATORS[stats_type]
        truth = exact.get(coordinate, 0.0)
        if block == "prevalence":
            low, high = float(min_weight), float(organisations)
        elif indicator.kind == "grid":
            low, high = 0.0, indicator.metrics[0].bound * organisations
        else:
            bound = next(b.bound for b in indicator.metrics if b.name == block)
            low, high = 0.0, bound * max(exact.get((stats_type, key, "prevalence"), 0.0), float(min_weight))
        if low + margin * sigma < truth < high - margin * sigma:
            out[coordinate] = (value, sigma)
    return out


def normalised_errors(
    estimate: Mapping[Coordinate, float], truth: Mapping[Coordinate, float], sigma: Mapping[Coordinate, float]
) -> list[float]:
    """|estimate − truth| / σ over the coordinates the estimate has."""
    return [abs(estimate[c] - truth.get(c, 0.0)) / sigma[c] for c in estimate]


def median(values: list[float]) -> float:
    assert values, "no coordinate to compare"
    return statistics.median(values)
