"""Differential privacy on one yearly budget per organisation (``FEDERATION_DP``, docs/PRIVACY.md).

Why a yearly budget: what protects an organisation is the privacy loss of *everything* released
about it, not of one release. So DP mode makes few, coarse releases (one per type and period) and
charges each to the calendar year of its period; OpenDP composes the ledger of a year's releases
(``spent``) and converts the zCDP total to (ε, δ). A release that would take the year over its
budget is refused before any noise is drawn.

Every measurement acts on the same input, the table of organisations (one row each, its bounded
contribution): adding or removing one organisation is distance 1. A block of released numbers is
an OpenDP Gaussian behind a user transformation whose stability map is the block's sensitivity (the
L2 norm one organisation's bounded part can reach); the choice of objects is OpenDP's noisy top-k
on prevalence sums (one organisation moves each by at most 1, only upwards). A ledger entry keeps
each measurement's parameters (``Spec``): rebuilding them gives the very privacy maps again, so the
accounting of a year is OpenDP's ``make_composition`` over its entries, never a sum of ours.

Pure functions and OpenDP; the storage layer keeps the ledger.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

PERIODS = ("month", "week")
#: the part of the year's zCDP budget the plan leaves unspent: OpenDP rounds every map up, so the
#: ledger of a full year must still pass the check of its last release
MARGIN = 1e-4
#: the share of a year's budget each type's choice of objects spends (once a year), and the share of
#: each period's budget each type's release spends (docs/PRIVACY.md: the indicators the goals name get most)
SELECTION_SHARES: Mapping[str, float] = {"threat": 0.03, "vulnerability": 0.01, "compliance": 0.01}
TYPE_SHARES: Mapping[str, float] = {
    "threat": 0.36,
    "risk": 0.28,
    "compliance": 0.2,
    "vulnerability": 0.1,
    "cartography": 0.06,
}


class BudgetExceeded(RuntimeError):
    """A release that would take a year's privacy loss over its budget: refused, nothing drawn."""


@dataclass(frozen=True, slots=True)
class DpSettings:
    """DP mode's settings: the yearly (ε, δ) of every organisation, the period of a release and how
    many objects per type it names."""

    year_epsilon: float = 4.0
    delta: float = 1e-7
    period: str = "month"
    top: int = 20

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DpSettings | None:
        """None when ``FEDERATION_DP`` is off (the default: exact releases); ``ValueError`` with a
        sentence an operator can act on for a setting out of range."""
        if not config.get("FEDERATION_DP"):
            return None
        try:
            epsilon = float(config.get("FEDERATION_DP_YEAR_EPSILON", 4.0))
            delta = float(config.get("FEDERATION_DP_DELTA", 1e-7))
            top = config.get("FEDERATION_DP_TOP", 20)
        except (TypeError, ValueError):
            raise ValueError("FEDERATION_DP_YEAR_EPSILON and FEDERATION_DP_DELTA must be numbers") from None
        period = config.get("FEDERATION_DP_PERIOD", "month")
        if not (math.isfinite(epsilon) and epsilon > 0):
            raise ValueError(f"FEDERATION_DP_YEAR_EPSILON must be a positive number, not {epsilon!r}")
        if not 0 < delta < 1e-3:
            raise ValueError(f"FEDERATION_DP_DELTA must be in (0, 0.001), not {delta!r}")
        if period not in PERIODS:
            raise ValueError(f"FEDERATION_DP_PERIOD must be one of {PERIODS}, not {period!r}")
        if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 200:
            raise ValueError(f"FEDERATION_DP_TOP must be a whole number from 1 to 200, not {top!r}")
        return cls(epsilon, delta, period, top)


# --- periods -------------------------------------------------------------------------------------


def period_of(day: date, period: str) -> tuple[date, date]:
    """The first and last day of the period holding ``day``: its month, or its ISO week."""
    if period == "month":
        last = calendar.monthrange(day.year, day.month)[1]
        return day.replace(day=1), day.replace(day=last)
    start = day - timedelta(days=day.weekday())
    return start, start + timedelta(days=6)


def periods(first: date, last: date, period: str) -> list[tuple[date, date]]:
    """Every period that starts between ``first``'s period and ``last`` (whole or not)."""
    out = []
    start, end = period_of(first, period)
    while start <= last:
        out.append((start, end))
        start, end = period_of(end + timedelta(days=1), period)
    return out


