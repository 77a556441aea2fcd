"""Flat tables for data lakes: each stats type's records as rows of named, typed columns (no
JSON blobs), so Spark, Trino, Athena or DuckDB can query the history with plain SQL.

Rows come from the type's own ``explode`` (the rollups the processors use), so an export's sums
equal the database's; labels and the risk totals, which rollups do not carry, come from the
record's data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from statsservice.domain.registry import REGISTRY
from statsservice.domain.stats_types.compliance import category_key
from statsservice.domain.stats_types.fields import labels_of
from statsservice.domain.stats_types.risk import KINDS, LEVELS, STATES

STRING, INT, FLOAT, DATE = "string", "int", "float", "date"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: str  # STRING, INT, FLOAT or DATE
    nullable: bool = True


#: columns of every row: which record it comes from
RECORD_COLUMNS: tuple[Column, ...] = (
    Column("type", STRING, False),
    Column("date", DATE, False),
    Column("client_uuid", STRING, False),
    Column("anr", STRING, False),
    Column("record_uuid", STRING, False),
    Column("record_n", INT, False),
)

Rows = Callable[[Any, int], Iterator[tuple]]


@dataclass(frozen=True, slots=True)
class Table:
    """The columns a type adds to ``RECORD_COLUMNS`` and how a record's data becomes rows."""

    columns: tuple[Column, ...]
    rows: Rows


def _labels(prefix: str = "") -> tuple[Column, ...]:
    return tuple(Column(f"{prefix}label{i}", STRING) for i in range(1, 5))


def _risk_rows(data: dict, n: int) -> Iterator[tuple]:
    """One row per (state, kind): the total and each level's count (None: not reported)."""
    levels: dict[tuple[str, str], dict[str, float]] = {}
    for row in REGISTRY["risk"].explode(data, n):
        levels.setdefault((row.k1, row.k2), {})[row.k3] = row.m1
    totals = data.get("total", {})
    for state in STATES:
        for kind in KINDS:
            total = totals.get(state, {}).get(kind)
            found = levels.get((state, kind))
            if total is None and found is None:
                continue
            found = found or {}
            yield (state, kind, total, *(found.get(level) for level in LEVELS))


def _object_rows(stats_type: str) -> Rows:
    def rows(data: list[dict], n: int) -> Iterator[tuple]:
        labels = {item["uuid"]: labels_of(item) for item in data}
        for row in REGISTRY[stats_type].explode(data, n):
            yield (row.k1, *labels[row.k1].values(), row.m1, row.m2, row.m3, row.n)

    return rows


def _cartography_rows(data: dict, n: int) -> Iterator[tuple]:
    """One row per cell; the second axis is likelihood (informational) or probability (operational)."""
    for row in REGISTRY["cartography"].explode(data, n):
        second = int(row.k4)
        informational = row.k2 == "informational"
        yield (
            row.k1,
            row.k2,
            int(row.k3),
            second if informational else None,
            None if informational else second,
            row.m1,
        )


def _compliance_rows(data: list[dict], n: int) -> Iterator[tuple]:
    """One row per category (``control_code`` None) and per control, current next to target."""
    labels: dict[str, dict[str, str]] = {}
    measures: dict[tuple[str, str, str], str | None] = {}
    for ref in data:
        labels[ref["referential"]] = labels_of(ref)
        for category in ref["current"] + ref["target"]:
            labels[category_key(ref["referential"], category["label1"])] = labels_of(category)
            for control in category["controls"]:
                measures[(ref["referential"], category["label1"], control["code"])] = control.get("measure")
    for row in REGISTRY["compliance"].explode(data, n):
        yield (
            row.k1,
            *labels[row.k1].values(),
            *labels[category_key(row.k1, row.k2)].values(),
            row.k3 or None,
            measures.get((row.k1, row.k2, row.k3)) if row.k3 else None,
            row.m1,
            row.m2,
            row.n,
        )


_OBJECT = (
    Column("object_uuid", STRING, False),
    *_labels(),
    Column("count", FLOAT),
    Column("max_risk", FLOAT),
    Column("average_rate", FLOAT),
    Column("n", FLOAT),
)

TABLES: dict[str, Table] = {
    "risk": Table(
        (
            Column("state", STRING, False),
            Column("kind", STRING, False),
            Column("total", FLOAT),
            Column("low_risks", FLOAT),
            Column("medium_risks", FLOAT),
            Column("high_risks", FLOAT),
        ),
        _risk_rows,
    ),
    "threat": Table(_OBJECT, _object_rows("threat")),
    "vulnerability": Table(_OBJECT, _object_rows("vulnerability")),
    "cartography": Table(
        (
            Column("state", STRING, False),
            Column("kind", STRING, False),
            Column("impact", INT, False),
            Column("likelihood", INT),
            Column("probability", INT),
            Column("count", FLOAT),
        ),
        _cartography_rows,
    ),
    "compliance": Table(
        (
            Column("referential", STRING, False),
            *_labels("referential_"),
            *_labels("category_"),
            Column("control_code", STRING),
            Column("control_measure", STRING),
            Column("current", FLOAT),
            Column("target", FLOAT),
            Column("n", FLOAT),
        ),
        _compliance_rows,
    ),
}
