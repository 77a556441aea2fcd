"""The registry: every stats type and every processor, by name.

It sits above both: stats types declare their processors (``StatsType.processors``, built with
the factories of ``domain.processors``), and this module gathers them. Neither package imports it
back. A new stats type: one module in ``domain/stats_types`` and one line in ``TYPES`` below.
"""

from __future__ import annotations

from typing import Any

from statsservice.domain.processors import Processor, ProcessorError
from statsservice.domain.stats_types.base import StatsType
from statsservice.domain.stats_types.cartography import CartographyType
from statsservice.domain.stats_types.compliance import ComplianceType
from statsservice.domain.stats_types.risk import RiskType
from statsservice.domain.stats_types.threat import ThreatType, VulnerabilityType

TYPES: tuple[StatsType, ...] = (
    RiskType(),
    ThreatType(),
    VulnerabilityType(),
    CartographyType(),
    ComplianceType(),
)
REGISTRY: dict[str, StatsType] = {t.name: t for t in TYPES}
TYPE_NAMES: tuple[str, ...] = tuple(REGISTRY)


def _collect() -> dict[str, Processor]:
    found: dict[str, Processor] = {}
    for stats_type in TYPES:
        for processor in stats_type.processors:
            if processor.name in found or processor.type != stats_type.name:
                raise RuntimeError(f"processor {processor.name} declared twice or on the wrong type")
            found[processor.name] = processor
    return found


PROCESSORS: dict[str, Processor] = _collect()


def get_type(name: str) -> StatsType:
    return REGISTRY[name]


def get_processor(name: Any, stats_type: Any = None) -> Processor:
    """The processor called ``name``, checked against the requested ``stats_type`` if any."""
    if stats_type is not None and stats_type not in REGISTRY:
        raise ProcessorError("type", f"unknown stats type; accepted: {', '.join(REGISTRY)}")
    processor = PROCESSORS.get(name) if isinstance(name, str) else None
    if processor is None:
        fitting = [p.name for p in PROCESSORS.values() if stats_type in (None, p.type)]
        raise ProcessorError("processor", f"unknown processor; accepted: {', '.join(fitting)}")
    if stats_type is not None and processor.type != stats_type:
        raise ProcessorError(
            "processor", f"{processor.name} works on {processor.type} records, not {stats_type}"
        )
    return processor


__all__ = ["PROCESSORS", "REGISTRY", "TYPES", "TYPE_NAMES", "get_processor", "get_type"]
