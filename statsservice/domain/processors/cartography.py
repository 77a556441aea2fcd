"""Cartography processors: the risk heat map, mean number of risks per impact × likelihood cell
(operational risks: impact × probability)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from statsservice.domain.processors.base import Aggregate, Cell, Processor, iso
from statsservice.domain.processors.risks import branch_params, branch_plan


def heatmap(states: tuple[str, ...], kinds: tuple[str, ...], columns: Mapping[str, str]) -> Processor:
    """``columns``: the name of the second axis of each kind (``likelihood``, ``probability``)."""

    def shape(result: Aggregate, options: dict[str, Any]) -> dict[str, Any]:
        weight = sum(result.weights.values())
        sums: dict[tuple[str, str, int, int], float] = defaultdict(float)
        for cell in result.cells:
            state, kind, impact, column = cell.key
            sums[(state, kind, int(impact), int(column))] += cell.sums[0]
        wanted = options["risks_type"]
        axes: dict[str, set[int]] = {"impact": set(), **{columns[kind]: set() for kind in wanted}}
        for _state, kind, impact, column in sums:
            axes["impact"].add(impact)
            axes[columns[kind]].add(column)
        out: dict[str, Any] = {"axes": {name: sorted(values) for name, values in axes.items()}}
        for state in options["risks_state"]:
            out[state] = {
                kind: [
                    {"impact": impact, columns[kind]: column, "value": total / weight}
                    for (s, k, impact, column), total in sorted(sums.items())
                    if s == state and k == kind
                ]
                for kind in wanted
            }
        return out

    return Processor(
        name="cartography_heatmap",
        type="cartography",
        description=(
            "Risk heat map over the whole selection: per state (current, residual) and kind, the cells "
            "`{impact, likelihood, value}` (operational: `{impact, probability, value}`) where value is "
            "the mean number of risks in the cell = sum of n × count / total weight of the cartography "
            "records selected (a cell an analysis does not report counts as 0); `axes` lists the "
            "impact, likelihood and probability values that occur. `aggregation_period` does not "
            "apply. Parameters `risks_type` and `risks_state` keep only the requested branches."
        ),
        shape=shape,
        params=branch_params(states, kinds),
        plan=branch_plan,
    )


def heatmap_on_date(states: tuple[str, ...], kinds: tuple[str, ...], columns: Mapping[str, str]) -> Processor:
    """The heat map per period with the weight behind each, so that another hub can rebuild the
    heat map of any window from the days (the community comparison of a local hub's dashboard)."""
    whole = heatmap(states, kinds, columns)

    def shape(result: Aggregate, options: dict[str, Any]) -> dict[str, Any]:
        by_bucket: dict[Any, list[Cell]] = defaultdict(list)
        for cell in result.cells:
            by_bucket[cell.bucket].append(cell)
        axes = whole.shape(Aggregate(cells=result.cells, weights={None: 1.0}), options)["axes"]
        values = []
        for bucket in sorted(b for b, weight in result.weights.items() if b and weight):
            one = whole.shape(
                Aggregate(cells=by_bucket[bucket], weights={bucket: result.weights[bucket]}), options
            )
            del one["axes"]
            values.append({"date": iso(bucket), "n": result.weights[bucket], **one})
        return {"axes": axes, "values": values}

    return Processor(
        name="cartography_heatmap_on_date",
        type="cartography",
        description=(
            "The heat map of `cartography_heatmap` per period: `values: [{date, n, current, residual}]`, "
            "one point per period holding records, dates ascending, dated by the first day of the "
            "period, `n` the total weight of the period's cartography records (the denominator of its "
            "means); `axes` covers every period. Parameters `risks_type` and `risks_state` as for "
            "`cartography_heatmap`."
        ),
        shape=shape,
        params=branch_params(states, kinds),
        series=True,
        plan=branch_plan,
    )
