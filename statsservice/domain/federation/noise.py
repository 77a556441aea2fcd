"""Optional differential privacy for what a hub releases upward (``FEDERATION_DP_EPSILON``,
docs/PRIVACY.md): each released sum and count of a (type, day) gets Laplace noise from OpenDP,
calibrated to what one *organisation* can change, so two releases that differ by one
organisation (a newcomer, an opt-out, a deletion) differ by noise, not by its values.

Why per organisation: a client may hold many analyses, so the unit of privacy is the client.
Each organisation's contribution to a cell is clipped before summing: at most ``max_analyses``
of weight (an organisation with more is scaled down, its mean kept) and a per-analysis mean
within ``[0, bound]`` per metric (``BOUNDS``). Adding or removing one organisation then moves a
cell's count by at most ``max_analyses`` and a sum by at most ``max_analyses × bound``.

The budget ε of one (type, day) release is split evenly over every noisy quantity it carries
(basic composition): ``Q = 1 + cells × quantities per cell``, each Laplace scale is
``sensitivity × Q / ε``. OpenDP's privacy map checks that what is spent is at most ε.

Pure functions: the storage layer gives each organisation's records of the day; these clip,
add noise and post-process (round counts, clamp means into their bounds, keep weights within
what the global hub accepts). Post-processing costs no privacy.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from statsservice.domain.registry import REGISTRY
from statsservice.domain.stats_types.base import KeySums

Key = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True)
class TypeBounds:
    """Clipping bounds of a type's released metrics (``m1..``), and whether each cell's own
    count ``n`` is released (threats, vulnerabilities, compliance) or only the day's weight
    (risks and cartography are means over every analysis of the day)."""

    sums: tuple[float, ...]
    counts: bool


#: Upper bound of one analysis's value, per type and metric (the lower bound is 0):
#: threat/vulnerability count (risks involving the object), maxRisk (MONARC risk values:
#: impact × threat × vulnerability, at most 80 on the default scales), averageRate (the
#: probability / qualification scales, 0–4 threats, 0–5 vulnerabilities); risks: number of risks
#: at one level; cartography: number of risks in one impact × likelihood cell; compliance:
#: current and target maturity as the Front Office sends them (a fraction, 0–1 = 0–100 %).
BOUNDS: dict[str, TypeBounds] = {
    "threat": TypeBounds((50.0, 100.0, 5.0), counts=True),
    "vulnerability": TypeBounds((50.0, 100.0, 5.0), counts=True),
    "risk": TypeBounds((100.0,), counts=False),
    "cartography": TypeBounds((20.0,), counts=False),
    "compliance": TypeBounds((1.0, 1.0), counts=True),
}


@dataclass(frozen=True)
class Contributions:
    """Each organisation's part of one (type, day): the weight of its records (analyses) and,
    per rollup key, its own sums (what ``explode`` gives, summed over its records)."""

    records: Mapping[Hashable, float] = field(default_factory=dict)
    cells: Mapping[Key, Mapping[Hashable, KeySums]] = field(default_factory=dict)


def contributions(stats_type: str, records: Iterable[tuple[Hashable, Any, float]]) -> Contributions:
    """Per organisation sums of ``(organisation, data, n)`` records, exploded like the rollups
    (``StatsType.explode``), so the clipped sums are the same sums the processors read."""
    kind = REGISTRY[stats_type]
    weights: dict[Hashable, float] = {}
    cells: dict[Key, dict[Hashable, list[float]]] = {}
    for org, data, n in records:
        weights[org] = weights.get(org, 0.0) + float(n)
        for row in kind.explode(data, n):
            key = (row.k1, row.k2, row.k3, row.k4)
            part = cells.setdefault(key, {}).setdefault(org, [0.0, 0.0, 0.0, 0.0])
            part[0] += row.n
            part[1] += row.n * row.m1
            part[2] += row.n * row.m2
            part[3] += row.n * row.m3
    return Contributions(
        weights,
        {
            key: {org: KeySums(key, p[0], (p[1], p[2], p[3])) for org, p in parts.items()}
            for key, parts in cells.items()
        },
    )


def _clip(part: KeySums, max_analyses: float, bounds: Sequence[float]) -> tuple[float, list[float]]:
    """One organisation's (weight, sums) in a cell after clipping: weight at most
    ``max_analyses``, each per-analysis mean within ``[0, bound]``."""
    if part.n <= 0:
        return 0.0, [0.0] * len(bounds)
    weight = min(part.n, max_analyses)
    return weight, [weight * min(max(part.sums[j] / part.n, 0.0), bound) for j, bound in enumerate(bounds)]


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


@dataclass(frozen=True)
class Noisy:
    """A noisy release: the cells for ``assemble``, the day's weight, and the Laplace scales
    used (count, then one per metric) with the ε OpenDP's maps account for."""

    cells: list[KeySums]
    weight: int
    count_scale: float
    sum_scales: tuple[float, ...]
    spent: float


