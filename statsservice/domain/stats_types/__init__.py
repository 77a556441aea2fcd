"""Stats types: one module per type (schema, explode, assemble, processors) on the base of
``base.py``. They are gathered by name in ``domain.registry``."""

from __future__ import annotations

from statsservice.domain.stats_types.base import KeySums, LabelEntry, RollupRow, StatsType

__all__ = ["KeySums", "LabelEntry", "RollupRow", "StatsType"]
