"""Compliance processors: per referential and category (and optionally per control), the mean
current maturity against the mean target, over the whole selection or per period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import marshmallow as ma

from statsservice.domain.processors.base import (
    Aggregate,
    Cell,
    Flag,
    Plan,
    Processor,
    by_bucket,
    iso,
    natural_key,
)
from statsservice.domain.processors.objects import EMPTY_LABELS

MEAN_RULE = (
    "Means are weighted by `n` over the analyses that report the referential's category or control "
    "(an analysis without the referential does not count; a side that lacks a category or control "
    "counts 0)."
)


class ComplianceParams(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    controls = Flag(load_default=False, metadata={"description": "also give each control (default false)"})


def _plan(options: dict[str, Any]) -> Plan:
    return Plan(match={} if options["controls"] else {"k3": ("",)})


def _values(cells: list[Cell], series: bool) -> dict[str, Any]:
    def means(cell: Cell) -> dict[str, float]:
        return {"current": cell.mean(0), "target": cell.mean(1)}  # rollup m1, m2

    if not series:
        return means(cells[0])
    return {"values": [{"date": iso(c.bucket), **means(c), "n": c.n} for c in sorted(cells, key=by_bucket)]}


def _shaper(category_key: Callable[[str, str], str], series: bool) -> Callable[[Aggregate, dict], list]:
    def shape(result: Aggregate, options: dict[str, Any]) -> list[dict[str, Any]]:
        tree: dict[str, dict[str, dict[str, list[Cell]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(list))
        )
        for cell in result.cells:
            referential, category, control, _ = cell.key
            tree[referential][category][control].append(cell)
        out = []
        for referential in sorted(tree):
            categories = []
            for category in sorted(tree[referential], key=natural_key):
                cells = tree[referential][category]
                labels = result.labels.get(category_key(referential, category), {"label1": category})
                entry = {"category": category, "labels": {**EMPTY_LABELS, **labels}}
                entry.update(_values(cells.get("", []), series) if "" in cells else {})
                if options["controls"]:
                    entry["controls"] = [
                        {"code": code, **_values(cells[code], series)}
                        for code in sorted(cells, key=natural_key)
                        if code
                    ]
                categories.append(entry)
            out.append(
                {
                    "referential": referential,
                    "labels": {**EMPTY_LABELS, **result.labels.get(referential, {})},
                    "categories": categories,
                }
            )
        return out

    return shape


def _label_keys(category_key: Callable[[str, str], str]) -> Callable[[list[Cell]], set[str]]:
    def keys(cells: list[Cell]) -> set[str]:
        out = set()
        for cell in cells:
            out.add(cell.key[0])
            out.add(category_key(cell.key[0], cell.key[1]))
        return out

    return keys


def averages(category_key: Callable[[str, str], str]) -> Processor:
    return Processor(
        name="compliance_averages",
        type="compliance",
        description=(
            "Per referential and category (label1), the mean `current` maturity and the mean `target` "
            f"over the whole selection; with `controls` true, each control too. {MEAN_RULE} "
            "`aggregation_period` does not apply."
        ),
        shape=_shaper(category_key, series=False),
        params=ComplianceParams,
        plan=_plan,
        label_keys=_label_keys(category_key),
        label_type="compliance",
    )


def averages_on_date(category_key: Callable[[str, str], str]) -> Processor:
    return Processor(
        name="compliance_averages_on_date",
        type="compliance",
        description=(
            "Per referential and category (label1), a series `values: [{date, current, target, n}]` "
            "of mean current and target maturity (`n`: the weight of the analyses behind the point), "
            "one point per period with data, dates ascending, dated by the first day of the period; with `controls` true, each control too. {MEAN_RULE}"
        ),
        shape=_shaper(category_key, series=True),
        params=ComplianceParams,
        series=True,
        plan=_plan,
        label_keys=_label_keys(category_key),
        label_type="compliance",
    )