@dataclass(frozen=True, slots=True)
class DifferentialPrivacy:
    """ε per (type, day) release, and the most analyses one organisation weighs in a cell."""

    epsilon: float
    max_analyses: float = 5.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DifferentialPrivacy | None:
        """None when ``FEDERATION_DP_EPSILON`` is 0 (off, the default): releases stay exact."""
        epsilon = float(config.get("FEDERATION_DP_EPSILON") or 0)
        if epsilon <= 0:
            return None
        if not math.isfinite(epsilon):
            raise ValueError("FEDERATION_DP_EPSILON must be a finite number")
        return cls(epsilon, max(1.0, float(config.get("FEDERATION_DP_MAX_ANALYSES", 5))))

    def quantities(self, stats_type: str, cells: int) -> int:
        """How many noisy numbers a release of ``cells`` cells carries (the split of ε)."""
        bounds = BOUNDS[stats_type]
        return 1 + cells * (len(bounds.sums) + (1 if bounds.counts else 0))

    def scales(self, stats_type: str, cells: int) -> tuple[float, tuple[float, ...]]:
        """Laplace scales of a count and of each metric's sum: sensitivity × Q / ε."""
        per = self.quantities(stats_type, cells) / self.epsilon
        return self.max_analyses * per, tuple(self.max_analyses * b * per for b in BOUNDS[stats_type].sums)

    def typical_error(self, stats_type: str, cells: int, weight: float) -> tuple[float, ...]:
        """The documented error of a released mean over ``weight`` (clipped) analyses, per
        metric: (sum scale + bound × count scale) / weight, where ``weight`` is the cell's own
        ``n`` (threats, vulnerabilities, compliance) or the day's (risks, cartography). The
        median error measured (``bench/dp_error.py``) is below it; a mean never leaves
        ``[0, bound]``, so the error never exceeds the bound either."""
        count, sums = self.scales(stats_type, cells)
        bounds = BOUNDS[stats_type].sums
        return tuple((s + b * count) / max(weight, 1.0) for s, b in zip(sums, bounds, strict=True))

    def release(
        self,
        stats_type: str,
        cells: Sequence[KeySums],
        parts: Contributions,
        *,
        min_weight: int,
        max_weight: int,
    ) -> Noisy:
        """Noisy versions of the released ``cells`` (keys only are read from them: the values
        come from the clipped ``parts``) and of the day's weight, post-processed so the global
        hub accepts them: weights are whole numbers in ``[min_weight, max_weight]``."""
        bounds = BOUNDS[stats_type]
        metrics = len(bounds.sums)
        count_scale, sum_scales = self.scales(stats_type, len(cells))
        true_weight = sum(min(w, self.max_analyses) for w in parts.records.values() if w > 0)
        counts: list[float] = []
        sums: list[list[float]] = [[] for _ in range(metrics)]
        for cell in cells:
            n, s = 0.0, [0.0] * metrics
            for part in parts.cells.get(cell.key, {}).values():
                w, clipped = _clip(part, self.max_analyses, bounds.sums)
                n += w
                s = [a + b for a, b in zip(s, clipped, strict=True)]
            counts.append(n)
            for j in range(metrics):
                sums[j].append(s[j])

        spent = 0.0
        (noisy_weight,), used = _laplace([true_weight], self.max_analyses, count_scale)
        spent += used
        noisy_counts: list[float] = counts
        if bounds.counts:
            noisy_counts, used = _laplace(counts, self.max_analyses, count_scale)
            spent += used
        noisy_sums: list[list[float]] = []
        for j in range(metrics):
            values, used = _laplace(sums[j], self.max_analyses * bounds.sums[j], sum_scales[j])
            noisy_sums.append(values)
            spent += used
        if spent > self.epsilon * (1 + 1e-9):  # the accounting is OpenDP's; never release over ε
            raise RuntimeError(f"differential privacy: spent {spent} > ε {self.epsilon}")

        weight = int(_clamp(round(noisy_weight), min_weight, max_weight))
        out: list[KeySums] = []
        for i, cell in enumerate(cells):
            n = float(_clamp(round(noisy_counts[i]), min_weight, weight)) if bounds.counts else float(weight)
            means = [_clamp(noisy_sums[j][i] / n, 0.0, bounds.sums[j]) for j in range(metrics)]
            padded = (*[m * n for m in means], 0.0, 0.0, 0.0)[:3]
            out.append(KeySums(cell.key, n, padded))
        return Noisy(out, weight, count_scale, sum_scales, spent)


def _laplace(values: Sequence[float], sensitivity: float, scale: float) -> tuple[list[float], float]:
    """``values`` each with Laplace noise of ``scale`` (OpenDP), and the ε it spends: one
    organisation moves each coordinate by at most ``sensitivity``, so the vector by
    ``len × sensitivity`` in L1."""
    if not values:
        return [], 0.0
    # imported here: OpenDP's library takes a third of a second to load, and only DP mode needs it
    import opendp.prelude as dp

    dp.enable_features("contrib")  # OpenDP's Laplace on floats is a contrib measurement
    measurement = dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.l1_distance(T=float), scale=scale
    )
    return list(measurement([float(v) for v in values])), float(measurement.map(len(values) * sensitivity))
