"""Risk processors: the mean number of risks per level, current and residual, informational and
operational, over the whole selection or per period."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import marshmallow as ma

from statsservice.domain.processors.base import Aggregate, Choices, Plan, Processor, iso

MEAN_RULE = (
    "Mean per level = sum of n × value / total weight of the risk records selected (in the period): "
    "a level an analysis does not report counts as 0."
)


def branch_params(states: tuple[str, ...], kinds: tuple[str, ...]) -> type[ma.Schema]:
    """``risks_type`` and ``risks_state``: which branches of the tree to compute (default all)."""

    class BranchParams(ma.Schema):
        class Meta:
            unknown = ma.RAISE

        risks_type = Choices(
            kinds, metadata={"description": f"{', '.join(kinds)} or both, comma-separated (default both)"}
        )
        risks_state = Choices(
            states, metadata={"description": f"{', '.join(states)} or both, comma-separated (default both)"}
        )

    return BranchParams


def branch_plan(options: dict[str, Any]) -> Plan:
    return Plan(match={"k1": options["risks_state"], "k2": options["risks_type"]}, record_weights=True)


def _sums(result: Aggregate) -> dict[tuple[date | None, str, str, str], float]:
    sums: dict[tuple[date | None, str, str, str], float] = defaultdict(float)
    for cell in result.cells:
        state, kind, level, _ = cell.key
        sums[(cell.bucket, state, kind, level)] += cell.sums[0]
    return sums


def averages(states: tuple[str, ...], kinds: tuple[str, ...], levels: tuple[str, ...]) -> Processor:
    def shape(result: Aggregate, options: dict[str, Any]) -> dict[str, Any]:
        weight = sum(result.weights.values())
        sums = _sums(result)
        return {
            state: {
                kind: {
                    level: (sums.get((None, state, kind, level), 0.0) / weight if weight else 0.0)
                    for level in levels
                }
                for kind in options["risks_type"]
            }
            for state in options["risks_state"]
        }

    return Processor(
        name="risk_averages",
        type="risk",
        description=(
            "Mean number of risks per level (Low, Medium, High), current and residual, informational "
            f"and operational, over the whole selection. {MEAN_RULE} 0 when nothing is selected. "
            "`aggregation_period` does not apply. Parameters `risks_type` and `risks_state` keep "
            "only the requested branches."
        ),
        shape=shape,
        params=branch_params(states, kinds),
        plan=branch_plan,
    )


def averages_on_date(states: tuple[str, ...], kinds: tuple[str, ...], levels: tuple[str, ...]) -> Processor:
    def shape(result: Aggregate, options: dict[str, Any]) -> dict[str, Any]:
        buckets = sorted(bucket for bucket, weight in result.weights.items() if bucket and weight)
        sums = _sums(result)
        return {
            state: {
                kind: {
                    level: [
                        {
                            "date": iso(b),
                            "value": sums.get((b, state, kind, level), 0.0) / result.weights[b],
                            "n": result.weights[b],
                        }
                        for b in buckets
                    ]
                    for level in levels
                }
                for kind in options["risks_type"]
            }
            for state in options["risks_state"]
        }

    return Processor(
        name="risk_averages_on_date",
        type="risk",
        description=(
            "The tree of `risk_averages` with each leaf a series `[{date, value, n}]`: one point per "
            "period holding records, dates ascending, dated by the first day of the period, `n` the "
            f"total weight of the period's risk records. {MEAN_RULE} "
            "Parameters `risks_type` and `risks_state` keep only the requested branches."
        ),
        shape=shape,
        params=branch_params(states, kinds),
        series=True,
        plan=branch_plan,
    )
