"""The few, coarse indicators DP mode releases for one (type, period) (``FEDERATION_DP``,
docs/PRIVACY.md), with Gaussian noise from OpenDP, in the aggregate shape of SPEC §4.

Why this shape: the unit of privacy is the organisation, so each organisation's part is first
reduced to one bounded vector per block — its mean over its own records of the period, each value
clipped, the block clipped in L2 — and only sums over organisations get noise:

- threats, vulnerabilities: for the ``top`` objects the year's selection chose, an organisation's
  *prevalence* (the share of its records that list the object, 0–1) and, per metric, prevalence ×
  its mean value there. Released per object: ``n`` = the noisy prevalence sum (so ``n`` / the
  aggregate's ``n`` is the share of organisations, each weighed by its share of analyses) and the
  metric means = metric sum / prevalence sum;
- compliance: the same per referential (at most ``COMPLIANCE_TOP``), its metrics the mean current
  and target maturity over the referential's categories, released as one category ``OVERALL``;
- risks and cartography: a fixed public grid of keys (the levels; the cells of MONARC's default
  scales), an organisation's mean value per key over its records (absent = 0), released as means
  over the noisy number of organisations.

The aggregate's ``n`` is the noisy number of organisations. Post-processing (free): weights are
kept within what a global hub accepts, means within their bounds. Pure functions: the storage layer
gives the records of the period; ``privacy.py`` plans the budget.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from statsservice.domain.deidentify import aggregate_anr
from statsservice.domain.federation.privacy import (
    DpSettings,
    Organisations,
    Plan,
    Spec,
    compose,
    gaussian_scale,
    period_label,
    top_k_scale,
)
from statsservice.domain.registry import REGISTRY
from statsservice.domain.stats_types.base import KeySums
from statsservice.domain.stats_types.compliance import category_key
from statsservice.domain.stats_types.risk import KINDS, LEVELS, STATES

Key = tuple[str, str, str, str]
#: the one category a DP compliance release names per referential: its maturity over all categories
OVERALL = "All categories"
OVERALL_LABELS = {
    "label1": OVERALL,
    "label2": "Toutes les catégories",
    "label3": "Alle Kategorien",
    "label4": "Alle categorieën",
}
#: at most this many referentials per compliance release (the sensitivity counts them all)
COMPLIANCE_TOP = 5
#: the median of |N(0, 1)|: a Gaussian of scale σ is off by less than 0.674 σ half the time
MEDIAN_ABS_NORMAL = 0.6745
#: MONARC's default scales (impact 0–4, threat 0–4, vulnerability 1–5): the cartography grid a DP
#: release covers (public, so no cell's presence says anything); other cells are not released
IMPACTS = tuple(str(i) for i in range(5))
LIKELIHOODS = tuple(str(v) for v in sorted({t * v for t in range(5) for v in range(1, 6)}))
PROBABILITIES = tuple(str(p) for p in range(5))


@dataclass(frozen=True, slots=True)
class Block:
    """Released numbers that get noise together: an organisation's vector of them is clipped to
    L2 norm ``norm`` (``None``: its natural bound, for prevalence √top and for the count 1)."""

    name: str
    share: float
    bound: float = 1.0
    norm: float | None = None


@dataclass(frozen=True, slots=True)
class Indicator:
    """How one stats type is released in DP mode."""

    type: str
    #: "objects" (a selection of keys chosen once a year) or "grid" (fixed public keys)
    kind: str
    blocks: tuple[Block, ...]

    @property
    def metrics(self) -> tuple[Block, ...]:
        return tuple(b for b in self.blocks if b.name not in ("organisations", "prevalence"))


def _objects(type_name: str, shares: tuple[float, float, float, float, float]) -> Indicator:
    """Threats and vulnerabilities: count (risks involving the object in an analysis, at most 50),
    maxRisk (a MONARC risk value: 80 on the default scales), averageRate (the 0–4 or 0–5 scale)."""
    orgs, prevalence, count, max_risk, rate = shares
    return Indicator(
        type_name,
        "objects",
        (
            Block("organisations", orgs),
            Block("prevalence", prevalence),
            Block("count", count, bound=50.0, norm=56.0),
            Block("maxRisk", max_risk, bound=100.0, norm=224.0),
            Block("averageRate", rate, bound=5.0, norm=11.2),
        ),
    )


#: the split of each type's release budget over its blocks, and each block's clipping
INDICATORS: dict[str, Indicator] = {
    "threat": _objects("threat", (0.04, 0.36, 0.36, 0.12, 0.12)),
    "vulnerability": _objects("vulnerability", (0.04, 0.36, 0.36, 0.12, 0.12)),
    "compliance": Indicator(
        "compliance",
        "objects",
        (
            Block("organisations", 0.05),
            Block("prevalence", 0.35),
            Block("current", 0.3, bound=1.0),
            Block("target", 0.3, bound=1.0),
        ),
    ),
    # risks at one level in one analysis, at most 100; an organisation's 12 levels at most 100 in L2
    "risk": Indicator(
        "risk", "grid", (Block("organisations", 0.1), Block("value", 0.9, bound=100.0, norm=100.0))
    ),
    # risks in one cell of one analysis, at most 20; an organisation's cells at most 40 in L2
    "cartography": Indicator(
        "cartography", "grid", (Block("organisations", 0.1), Block("cell", 0.9, bound=20.0, norm=40.0))
    ),
}


def grid(stats_type: str) -> list[Key]:
    """The public keys of a grid type: every risk level, every cell of the default scales."""
    if stats_type == "risk":
        return [(s, k, level, "") for s in STATES for k in KINDS for level in LEVELS]
    cells = []
    for state in STATES:
        cells += [(state, "informational", i, c) for i in IMPACTS for c in LIKELIHOODS]
        cells += [(state, "operational", i, c) for i in IMPACTS for c in PROBABILITIES]
    return cells


def top_of(stats_type: str, settings: DpSettings) -> int:
    """How many objects a release of the type names at most (its sensitivity counts them all)."""
    return COMPLIANCE_TOP if stats_type == "compliance" else settings.top


# --- each organisation's part ------------------------------------------------------------------


@dataclass
class Part:
    """One organisation's records of a (type, period): their weight, and per key the weight of
    the records that have it and the sums of weight × each metric."""

    records: float = 0.0
    keys: dict[Key, tuple[float, list[float]]] = field(default_factory=dict)

    def add(self, key: Key, weight: float, values: Sequence[float]) -> None:
        found = self.keys.get(key)
        if found is None:
            self.keys[key] = (weight, [weight * v for v in values])
        else:
            self.keys[key] = (
                found[0] + weight,
                [s + weight * v for s, v in zip(found[1], values, strict=True)],
            )

    def prevalence(self, key: Key) -> float:
        """The share of its records that have ``key`` (objects), 0–1."""
        found = self.keys.get(key)
        return min(found[0] / self.records, 1.0) if found and self.records > 0 else 0.0

    def mean(self, key: Key, metric: int, *, over_records: bool = False) -> float:
        """Its mean value of a metric: over the records that have ``key`` (objects) or over all its
        records, absent counting 0 (``over_records``: grids)."""
        found = self.keys.get(key)
        if not found:
            return 0.0
        weight = self.records if over_records else found[0]
        return found[1][metric] / weight if weight > 0 else 0.0


def _record_keys(stats_type: str, data: Any, n: float) -> Iterable[tuple[Key, float, tuple[float, ...]]]:
    """(key, weight, values) of one record, from the type's own ``explode`` (the same rows the
    exact sums hold); compliance per referential: the means over its categories."""
    rows = REGISTRY[stats_type].explode(data, n)
    if stats_type == "compliance":
        per_ref: dict[str, list[tuple[float, float, float]]] = {}
        for row in rows:
            if not row.k3:  # categories, not controls
                per_ref.setdefault(row.k1, []).append((row.n, row.m1, row.m2))
        for ref, cats in per_ref.items():
            yield (
                (ref, OVERALL, "", ""),
                float(n),
                (
                    statistics.fmean(c[1] for c in cats),
                    statistics.fmean(c[2] for c in cats),
                ),
            )
        return
    for row in rows:
        if INDICATORS[stats_type].kind == "objects":
            yield (row.k1, "", "", ""), float(row.n), (float(row.m1), float(row.m2), float(row.m3))
        else:
            yield (row.k1, row.k2, row.k3, row.k4), float(row.n), (float(row.m1),)


def parts(stats_type: str, records: Iterable[tuple[Hashable, Any, float]]) -> dict[Hashable, Part]:
    """Each organisation's part of a (type, period) from its ``(organisation, data, n)`` records."""
    out: dict[Hashable, Part] = {}
    for org, data, n in records:
        part = out.setdefault(org, Part())
        part.records += float(n)
        for key, weight, values in _record_keys(stats_type, data, float(n)):
            part.add(key, weight, values)
    return out


