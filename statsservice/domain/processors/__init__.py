"""Processors: chart-ready data computed from the sums of rollup rows (SPEC §5).

Each stats type declares its processors (``StatsType.processors``, built with the factories of
this package); ``PROCESSORS`` gathers them by name. It is built on first use because the stats
type modules import this package: importing the registry of types here would be circular.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from statsservice.domain.processors.base import (
    PERIODS,
    Aggregate,
    Cell,
    Plan,
    Processor,
    ProcessorError,
)

if TYPE_CHECKING:
    PROCESSORS: dict[str, Processor]


def _collect() -> dict[str, Processor]:
    from statsservice.domain.stats_types import REGISTRY

    found: dict[str, Processor] = {}
    for stats_type in REGISTRY.values():
        for processor in stats_type.processors:
            if processor.name in found or processor.type != stats_type.name:
                raise RuntimeError(f"processor {processor.name} declared twice or on the wrong type")
            found[processor.name] = processor
    return found


def __getattr__(name: str) -> Any:
    if name == "PROCESSORS":
        registry = _collect()
        globals()["PROCESSORS"] = registry
        return registry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_processor(name: Any, stats_type: Any = None) -> Processor:
    """The processor called ``name``, checked against the requested ``stats_type`` if any."""
    from statsservice.domain.stats_types import REGISTRY

    registry: dict[str, Processor] = globals().get("PROCESSORS") or __getattr__("PROCESSORS")
    if stats_type is not None and stats_type not in REGISTRY:
        raise ProcessorError("type", f"unknown stats type; accepted: {', '.join(REGISTRY)}")
    processor = registry.get(name) if isinstance(name, str) else None
    if processor is None:
        fitting = [p.name for p in registry.values() if stats_type in (None, p.type)]
        raise ProcessorError("processor", f"unknown processor; accepted: {', '.join(fitting)}")
    if stats_type is not None and processor.type != stats_type:
        raise ProcessorError(
            "processor", f"{processor.name} works on {processor.type} records, not {stats_type}"
        )
    return processor


def check_period(period: Any) -> str:
    if period not in PERIODS:
        raise ProcessorError("aggregation_period", f"must be one of {', '.join(PERIODS)}")
    return period


__all__ = [
    "PERIODS",
    "PROCESSORS",
    "Aggregate",
    "Cell",
    "Plan",
    "Processor",
    "ProcessorError",
    "check_period",
    "get_processor",
]