def periods_in_year(year: int, period: str) -> int:
    """How many periods start in ``year``: 12 months, or 52 or 53 Mondays. A period is charged to
    the year it starts in (a week across the new year belongs to the old one)."""
    if period == "month":
        return 12
    return sum(1 for start, _ in periods(date(year, 1, 1), date(year, 12, 31), period) if start.year == year)


def period_label(start: date, period: str) -> str:
    """How a period is named in reports: ``2026-10`` or ``2026-W41``."""
    if period == "month":
        return f"{start:%Y-%m}"
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}"


# --- OpenDP measurements ----------------------------------------------------------------------


def _opendp() -> Any:
    """OpenDP, loaded on first use (a third of a second: exact mode never pays it)."""
    import opendp.prelude as dp

    dp.enable_features("contrib", "honest-but-curious")  # user transformations carry our stability maps
    return dp


class Organisations:
    """The input of every measurement: one bounded contribution per organisation (any object a
    block's function reads). Adding or removing one is symmetric distance 1."""

    def __init__(self, rows: Sequence[Any]):
        self.rows = rows


@lru_cache(maxsize=1)
def _spaces() -> tuple[Any, Any, Any]:
    dp = _opendp()
    organisations = dp.user_domain("statsservice:organisations", lambda x: isinstance(x, Organisations))
    vectors = dp.vector_domain(dp.atom_domain(T=float, nan=False))
    return organisations, dp.symmetric_distance(), vectors


def _no_data(_: Organisations) -> list[float]:
    raise RuntimeError("a ledger's stand-in measurement is for its privacy map only")


@dataclass(frozen=True, slots=True)
class Spec:
    """One OpenDP measurement of a release, enough to rebuild its privacy map: a Gaussian of
    ``scale`` on a vector whose L2 norm one organisation moves by at most ``sensitivity``, or the
    noisy top-``k`` of scores one organisation raises by at most ``sensitivity`` each."""

    kind: str
    scale: float
    sensitivity: float
    k: int = 0

    def measurement(self, function: Callable[[Organisations], list[float]] = _no_data) -> Any:
        dp = _opendp()
        organisations, symmetric, vectors = _spaces()
        sensitivity = float(self.sensitivity)
        if self.kind == "gaussian":
            metric = dp.l2_distance(T=float)
            mechanism = dp.m.then_gaussian(scale=float(self.scale))
        elif self.kind == "top_k":
            metric = dp.linf_distance(
                T=float, monotonic=True
            )  # prevalence sums only grow with an organisation
            mechanism = dp.m.then_noisy_top_k(
                dp.zero_concentrated_divergence(), k=self.k, scale=float(self.scale)
            )
        else:
            raise ValueError(f"unknown measurement {self.kind!r}")
        transformation = dp.t.make_user_transformation(
            organisations,
            symmetric,
            vectors,
            metric,
            function=function,
            stability_map=lambda d_in: float(d_in) * sensitivity,
        )
        return transformation >> mechanism

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "scale": self.scale, "sensitivity": self.sensitivity, "k": self.k}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Spec:
        return cls(str(data["kind"]), float(data["scale"]), float(data["sensitivity"]), int(data.get("k", 0)))


def compose(measurements: Sequence[Any]) -> Any:
    """OpenDP's composition of measurements over the organisations (run it once: one draw each)."""
    return _opendp().c.make_composition(list(measurements))


def composed(specs: Sequence[Spec]) -> Any:
    """OpenDP's composition of the measurements (a zCDP measurement over the organisations)."""
    return compose([spec.measurement() for spec in specs])


def rho_of(specs: Sequence[Spec]) -> float:
    """zCDP ρ of the measurements together (OpenDP's composition map at one organisation)."""
    return float(composed(specs).map(1)) if specs else 0.0


def epsilon_of(specs: Sequence[Spec], delta: float) -> float:
    """ε at ``delta`` of the measurements together: OpenDP's composition, then its zCDP to
    approximate-DP conversion with δ fixed."""
    if not specs:
        return 0.0
    dp = _opendp()
    curve = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(composed(specs)), float(delta))
    return float(curve.map(1)[0])