def candidates(parts: Mapping[Hashable, Part], min_clients: int) -> list[Key]:
    """Keys at least ``min_clients`` organisations have: what the noisy top-k may choose from (the
    k rule on exact counts, as in exact mode: docs/PRIVACY.md says what it leaves)."""
    holders: dict[Key, int] = {}
    for part in parts.values():
        for key, (weight, _) in part.keys.items():
            if weight > 0:
                holders[key] = holders.get(key, 0) + 1
    return sorted(key for key, count in holders.items() if count >= min_clients)


def _clip_norm(vector: list[float], norm: float | None) -> list[float]:
    if norm is None:
        return vector
    length = math.sqrt(sum(v * v for v in vector))
    return vector if length <= norm else [v * norm / length for v in vector]


def block_vector(indicator: Indicator, block: Block, part: Part, keys: Sequence[Key]) -> list[float]:
    """One organisation's bounded vector of a block over ``keys``: what the noise is calibrated
    to (each value within ``[0, bound]``, the whole within ``norm`` in L2)."""
    if block.name == "organisations":
        return [1.0]
    if block.name == "prevalence":
        return [part.prevalence(key) for key in keys]
    metric = [b.name for b in indicator.metrics].index(block.name)
    if indicator.kind == "grid":
        values = [min(max(part.mean(key, metric, over_records=True), 0.0), block.bound) for key in keys]
    else:
        values = [part.prevalence(key) * min(max(part.mean(key, metric), 0.0), block.bound) for key in keys]
    return _clip_norm(values, block.norm)


