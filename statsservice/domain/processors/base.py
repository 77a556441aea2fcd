"""What a processor is: a name, the stats type it reads, its validated parameters, what it needs
aggregated, and how it turns those sums into chart-ready data.

Processors never see records. The storage layer sums rollup rows per period bucket and key in
SQL (``Cell``: weight ``n`` and the weighted sums of ``m1..m3``) and hands them over in an
``Aggregate``; a processor only divides and arranges. That keeps every request proportional to
the size of its answer and the arithmetic in one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from operator import itemgetter
from typing import Any, NamedTuple

import marshmallow as ma

#: aggregation periods; a bucket is labelled with the first day of its period (weeks start Monday)
PERIODS: tuple[str, ...] = ("day", "week", "month", "quarter", "year")

Key = tuple[str, str, str, str]


class ProcessorError(ValueError):
    """A processor request that cannot be answered: unknown name, wrong type, bad parameters.

    ``field`` names the offending request parameter (``processor``, ``type``,
    ``processor_params.risks_type``...), ``message`` says why; the API answers 400 with both.
    """

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def check_period(period: Any) -> str:
    if period not in PERIODS:
        raise ProcessorError("aggregation_period", f"must be one of {', '.join(PERIODS)}")
    return period


class Cell(NamedTuple):
    """Sums over the rollup rows of one key in one bucket (``bucket`` None: the whole selection).

    A named tuple: a year of daily buckets is tens of thousands of them per request."""

    bucket: date | None
    key: Key
    n: float
    sums: tuple[float, float, float]

    def mean(self, index: int) -> float:
        """Weighted mean of ``m{index + 1}`` over the rows that carry this key."""
        return self.sums[index] / self.n


#: sort key of cells in date order (``itemgetter``: no Python call per cell of a year)
by_bucket = itemgetter(0)


@dataclass(frozen=True, slots=True)
class Aggregate:
    """What the storage layer computed for one processor request.

    ``weights``: total weight of the selected records per bucket (only when the processor asks
    for it): the denominator of means where an element a record does not report counts as 0.
    ``labels``: knowledge-base labels of the keys the processor asked for.
    """

    cells: list[Cell]
    weights: dict[date | None, float] = field(default_factory=dict)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to aggregate: key parts restricted to some values (``{"k1": ("current",)}``) and
    whether the per-bucket record weights are needed."""

    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    record_weights: bool = False


class NoParams(ma.Schema):
    """Processors without parameters: any parameter is refused."""

    class Meta:
        unknown = ma.RAISE


def _no_labels(cells: list[Cell]) -> Iterable[str]:
    return ()


@dataclass(frozen=True)
class Processor:
    """One processor. ``series``: one value per aggregation period (dates ascending); otherwise
    one value over the whole selection and ``aggregation_period`` does not apply."""

    name: str
    type: str
    description: str
    shape: Callable[[Aggregate, dict[str, Any]], Any]
    params: type[ma.Schema] = NoParams
    series: bool = False
    plan: Callable[[dict[str, Any]], Plan] = field(default=lambda options: Plan())
    label_keys: Callable[[list[Cell]], Iterable[str]] = _no_labels
    label_type: str = ""

    def load_params(self, params: Mapping[str, Any] | list | None) -> dict[str, Any]:
        """Validated options; ``ProcessorError`` on the first bad or unknown parameter.

        PHP sends an empty map as ``[]``, so an empty list means no parameters.
        """
        if params is None or params == []:
            params = {}
        if not isinstance(params, Mapping):
            raise ProcessorError("processor_params", "must be an object")
        try:
            return self.params().load(dict(params))
        except ma.ValidationError as exc:
            messages = exc.normalized_messages()
            name = sorted(messages)[0]
            reason = messages[name]
            while isinstance(reason, dict):  # nested field errors: report the first leaf
                inner = sorted(reason)[0]
                name, reason = f"{name}.{inner}", reason[inner]
            text = "; ".join(map(str, reason)) if isinstance(reason, list) else str(reason)
            if text == "Unknown field.":
                text = f"unknown parameter for {self.name}; accepted: {', '.join(self.param_names) or 'none'}"
            raise ProcessorError(f"processor_params.{name}", text) from None

    @property
    def param_names(self) -> list[str]:
        return sorted(self.params().fields)

    def describe_params(self) -> dict[str, str]:
        """Each accepted parameter with its description (for ``/stats/processed/list``)."""
        return {
            name: str(f.metadata.get("description", "")) for name, f in sorted(self.params().fields.items())
        }


class Choices(ma.fields.Field):
    """A subset of ``options`` given as a comma-separated string or a JSON list; kept in the
    order of ``options``. Empty means every option."""

    def __init__(self, options: tuple[str, ...], **kwargs: Any):
        kwargs.setdefault("load_default", options)
        super().__init__(**kwargs)
        self.options = options

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",")]
        elif isinstance(value, list) and all(isinstance(part, str) for part in value):
            parts = [part.strip() for part in value]
        else:
            raise ma.ValidationError("must be a string (comma-separated) or a list of strings")
        parts = [part for part in parts if part]
        unknown = sorted(set(parts) - set(self.options))
        if unknown:
            raise ma.ValidationError(
                f"unknown value {unknown[0][:40]!r}; accepted: {', '.join(self.options)}"
            )
        return tuple(option for option in self.options if option in parts) or self.options

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return ",".join(value)


class Flag(ma.fields.Boolean):
    """The hub's one yes/no field: JSON ``true``/``false`` or those as strings (a query string);
    ``0``/``1`` too unless ``numbers=False`` (the Front Office sends them in processor parameters,
    while the client API wants JSON booleans: in Python ``1 == True``, not in JSON)."""

    truthy = {True, "1", "true", "True"}
    falsy = {False, "0", "false", "False"}

    def __init__(self, *, numbers: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.numbers = numbers

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        accepted = (bool, int, str) if self.numbers else (bool, str)
        if isinstance(value, float) or not isinstance(value, accepted):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


@lru_cache(maxsize=4096)
def iso(day: date | None) -> str:
    """A bucket's date as the answers spell it, cached: a year of cells shares 365 dates."""
    return day.isoformat() if day else ""


def natural_key(text: str) -> tuple:
    """Sort "1.10" after "1.9" and "category 10" after "category 2"."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))
