"""What every stats type declares: its data schema, how a record explodes into rollup rows,
which knowledge-base labels it carries, how released key sums assemble into a federation aggregate
(the inverse of exploding), and its processors. Adding a type means one module subclassing ``StatsType`` and one registry line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from marshmallow import Schema, ValidationError

from statsservice.domain.stats_types.fast import FastLoader, FastPathUnsupported
from statsservice.domain.stats_types.fields import drop_none_weights
from statsservice.domain.stats_types.sql import JsonSql

if TYPE_CHECKING:
    from statsservice.domain.processors import Processor


@dataclass(frozen=True, slots=True)
class RollupRow:
    """One narrow row: key parts ``k1..k4``, numbers ``m1..m3`` and weight ``n``."""

    k1: str = ""
    k2: str = ""
    k3: str = ""
    k4: str = ""
    m1: float = 0.0
    m2: float = 0.0
    m3: float = 0.0
    n: float = 1.0


@dataclass(frozen=True, slots=True)
class KeySums:
    """Sums over the rollup rows of one key (what ``explode`` produced): weight ``n`` and the
    sums of ``n × m1..m3``; the input of ``assemble``."""

    key: tuple[str, str, str, str]
    n: float
    sums: tuple[float, float, float]

    def mean(self, index: int) -> float:
        return self.sums[index] / self.n if self.n else 0.0


@dataclass(frozen=True, slots=True)
class LabelEntry:
    key: str
    labels: dict[str, str]


@dataclass
class StatsType:
    """Base class; subclasses set ``name`` and ``schema`` and implement ``explode``."""

    name: ClassVar[str]
    schema: ClassVar[type[Schema]]
    #: True when the schema's top level is a list of items rather than an object
    many: ClassVar[bool] = False
    #: True when its records carry knowledge-base labels (``labels`` yields them)
    labelled: ClassVar[bool] = False
    #: what ``/stats/processed/`` can compute from this type's rollups (``domain.processors``)
    processors: ClassVar[tuple[Processor, ...]] = ()
    #: which keys a record's own stored sums keep (``{}``: all of them): a selection of analyses is
    #: summed from those; a processor whose plan asks for other keys explodes the records' JSON
    record_sums_match: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    @cached_property
    def _schema(self) -> Schema:
        """One schema instance per type, reused: building one (and its nested schemas) costs more
        than loading a record with it."""
        return self.schema()

    @cached_property
    def _fast(self) -> FastLoader | None:
        """The compiled validator derived from ``schema`` (``fast.py``); None if it cannot be."""
        try:
            return FastLoader(self.schema, many=self.many)
        except FastPathUnsupported:
            return None

    def load(self, data: Any) -> Any:
        """Validate and normalise a record's ``data``; raises ``ValidationError``.

        The compiled fast path answers for the data it can decide; anything else goes through
        the marshmallow schema, which gives the same result and words every error.
        """
        fast = self._fast
        loaded = fast.load(data) if fast is not None else None
        return self.check(loaded if loaded is not None else self._load_with_schema(data))

    def load_marshmallow(self, data: Any) -> Any:
        """``load`` through the marshmallow schema only: the reference the fast path must match."""
        return self.check(self._load_with_schema(data))

    def _load_with_schema(self, data: Any) -> Any:
        if self.many:
            if not isinstance(data, list):
                raise ValidationError({"_schema": ["must be a list"]})
            loaded = self._schema.load(data, many=True)
        else:
            if isinstance(data, list) and not data:
                data = {}  # PHP's empty map
            if not isinstance(data, dict):
                raise ValidationError({"_schema": ["must be an object"]})
            loaded = self._schema.load(data)
        return drop_none_weights(loaded)

    def check(self, loaded: Any) -> Any:
        """Rules across a loaded record's items (duplicates...); raises ``ValidationError``."""
        return loaded

    def explode(
        self, data: Any, n: float, match: Mapping[str, tuple[str, ...]] | None = None
    ) -> Iterable[RollupRow]:
        """Narrow rows for one normalised record of weight ``n`` (1 for a client upload).

        ``match`` is a hint from a query that keeps only rows whose key parts take those values
        (``{"k3": ("",)}``): a type may skip building the others (callers filter anyway)."""
        raise NotImplementedError

    def explode_sql(self, j: JsonSql, match: Mapping[str, tuple[str, ...]] | None = None) -> str | None:
        """``explode`` in SQL (``sql.py``): one SELECT over the CTE ``rec`` yielding the columns of
        ``sql.EXPLODED``, the same rows ``explode`` gives; ``match`` is the same hint. None (the
        default) answers selections with ``explode`` in Python: a new type needs only that."""
        return None

    def labels(self, data: Any) -> Iterable[LabelEntry]:
        """Knowledge-base labels carried by a record (latest upload wins)."""
        return ()

    def assemble(self, cells: Sequence[KeySums], weight: float, labels: dict[str, dict[str, str]]) -> Any:
        """The federation aggregate of released key sums over records of total ``weight``: the
        inverse of ``explode`` (exploding it with weight ``weight`` gives the same sums)."""
        raise NotImplementedError
