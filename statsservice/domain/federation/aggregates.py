"""Turn a day's records of one type into the aggregate a local hub sends upward — or withhold it.

Pure functions: the storage layer feeds records in, the CLI sends what comes out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from statsservice.domain.deidentify import pseudonym, strip_labels
from statsservice.domain.stats_types import REGISTRY


@dataclass(frozen=True)
class Outgoing:
    """One aggregate record, exactly as it will be POSTed to the global hub."""

    type: str
    date: date
    analyses: int
    payload: dict[str, Any]

    @property
    def digest(self) -> str:
        return digest(self.payload)


@dataclass(frozen=True)
class Withheld:
    """A (type, day) over too few analyses (k-threshold): never sent."""

    type: str
    date: date
    analyses: int


def digest(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def build(
    stats_type: str,
    day: date,
    records: Sequence[tuple[Any, float]],
    *,
    secret: str,
    min_analyses: int,
    strip: bool = False,
) -> Outgoing | Withheld:
    """Aggregate ``(data, weight)`` records of one type and day, or withhold them (k-threshold)."""
    analyses = round(sum(weight for _, weight in records))
    if analyses < max(1, min_analyses):
        return Withheld(stats_type, day, analyses)
    data = REGISTRY[stats_type].aggregate(records)
    if strip:
        data = strip_labels(data)
    payload = {
        "anr": pseudonym(secret, stats_type, day),
        "type": stats_type,
        "date": day.isoformat(),
        "data": data,
        "n": analyses,
    }
    return Outgoing(stats_type, day, analyses, payload)