def sensitivity(indicator: Indicator, block: Block, size: int) -> float:
    """The L2 norm one organisation's vector of a block can reach over ``size`` keys."""
    if block.name == "organisations":
        return 1.0
    if block.name == "prevalence":
        return math.sqrt(size)
    natural = block.bound * math.sqrt(size)
    return min(natural, block.norm) if block.norm is not None else natural


# --- the plan of one release ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlockNoise:
    """A block's Gaussian: its scale (the standard deviation of each released sum) and sensitivity."""

    name: str
    scale: float
    sensitivity: float

    @property
    def spec(self) -> Spec:
        return Spec("gaussian", self.scale, self.sensitivity)


def release_noise(stats_type: str, plan: Plan) -> list[BlockNoise]:
    """The Gaussians of one release of the type: its share of the period's budget, split over its
    blocks (``Block.share``)."""
    indicator = INDICATORS[stats_type]
    size = top_of(stats_type, plan.settings) if indicator.kind == "objects" else len(grid(stats_type))
    rho = plan.release_rho(stats_type)
    out = []
    for block in indicator.blocks:
        delta = sensitivity(indicator, block, size)
        out.append(BlockNoise(block.name, gaussian_scale(delta, rho * block.share), delta))
    return out


def selection_spec(stats_type: str, plan: Plan, count: int) -> Spec | None:
    """The noisy top-k of a type's yearly selection among ``count`` candidates (None when every
    candidate fits: nothing to choose, nothing spent)."""
    k = top_of(stats_type, plan.settings)
    if count <= k or plan.selection_rho(stats_type) <= 0:
        return None
    return Spec("top_k", top_k_scale(k, plan.selection_rho(stats_type)), 1.0, k)


def select(
    stats_type: str, parts: Mapping[Hashable, Part], keys: Sequence[Key], spec: Spec | None
) -> list[Key]:
    """The year's objects: every candidate when they fit, else OpenDP's noisy top-k over their
    prevalence sums (one organisation raises each by at most 1)."""
    if spec is None:
        return list(keys)
    rows = list(parts.values())

    def scores(organisations: Organisations) -> list[float]:
        return [float(sum(part.prevalence(key) for part in organisations.rows)) for key in keys]

    chosen = spec.measurement(scores)(Organisations(rows))
    return sorted(keys[int(i)] for i in chosen)


