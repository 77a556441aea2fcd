"""Cartography: counts of risks per impact × likelihood cell (operational: impact × probability)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from marshmallow import fields

from statsservice.domain.processors import cartography
from statsservice.domain.stats_types.base import KeySums, RollupRow, StatsType
from statsservice.domain.stats_types.fields import Count, IntKeyMap, NestedMap, Number, StrictSchema
from statsservice.domain.stats_types.risk import KINDS, STATES
from statsservice.domain.stats_types.sql import JsonSql

COLUMNS = {"informational": "likelihood", "operational": "probability"}
CELL_VALUE = Number(maximum=10**9)  # a count for a client record, a mean for an aggregate


class ScalesSchema(StrictSchema):
    impact = fields.List(Count(), load_default=list)
    probability = fields.List(Count(), load_default=list)
    likelihood = fields.List(Count(), load_default=list)


class KindCellsSchema(StrictSchema):
    informational = IntKeyMap(IntKeyMap(CELL_VALUE), load_default=dict)
    operational = IntKeyMap(IntKeyMap(CELL_VALUE), load_default=dict)


class StatesCellsSchema(StrictSchema):
    current = NestedMap(KindCellsSchema, load_default=dict)
    residual = NestedMap(KindCellsSchema, load_default=dict)


class CartographyDataSchema(StrictSchema):
    scales = NestedMap(ScalesSchema, load_default=dict)
    risks = NestedMap(StatesCellsSchema, required=True)


class CartographyType(StatsType):
    """Rollup row per cell: k1 state, k2 kind, k3 impact, k4 likelihood (or probability); m1 count.

    A cell an analysis does not report counts as 0 in means (the denominator is every record).
    """

    name = "cartography"
    schema = CartographyDataSchema
    processors = (
        cartography.heatmap(STATES, KINDS, COLUMNS),
        cartography.heatmap_on_date(STATES, KINDS, COLUMNS),
    )

    def explode(
        self, data: dict, n: float, match: Mapping[str, tuple[str, ...]] | None = None
    ) -> Iterable[RollupRow]:
        for state, kinds in data["risks"].items():
            for kind, rows in kinds.items():
                for impact, cells in rows.items():
                    for column, count in cells.items():
                        yield RollupRow(k1=state, k2=kind, k3=impact, k4=column, m1=count, n=n)

    def explode_sql(self, j: JsonSql, match: Mapping[str, tuple[str, ...]] | None = None) -> str:
        return (
            f"SELECT rec.date, s.key, k.key, i.key, c.key, rec.n, {j.scalar('c.value')}, 0, 0"
            f" FROM rec, {j.entries('rec.data', 'risks')} AS s, {j.entries('s.value')} AS k,"
            f" {j.entries('k.value')} AS i, {j.entries('i.value')} AS c"
        )

    def assemble(self, cells: Sequence[KeySums], weight: float, labels: dict[str, dict[str, str]]) -> dict:
        """Each released cell's mean count over every record; scales are not sent."""
        risks: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
        for cell in sorted(cells, key=lambda c: (c.key[:2], *map(int, c.key[2:]))):
            state, kind, impact, column = cell.key
            risks.setdefault(state, {}).setdefault(kind, {}).setdefault(impact, {})[column] = (
                cell.sums[0] / weight
            )
        return {"scales": {}, "risks": risks}
