"""The registry of stats types. A new type: one module with a ``StatsType`` subclass, one line here."""

from __future__ import annotations

from statsservice.domain.stats_types.base import LabelEntry, RollupRow, StatsType
from statsservice.domain.stats_types.cartography import CartographyType
from statsservice.domain.stats_types.compliance import ComplianceType
from statsservice.domain.stats_types.risk import RiskType
from statsservice.domain.stats_types.threat import ThreatType, VulnerabilityType

REGISTRY: dict[str, StatsType] = {
    t.name: t
    for t in (
        RiskType(),
        ThreatType(),
        VulnerabilityType(),
        CartographyType(),
        ComplianceType(),
    )
}
TYPE_NAMES: tuple[str, ...] = tuple(REGISTRY)


def get_type(name: str) -> StatsType:
    return REGISTRY[name]


__all__ = ["REGISTRY", "TYPE_NAMES", "LabelEntry", "RollupRow", "StatsType", "get_type"]