@lru_cache(maxsize=32)
def year_rho(epsilon: float, delta: float) -> float:
    """The zCDP ρ a year may spend: the largest whose (ε, δ) conversion is within the budget,
    found by OpenDP's binary search on one Gaussian (the conversion depends on ρ alone)."""
    dp = _opendp()
    _, _, vectors = _spaces()

    def chain(scale: float) -> Any:
        gaussian = dp.m.make_gaussian(vectors, dp.l2_distance(T=float), scale=scale)
        return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(gaussian), delta)

    scale = dp.binary_search_param(chain, d_in=1.0, d_out=(float(epsilon), float(delta)), T=float)
    return float(dp.m.make_gaussian(vectors, dp.l2_distance(T=float), scale=scale).map(1.0))


@lru_cache(maxsize=256)
def top_k_scale(k: int, rho: float) -> float:
    """The smallest scale of OpenDP's noisy top-``k`` (zCDP, monotonic scores moved by at most 1)
    that spends at most ``rho`` (OpenDP's binary search over its own map)."""
    dp = _opendp()
    return float(
        dp.binary_search_param(lambda s: Spec("top_k", s, 1.0, k).measurement(), d_in=1, d_out=rho, T=float)
    )


# --- the plan of a year --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """How a year's budget is split: ρ of each type's selection (once a year) and of each type's
    release per period. The accounting never relies on it: the ledger does (``spent``)."""

    settings: DpSettings
    year: int
    rho: float

    @classmethod
    def of(cls, settings: DpSettings, year: int) -> Plan:
        return cls(settings, year, year_rho(settings.year_epsilon, settings.delta) * (1 - MARGIN))

    @property
    def periods(self) -> int:
        return periods_in_year(self.year, self.settings.period)

    def selection_rho(self, stats_type: str) -> float:
        return self.rho * SELECTION_SHARES.get(stats_type, 0.0)

    def release_rho(self, stats_type: str) -> float:
        per_period = self.rho * (1 - sum(SELECTION_SHARES.values())) / self.periods
        return per_period * TYPE_SHARES[stats_type]


def gaussian_scale(sensitivity: float, rho: float) -> float:
    """The scale of a Gaussian spending ``rho`` on a block of ``sensitivity`` (ρ = Δ² / 2σ²),
    checked against OpenDP's own map (which rounds up): never more than ``rho``."""
    scale = sensitivity / math.sqrt(2 * rho) * (1 + 1e-9)
    spec = Spec("gaussian", scale, sensitivity)
    if spec.measurement().map(1) > rho * (1 + 1e-6):  # pragma: no cover - OpenDP's rounding is tiny
        raise RuntimeError("Gaussian calibration disagrees with OpenDP's privacy map")
    return scale


@dataclass(frozen=True, slots=True)
class Spent:
    """A year's privacy loss as the ledger composes it."""

    year: int
    rho: float
    epsilon: float
    delta: float
    releases: int


def spent(year: int, specs: Iterable[Spec], delta: float, releases: int) -> Spent:
    listed = list(specs)
    return Spent(year, rho_of(listed), epsilon_of(listed, delta), delta, releases)


def check(settings: DpSettings, year: int, before: Sequence[Spec], new: Sequence[Spec], what: str) -> float:
    """The year's ε once ``new`` is released after ``before`` (OpenDP's composition of both), or
    ``BudgetExceeded`` if that is over the budget: the caller then draws nothing."""
    after = epsilon_of([*before, *new], settings.delta)
    if after > settings.year_epsilon * (1 + 1e-9):
        raise BudgetExceeded(
            f"differential privacy: {what} would bring {year} to ε {after:.3g} of "
            f"{settings.year_epsilon:g} (δ {settings.delta:g}): refused, nothing released "
            "(statsservice dp budget)"
        )
    return after


def short(value: float) -> str:
    """ε as a reader wants it: two decimals at most (1.3, 0.27, 4)."""
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"


def sentence(year: int, epsilon_spent: float, settings: DpSettings, *, since: date | None = None) -> str:
    """The about page's sentence (the English one; the page translates its own)."""
    text = (
        f"Each organisation's {year} contribution is protected at ε = {short(epsilon_spent)} of "
        f"{short(settings.year_epsilon)} (δ = {settings.delta:g}, differential privacy)"
    )
    if since is not None:
        text += f" from {since.isoformat()}; days released before that were exact"
    return text + "."
