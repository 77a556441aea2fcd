"""Processors of knowledge-base objects (threats, vulnerabilities): per object, the weighted mean
of its count, maximum risk and average rate per period, and over the whole selection."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from statsservice.domain.processors.base import Aggregate, Cell, Processor, by_bucket, iso

FIELDS = ("count", "maxRisk", "averageRate")  # rollup m1, m2, m3
EMPTY_LABELS = {"label1": "", "label2": "", "label3": "", "label4": ""}


def _shape(result: Aggregate, options: dict[str, Any]) -> list[dict[str, Any]]:
    # a whole-hub year is tens of thousands of cells: one pass over them
    by_object: dict[str, list[Cell]] = defaultdict(list)
    for cell in result.cells:
        by_object[cell.key[0]].append(cell)
    count_name, max_name, rate_name = FIELDS
    out = []
    for uuid in sorted(by_object):
        cells = sorted(by_object[uuid], key=by_bucket)
        values = []
        weight = total_count = total_max = total_rate = 0.0
        for day, _key, n, (count, max_risk, rate) in cells:
            values.append(
                {"date": iso(day), count_name: count / n, max_name: max_risk / n, rate_name: rate / n, "n": n}
            )
            weight += n
            total_count += count
            total_max += max_risk
            total_rate += rate
        averages = (total_count / weight, total_max / weight, total_rate / weight)
        out.append(
            {
                "object": uuid,
                "labels": {**EMPTY_LABELS, **result.labels.get(uuid, {})},
                "values": values,
                "averages": dict(zip(FIELDS, averages, strict=True)),
            }
        )
    return out


def average_on_date(type_name: str, noun: str) -> Processor:
    """``<type>_average_on_date`` for a stats type whose rollup rows are one object each."""
    return Processor(
        name=f"{type_name}_average_on_date",
        type=type_name,
        description=(
            f"Per {noun} (object uuid, labels): the mean count, maxRisk and averageRate per period "
            "(`values`, one per period with data, dates ascending, each dated by the first day of "
            "its period, with `n` the weight of the analyses behind the point) and over the whole "
            "selection (`averages`). Means are weighted by `n` and "
            f"taken over the analyses that list the {noun}: an analysis without it does not count. "
            "Labels are the latest uploaded."
        ),
        shape=_shape,
        series=True,
        label_keys=lambda cells: {cell.key[0] for cell in cells},
        label_type=type_name,
    )
