"""Threats and vulnerabilities: one item per knowledge-base object with count, max risk, rate."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from marshmallow import ValidationError

from statsservice.domain.processors import objects
from statsservice.domain.stats_types.base import KeySums, LabelEntry, RollupRow, StatsType
from statsservice.domain.stats_types.fields import (
    LABEL_FIELDS,
    Labelled,
    Number,
    UUIDString,
    Weight,
    labels_of,
)
from statsservice.domain.stats_types.sql import JsonSql


class ObjectItemSchema(Labelled):
    uuid = UUIDString(required=True)
    # whole numbers from a Front Office, means in a federation aggregate
    count = Number(required=True, maximum=10**9)
    maxRisk = Number(required=True, maximum=10**9)
    averageRate = Number(required=True, maximum=10**6)
    n = Weight()


class ThreatType(StatsType):
    """Rollup row per object: k1 = object uuid; m1 = count, m2 = maxRisk, m3 = averageRate."""

    name = "threat"
    labelled = True
    schema = ObjectItemSchema
    many = True
    processors = (objects.average_on_date("threat", "threat"),)

    def check(self, loaded: Any) -> Any:
        seen: set[str] = set()
        for index, item in enumerate(loaded):
            if item["uuid"] in seen:
                raise ValidationError({str(index): {"uuid": ["duplicate object in one record"]}})
            seen.add(item["uuid"])
        return loaded

    def explode(
        self, data: list[dict], n: float, match: Mapping[str, tuple[str, ...]] | None = None
    ) -> Iterable[RollupRow]:
        for item in data:
            yield RollupRow(
                k1=item["uuid"],
                m1=item["count"],
                m2=item["maxRisk"],
                m3=item["averageRate"],
                n=item.get("n") or n,
            )

    def explode_sql(self, j: JsonSql, match: Mapping[str, tuple[str, ...]] | None = None) -> str:
        e = "e.value"
        return (
            f"SELECT rec.date, {j.text(e, 'uuid')}, '', '', '', {j.weight(e, 'rec.n')},"
            f" {j.number(e, 'count')}, {j.number(e, 'maxRisk')}, {j.number(e, 'averageRate')}"
            f" FROM rec, {j.elements('rec.data')} AS e"
        )

    def labels(self, data: list[dict]) -> Iterable[LabelEntry]:
        for item in data:
            yield LabelEntry(item["uuid"], labels_of(item))

    def assemble(
        self, cells: Sequence[KeySums], weight: float, labels: dict[str, dict[str, str]]
    ) -> list[dict]:
        """One item per released object: its means and ``n``, the labels given (or none)."""
        return [
            {
                "uuid": cell.key[0],
                **{name: labels.get(cell.key[0], {}).get(name, "") for name in LABEL_FIELDS},
                "count": cell.mean(0),
                "maxRisk": cell.mean(1),
                "averageRate": cell.mean(2),
                "n": cell.n,
            }
            for cell in sorted(cells, key=lambda c: c.key)
        ]


class VulnerabilityType(ThreatType):
    """Same shape and rollups as threats; a separate type so series never mix."""

    name = "vulnerability"
    processors = (objects.average_on_date("vulnerability", "vulnerability"),)
