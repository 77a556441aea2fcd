"""Processors: chart-ready data computed from the sums of rollup rows (SPEC §5).

This package knows no stats type: each type builds its processors with the factories here
(``objects``, ``risks``, ``cartography``, ``compliance``) and ``domain.registry`` gathers them
by name.
"""

from __future__ import annotations

from statsservice.domain.processors.base import (
    PERIODS,
    Aggregate,
    Cell,
    Plan,
    Processor,
    ProcessorError,
    check_period,
)

__all__ = ["PERIODS", "Aggregate", "Cell", "Plan", "Processor", "ProcessorError", "check_period"]
