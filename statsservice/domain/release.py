"""What may be released (SPEC §7): a cell — a (type, day), an element, a level, a cartography
cell, a category, a control — leaves the hub or reaches a public answer only when enough
distinct organisations stand behind it and none of them dominates it. Pure rules; the storage
layer counts, these decide. The threat model behind them: ``docs/PRIVACY.md``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: a share is a ratio of float sums: one client's sum over the total can come out 1 + 2e-16 (the
#: database sums the same values in another order); shares within this of the limit pass
SHARE_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class ReleaseRules:
    """k by organisations, k by analyses, and the dominance share (0 < dominance ≤ 1)."""

    min_clients: int = 3
    min_analyses: int = 3
    dominance: float = 0.85

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ReleaseRules:
        return cls(
            min_clients=max(1, int(config.get("FEDERATION_MIN_CLIENTS", 3))),
            min_analyses=max(1, int(config.get("FEDERATION_MIN_ANALYSES", 3))),
            dominance=float(config.get("FEDERATION_DOMINANCE", 0.85)),
        )

    @property
    def top_limit(self) -> float:
        """The largest top share a released cell may have (the dominance share, float-tolerant)."""
        return self.dominance + SHARE_TOLERANCE

    def allows(self, clients: int, analyses: float, top: float = 0.0) -> bool:
        """A cell with ``clients`` organisations, ``analyses`` weight and top share ``top``."""
        return clients >= self.min_clients and analyses >= self.min_analyses and top <= self.top_limit

    def reason(self, clients: int, analyses: float, top: float = 0.0) -> str:
        """Why a cell is suppressed ("" when it is not): ``k`` or ``dominance``."""
        if clients < self.min_clients or analyses < self.min_analyses:
            return "k"
        if top > self.top_limit:
            return "dominance"
        return ""


def majority_label(votes: Iterable[dict[str, str]], needed: int) -> dict[str, str]:
    """The labels most organisations use for an element, if at least ``needed`` of them use
    exactly those; otherwise none (a label only a few typed is their free text, not the KB's)."""
    counted = Counter(tuple(sorted(labels.items())) for labels in votes)
    if not counted:
        return {}
    # most votes first; ties broken by the text itself so every run picks the same labels
    best, count = min(counted.items(), key=lambda item: (-item[1], item[0]))
    return dict(best) if count >= needed else {}


#: public counts are rounded down to a multiple of this up to 100, to two significant figures above
COUNT_STEP = 5


def coarsen(count: float, k: int) -> int | None:
    """A count as a public face shows it (docs/PRIVACY.md): 0 for nothing, None below ``k`` (shown
    as "fewer than k"), else rounded down — to a multiple of ``COUNT_STEP`` up to 100, to two
    significant figures above — and never below ``k``: one organisation's analyses, or the
    organisation itself, cannot be read off two counts a release apart."""
    value = int(count)
    if value <= 0:
        return 0
    if value < k:
        return None
    step = COUNT_STEP if value < 100 else 10 ** (len(str(value)) - 2)
    return max(k, value - value % step)


def coarsen_weights(data: Any, k: int) -> Any:
    """A processor's answer with every point's weight ``n`` coarsened (``coarsen``)."""
    if isinstance(data, list):
        return [coarsen_weights(item, k) for item in data]
    if isinstance(data, dict):
        return {
            key: (
                coarsen(value, k)
                if key == "n" and isinstance(value, int | float)
                else coarsen_weights(value, k)
            )
            for key, value in data.items()
        }
    return data


def area_of(latitude: float, longitude: float, decimals: int) -> tuple[float, float]:
    """The map area of a position: coordinates rounded to ``decimals`` (0.1° is about 11 km)."""
    return round(latitude, decimals), round(longitude, decimals)
