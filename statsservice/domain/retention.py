"""Retention rules, free of storage: the purge cut-off and which imported snapshots are duplicates."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any


def digest(data: Any) -> str:
    """A canonical fingerprint of a record's data (key order and spacing do not matter)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One stored record as the duplicate finder sees it."""

    id: int
    series: tuple[Any, ...]  # (client, analysis, type): one analysis's history of one type
    date: date
    digest: str


def duplicates(snapshots: Iterable[Snapshot]) -> Iterator[int]:
    """Ids of snapshots that repeat the previous one of their series within the same month.

    Older systems stored a new record every day even when nothing changed. Within a series
    (given in date order, series after series), a record whose data equals the previous record's
    is redundant, except the first record of each calendar month, which is always kept so
    monthly and longer series keep one point per analysis and month.
    """
    previous: Snapshot | None = None
    for snap in snapshots:
        if (
            previous is not None
            and previous.series == snap.series
            and (previous.date.year, previous.date.month) == (snap.date.year, snap.date.month)
            and previous.digest == snap.digest
        ):
            yield snap.id
        previous = snap
