"""Risks: totals and level distributions, current vs residual, informational vs operational."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from statsservice.domain.processors import risks
from statsservice.domain.stats_types.base import KeySums, RollupRow, StatsType
from statsservice.domain.stats_types.fields import ItemSchema, NestedMap, Number, StrictSchema
from statsservice.domain.stats_types.sql import JsonSql

STATES = ("current", "residual")
KINDS = ("informational", "operational")
LEVELS = ("Low risks", "Medium risks", "High risks")


class LevelSchema(ItemSchema):
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    value = Number(required=True, maximum=10**9)  # a mean for aggregates, a count otherwise


class KindLevelsSchema(StrictSchema):
    informational = fields.List(fields.Nested(LevelSchema), load_default=list)
    operational = fields.List(fields.Nested(LevelSchema), load_default=list)

    @validates_schema
    def _unique_levels(self, data: dict, **kwargs: Any) -> None:
        for kind, levels in data.items():
            names = [entry["level"] for entry in levels]
            if len(names) != len(set(names)):
                raise ValidationError({kind: ["each level may appear once"]})


class KindTotalsSchema(StrictSchema):
    informational = Number(load_default=0, maximum=10**9)
    operational = Number(load_default=0, maximum=10**9)


class StatesLevelsSchema(StrictSchema):
    current = NestedMap(KindLevelsSchema, load_default=dict)
    residual = NestedMap(KindLevelsSchema, load_default=dict)


class StatesTotalsSchema(StrictSchema):
    current = NestedMap(KindTotalsSchema, load_default=dict)
    residual = NestedMap(KindTotalsSchema, load_default=dict)


class RiskDataSchema(StrictSchema):
    total = NestedMap(StatesTotalsSchema, load_default=dict)
    risks = NestedMap(StatesLevelsSchema, required=True)


class RiskType(StatsType):
    """Rollup row per (state, kind, level): k1 state, k2 kind, k3 level; m1 = value.

    A level an analysis does not report counts as 0 in means (the denominator is every record).
    """

    name = "risk"
    schema = RiskDataSchema
    processors = (
        risks.averages(STATES, KINDS, LEVELS),
        risks.averages_on_date(STATES, KINDS, LEVELS),
    )

    def explode(
        self, data: dict, n: float, match: Mapping[str, tuple[str, ...]] | None = None
    ) -> Iterable[RollupRow]:
        for state, kinds in data["risks"].items():
            for kind, levels in kinds.items():
                for entry in levels:
                    yield RollupRow(k1=state, k2=kind, k3=entry["level"], m1=entry["value"], n=n)

    def explode_sql(self, j: JsonSql, match: Mapping[str, tuple[str, ...]] | None = None) -> str:
        return (
            f"SELECT rec.date, s.key, k.key, {j.text('l.value', 'level')}, '', rec.n,"
            f" {j.number('l.value', 'value')}, 0, 0"
            f" FROM rec, {j.entries('rec.data', 'risks')} AS s, {j.entries('s.value')} AS k,"
            f" {j.elements('k.value')} AS l"
        )

    def assemble(self, cells: Sequence[KeySums], weight: float, labels: dict[str, dict[str, str]]) -> dict:
        """Each released level's mean over every record (totals are not rolled up: not sent)."""
        risks: dict[str, dict[str, list[dict]]] = {}
        ordered = sorted(
            cells, key=lambda c: (c.key[:2], LEVELS.index(c.key[2]) if c.key[2] in LEVELS else 9)
        )
        for cell in ordered:
            state, kind, level = cell.key[:3]
            risks.setdefault(state, {}).setdefault(kind, []).append(
                {"level": level, "value": cell.sums[0] / weight}
            )
        return {"total": {}, "risks": risks}