# --- a release ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DpRelease:
    """One noisy release: the aggregate record to publish, and what it spent (its specs)."""

    type: str
    start: date
    end: date
    payload: dict[str, Any]
    specs: list[Spec]
    noise: list[BlockNoise]

    @property
    def organisations(self) -> int:
        return int(self.payload["n"])


def draw(
    stats_type: str,
    parts: Mapping[Hashable, Part],
    keys: Sequence[Key],
    noise: Sequence[BlockNoise],
) -> dict[str, list[float]]:
    """Noisy sums of every block over the organisations (one OpenDP composition, drawn once)."""
    indicator = INDICATORS[stats_type]
    rows = list(parts.values())
    by_name = {b.name: b for b in indicator.blocks}

    def summing(block: Block, size: int):
        def function(organisations: Organisations) -> list[float]:
            total = [0.0] * size
            for part in organisations.rows:
                for i, value in enumerate(block_vector(indicator, block, part, keys)):
                    total[i] += value
            return total

        return function

    measurements = [
        b.spec.measurement(summing(by_name[b.name], 1 if b.name == "organisations" else len(keys)))
        for b in noise
    ]
    drawn = compose(measurements)(Organisations(rows))
    return {b.name: [float(v) for v in values] for b, values in zip(noise, drawn, strict=True)}


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def build_release(
    stats_type: str,
    start: date,
    end: date,
    parts: Mapping[Hashable, Part],
    keys: Sequence[Key],
    noise: Sequence[BlockNoise],
    settings: DpSettings,
    *,
    labels: dict[str, dict[str, str]] | None = None,
    min_weight: int = 3,
    max_weight: int = 100_000,
) -> DpRelease:
    """Draw the noise of a (type, period) and shape the aggregate record (SPEC §4, with a ``dp``
    block saying the period, the budget and the noise of each released sum)."""
    indicator = INDICATORS[stats_type]
    keys = list(keys) if indicator.kind == "objects" else grid(stats_type)
    sums = draw(stats_type, parts, keys, noise)
    weight = int(_clamp(round(sums["organisations"][0]), min_weight, max_weight))
    cells: list[KeySums] = []
    if indicator.kind == "objects":
        for i, key in enumerate(keys):
            n = round(_clamp(sums["prevalence"][i], min_weight, weight), 4)
            means = [_clamp(sums[b.name][i] / n, 0.0, b.bound) for b in indicator.metrics]
            cells.append(KeySums(key, n, tuple((*[m * n for m in means], 0.0, 0.0, 0.0)[:3])))  # type: ignore[arg-type]
    else:
        (metric,) = indicator.metrics
        for i, key in enumerate(keys):
            value = _clamp(sums[metric.name][i] / weight, 0.0, metric.bound)
            if value > 0 or stats_type == "risk":
                cells.append(KeySums(key, float(weight), (value * weight, 0.0, 0.0)))
    named = dict(labels or {})
    if stats_type == "compliance":
        for key in keys:
            named[category_key(key[0], OVERALL)] = OVERALL_LABELS
    data = REGISTRY[stats_type].assemble(cells, weight, named)
    payload = {
        "anr": aggregate_anr(stats_type, start),
        "type": stats_type,
        "date": start.isoformat(),
        "data": data,
        "n": weight,
        "dp": {
            "period": settings.period,
            "label": period_label(start, settings.period),
            "date_to": end.isoformat(),
            "year": start.year,
            "epsilon": settings.year_epsilon,
            "delta": settings.delta,
            "unit": "organisation",
            "noise": {b.name: round(b.scale, 6) for b in noise},
        },
    }
    return DpRelease(stats_type, start, end, payload, [b.spec for b in noise], list(noise))


# --- what a release is worth: its values, its documented error ---------------------------------


