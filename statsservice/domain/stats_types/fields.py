"""marshmallow fields tolerant of what PHP emits (decimal strings, ``[]`` for ``{}``, lists for
dense integer-keyed maps) and strict about everything else. They normalise on the way in, so
the rest of the hub sees one shape."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import Schema, ValidationError, fields


class Number(fields.Field):
    """A finite, non-negative number given as a JSON number or a decimal string ("2.50")."""

    def __init__(self, *, integer: bool = False, maximum: float | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.integer, self.maximum = integer, maximum

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float | int:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValidationError("must be a number or a decimal string")
        if isinstance(value, str):
            text = value.strip()
            if not text or len(text) > 40:
                raise ValidationError("must be a number or a decimal string")
            try:
                parsed = Decimal(text)
            except InvalidOperation:
                raise ValidationError(f"not a decimal number: {value[:40]!r}") from None
            if not parsed.is_finite():
                raise ValidationError("must be finite")
            number: float = float(parsed)
        else:
            number = value
        if isinstance(number, float) and not math.isfinite(number):
            raise ValidationError("must be finite")
        if number < 0:
            raise ValidationError("must not be negative")
        if self.maximum is not None and number > self.maximum:
            raise ValidationError(f"must be at most {self.maximum}")
        if self.integer:
            if number != int(number):
                raise ValidationError("must be a whole number")
            return int(number)
        return float(number)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


def Count(**kwargs: Any) -> Number:
    return Number(integer=True, maximum=10**9, **kwargs)


def Weight() -> Number:
    """Element weight ``n``: only federation aggregates carry it (hub clients)."""
    return Number(maximum=10**9, load_default=None)


class Label(fields.String):
    """A knowledge-base label: text up to 1024 characters; null or missing becomes ""."""

    def __init__(self, **kwargs: Any):
        super().__init__(load_default="", allow_none=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if value is None:
            return ""
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > 1024:
            raise ValidationError("must be at most 1024 characters")
        return text


LABEL_FIELDS = ("label1", "label2", "label3", "label4")


def labels_of(item: dict) -> dict[str, str]:
    return {name: item.get(name, "") for name in LABEL_FIELDS}


class IntKeyMap(fields.Field):
    """A map with small non-negative integer keys; PHP may send ``[]`` for ``{}`` or a list for a
    dense 0..n map (index = key; empty entries skipped). Keys are normalised to decimal strings."""

    def __init__(self, values: fields.Field, **kwargs: Any):
        super().__init__(**kwargs)
        self.values = values

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if isinstance(value, list):
            items = [(str(i), v) for i, v in enumerate(value) if v not in ({}, [], None)]
        elif isinstance(value, dict):
            items = list(value.items())
        else:
            raise ValidationError("must be an object (or a list for a dense map)")
        out: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        seen: set[str] = set()
        for key, raw in items:
            skey = str(key).strip()
            if not skey.isdigit() or len(skey) > 6:
                errors[str(key)[:40]] = ["key must be a non-negative integer"]
                continue
            canonical = str(int(skey))
            if canonical in seen:  # "01" and "1" name one cell: refuse rather than drop one value
                errors[str(key)[:40]] = [f"names the same cell ({canonical}) as another key"]
                continue
            seen.add(canonical)
            try:
                out[canonical] = self.values.deserialize(raw)
            except ValidationError as exc:
                errors[skey] = exc.messages
        if errors:
            raise ValidationError(errors)
        return out

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


class NestedMap(fields.Nested):
    """A nested object where PHP may send ``[]`` for an empty one (shared by risks and
    cartography; the compiled validator in ``fast.py`` knows it by this class)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return super()._deserialize({} if value == [] else value, attr, data, **kwargs)


class StrictSchema(Schema):
    """Base of the data schemas: unknown keys are refused, so wrong nesting never passes silently."""

    class Meta:
        unknown = "raise"


class ItemSchema(Schema):
    """Base of list items that carry labels: extra keys a newer Front Office adds are ignored."""

    class Meta:
        unknown = "exclude"


def drop_none_weights(obj: Any) -> Any:
    """Remove ``"n": None`` left by optional weights, so stored data only holds what was sent."""
    if isinstance(obj, dict):
        return {k: drop_none_weights(v) for k, v in obj.items() if not (k == "n" and v is None)}
    if isinstance(obj, list):
        return [drop_none_weights(v) for v in obj]
    return obj


def has_weights(obj: Any) -> bool:
    if isinstance(obj, dict):
        return "n" in obj or any(has_weights(v) for v in obj.values())
    if isinstance(obj, list):
        return any(has_weights(v) for v in obj)
    return False


class UUIDString(fields.UUID):
    """A UUID, normalised to its canonical lower-case string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:  # type: ignore[override]
        return str(super()._deserialize(value, attr, data, **kwargs))


class Labelled(ItemSchema):
    """Items that carry the four knowledge-base labels."""

    label1 = Label()
    label2 = Label()
    label3 = Label()
    label4 = Label()
