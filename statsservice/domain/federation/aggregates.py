"""Plan what a local hub releases upward for one (type, day): the aggregate of released cells,
or nothing (SPEC §7, docs/PRIVACY.md).

Pure functions: the storage layer sums rollups per key with the organisations behind each
(the same sums the processors read), these apply the release rules and shape the record.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from statsservice.domain.deidentify import aggregate_anr
from statsservice.domain.registry import REGISTRY
from statsservice.domain.release import ReleaseRules
from statsservice.domain.stats_types.base import KeySums
from statsservice.text import plural

#: types whose elements are keyed by free text (compliance categories by their label1):
#: with label stripping on, nothing of them is sent
FREE_TEXT_KEYS = ("compliance",)


@dataclass(frozen=True, slots=True)
class CellCount:
    """One rollup key of a day over sharing clients: its sums and who stands behind them."""

    sums: KeySums
    clients: int
    top: float


@dataclass(frozen=True)
class DayInput:
    """What the storage layer counted for one (type, day) over sharing clients."""

    type: str
    date: date
    analyses: float
    clients: int
    cells: Sequence[CellCount]
    labels: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Outgoing:
    """One aggregate record, exactly as it will be POSTed to the global hub."""

    type: str
    date: date
    analyses: int
    payload: dict[str, Any]
    suppressed: Counter = field(default_factory=Counter)

    @property
    def digest(self) -> str:
        return digest(self.payload)


@dataclass(frozen=True)
class Withheld:
    """A (type, day) not released: too few organisations or analyses, or no cell left."""

    type: str
    date: date
    analyses: int
    clients: int
    reason: str
    suppressed: Counter = field(default_factory=Counter)


def digest(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def last_final_day(today: date, delay_days: int) -> date:
    """The newest day that may be released: ``delay_days`` old, so late uploads are in."""
    return today - timedelta(days=max(0, delay_days))


def build(day: DayInput, rules: ReleaseRules) -> Outgoing | Withheld:
    """The aggregate of the cells of ``day`` that pass ``rules``, or why nothing is released
    (exact mode; DP mode releases periods instead: ``indicators.py``)."""
    analyses = round(day.analyses)
    if not rules.allows(day.clients, analyses):
        reason = f"{plural(day.clients, 'organisation')}, {plural(analyses, 'analysis', 'analyses')}"
        return Withheld(day.type, day.date, analyses, day.clients, reason)
    released: list[KeySums] = []
    suppressed: Counter = Counter()
    for cell in day.cells:
        why = rules.reason(cell.clients, cell.sums.n, cell.top)
        if why:
            suppressed[why] += 1
        else:
            released.append(cell.sums)
    if not released and day.cells:  # records that reported nothing are released as such
        return Withheld(day.type, day.date, analyses, day.clients, "every cell suppressed", suppressed)
    data = REGISTRY[day.type].assemble(released, day.analyses, day.labels)
    payload = {
        "anr": aggregate_anr(day.type, day.date),
        "type": day.type,
        "date": day.date.isoformat(),
        "data": data,
        "n": analyses,
    }
    return Outgoing(day.type, day.date, analyses, payload, suppressed)


LABEL_FIELDS = ("label1", "label2", "label3", "label4")


def strip_labels(payload: Any) -> Any:
    """A payload with every label emptied (``FEDERATION_STRIP_LABELS``: only knowledge-base uuids
    leave the hub; the public face keeps the labels k organisations use)."""
    if isinstance(payload, list):
        return [strip_labels(item) for item in payload]
    if isinstance(payload, dict):
        return {key: "" if key in LABEL_FIELDS else strip_labels(value) for key, value in payload.items()}
    return payload