def exact_values(stats_type: str, parts: Mapping[Hashable, Part], keys: Sequence[Key]) -> dict[tuple, float]:
    """The indicators without noise and without clipping: what a release estimates, by
    ``(key, indicator)`` (``prevalence``, a metric's name, or a grid's ``value`` / ``cell``)."""
    indicator = INDICATORS[stats_type]
    rows = list(parts.values())
    organisations = len(rows)
    out: dict[tuple, float] = {}
    if not organisations:
        return out
    if indicator.kind == "grid":
        (metric,) = indicator.metrics
        for key in grid(stats_type):
            out[(key, metric.name)] = sum(p.mean(key, 0, over_records=True) for p in rows) / organisations
        return out
    for key in keys:
        prevalence = sum(p.prevalence(key) for p in rows)
        out[(key, "prevalence")] = prevalence / organisations
        for index, block in enumerate(indicator.metrics):
            total = sum(p.prevalence(key) * p.mean(key, index) for p in rows)
            out[(key, block.name)] = total / prevalence if prevalence > 0 else 0.0
    return out


def released_values(stats_type: str, payload: Mapping[str, Any]) -> dict[tuple, float]:
    """The same indicators read off a release's record (exploded as a global hub explodes it)."""
    indicator = INDICATORS[stats_type]
    kind = REGISTRY[stats_type]
    weight = float(payload["n"])
    out: dict[tuple, float] = {}
    for key, row_weight, values in released_rows(stats_type, kind.load(payload["data"]), weight):
        if indicator.kind == "grid":
            out[(key, indicator.metrics[0].name)] = values[0]
            continue
        out[(key, "prevalence")] = row_weight / weight
        for index, block in enumerate(indicator.metrics):
            out[(key, block.name)] = values[index]
    if indicator.kind == "grid":  # a cell not released reads 0
        for key in grid(stats_type):
            out.setdefault((key, indicator.metrics[0].name), 0.0)
    return out


def released_rows(
    stats_type: str, data: Any, weight: float
) -> Iterable[tuple[Key, float, tuple[float, ...]]]:
    for row in REGISTRY[stats_type].explode(data, weight):
        if stats_type == "compliance":
            if not row.k3:
                yield (row.k1, row.k2, "", ""), float(row.n), (float(row.m1), float(row.m2))
        elif INDICATORS[stats_type].kind == "objects":
            yield (row.k1, "", "", ""), float(row.n), (float(row.m1), float(row.m2), float(row.m3))
        else:
            yield (row.k1, row.k2, row.k3, row.k4), float(row.n), (float(row.m1),)


@dataclass(frozen=True, slots=True)
class ExpectedError:
    """The documented error of one indicator of a type: median absolute error over its keys (half
    of the released values are closer than this), and the median of that relative to the value."""

    type: str
    indicator: str
    keys: int
    absolute: float
    relative: float | None


def expected_errors(
    stats_type: str, parts: Mapping[Hashable, Part], keys: Sequence[Key], noise: Sequence[BlockNoise]
) -> list[ExpectedError]:
    """What a release of this data would be off by, indicator by indicator, at the planned noise:
    a ratio of two noisy sums a/b is off by about √(σa² + (a/b)² σb²) / b (first order), and a
    Gaussian is off by less than 0.674 σ half the time."""
    indicator = INDICATORS[stats_type]
    scales = {b.name: b.scale for b in noise}
    rows = list(parts.values())
    organisations = float(len(rows))
    values = exact_values(stats_type, parts, keys)
    out = []
    names = [b.name for b in indicator.blocks if b.name != "organisations"]
    for name in names:
        absolute, relative = [], []
        for (key, which), value in values.items():
            if which != name:
                continue
            if name == "prevalence" or indicator.kind == "grid":
                base, sigma = organisations, scales[name]
                numerator = value * organisations
                error = math.sqrt(sigma**2 + (numerator / base) ** 2 * scales["organisations"] ** 2) / base
            else:
                base = values[(key, "prevalence")] * organisations
                sigma = scales[name]
                error = (
                    math.sqrt(sigma**2 + value**2 * scales["prevalence"] ** 2) / base if base else math.inf
                )
            absolute.append(MEDIAN_ABS_NORMAL * error)
            if value:
                relative.append(MEDIAN_ABS_NORMAL * error / abs(value))
        if absolute:
            out.append(
                ExpectedError(
                    stats_type,
                    name,
                    len(absolute),
                    statistics.median(absolute),
                    statistics.median(relative) if relative else None,
                )
            )
    return out
