"""A compiled fast path for record data, derived from each type's marshmallow schema.

Profiling showed marshmallow validating nested compliance records in ~60% of an upload's CPU.
``compile_schema`` walks a data schema once and builds ``msgspec`` structs for it (the C
validator checks shapes, types, bounds, string lengths and patterns) plus a small "finisher" that
turns the structs into exactly the dicts the schema's ``load`` returns (decimal strings to
numbers, load defaults, ``[]`` for ``{}``, dense lists for integer-keyed maps, ``@validates_schema``
hooks, weights ``n: None`` dropped).

The fast path accepts a *subset* of what the schema accepts: whatever it cannot decide cheaply
(a non-canonical uuid or map key, a padded decimal string, ``3.0`` for a count...) it rejects,
and ``StatsType.load`` then asks marshmallow, which gives the answer and the error messages the
hub always gave. So the schema stays the one declaration per type, and error texts never change.
A field kind this module does not know makes the whole type fall back (``FastPathUnsupported``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from marshmallow import RAISE, Schema, ValidationError, fields, validate
from marshmallow.utils import missing
from msgspec import UNSET, Meta, UnsetType

from statsservice.domain.stats_types.fields import IntKeyMap, Label, Number, UUIDString

#: canonical lower-case uuid, the only spelling the fast path takes (marshmallow takes more)
UUID_PATTERN = r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
#: plain decimal strings: ``float(s)`` equals marshmallow's ``float(Decimal(s))`` for these
DECIMAL_PATTERN = r"\A[0-9]{1,20}(\.[0-9]{1,19})?\Z"
INTEGER_PATTERN = r"\A[0-9]{1,12}\Z"
#: canonical map keys: what ``IntKeyMap`` normalises to, so the fast path never has to
MAP_KEY_PATTERN = r"\A(0|[1-9][0-9]{0,5})\Z"
MAX_DENSE = 10**6  # a dense list's last index must fit IntKeyMap's six digits

Finish = Callable[[Any], Any] | None


class FastPathUnsupported(Exception):
    """The schema uses something the compiler does not translate: the type keeps marshmallow only."""


class Rejected(Exception):
    """The fast path cannot accept this value; marshmallow decides (and words the error)."""


@dataclass(frozen=True)
class _Compiled:
    """One field: its msgspec type and how to turn the converted value into the loaded one."""

    type: Any
    finish: Finish = None


def _number(field: Number) -> _Compiled:
    maximum = field.maximum
    bounds = Meta(ge=0) if maximum is None else Meta(ge=0, le=maximum)
    if field.integer:
        text = Annotated[str, Meta(pattern=INTEGER_PATTERN)]

        def finish_int(value: Any) -> Any:
            if value.__class__ is str:
                value = int(value)
                if maximum is not None and value > maximum:
                    raise Rejected
            return value

        return _Compiled(Annotated[int, bounds] | text, finish_int)
    text = Annotated[str, Meta(pattern=DECIMAL_PATTERN)]

    def finish_float(value: Any) -> Any:
        if value.__class__ is str:
            value = float(value)
            if maximum is not None and value > maximum:
                raise Rejected
        return value

    return _Compiled(Annotated[float, bounds] | text, finish_float)


def _string(field: fields.String) -> _Compiled:
    """A plain string with ``Length`` or ``OneOf`` validators (``Label`` adds its 1024 limit)."""
    meta: dict[str, int] = {}
    choices: tuple[str, ...] | None = None
    for validator in field.validators:
        if type(validator) is validate.Length and validator.equal is None:
            if validator.min is not None:
                meta["min_length"] = validator.min
            if validator.max is not None:
                meta["max_length"] = validator.max
        elif type(validator) is validate.OneOf and all(isinstance(c, str) for c in validator.choices):
            choices = tuple(validator.choices)
        else:
            raise FastPathUnsupported(f"validator {validator!r}")
    if type(field) is Label:
        meta["max_length"] = min(meta.get("max_length", 1024), 1024)
    if choices is not None:  # a Length next to OneOf: keep the choices it lets through
        low, high = meta.get("min_length", 0), meta.get("max_length", 2**31)
        allowed = tuple(c for c in choices if low <= len(c) <= high)
        if not allowed:
            raise FastPathUnsupported("no choice passes the length validator")
        return _Compiled(Literal[allowed])  # type: ignore[valid-type]
    return _Compiled(Annotated[str, Meta(**meta)] if meta else str)


def _int_key_map(field: IntKeyMap, path: str) -> _Compiled:
    values = _field(field.values, f"{path}.values")
    key = Annotated[str, Meta(pattern=MAP_KEY_PATTERN)]
    inner, finish_value = values.type, values.finish

    def finish_map(value: Any) -> dict[str, Any]:
        if value.__class__ is dict:
            if finish_value is None:
                return value
            return {k: finish_value(v) for k, v in value.items()}
        # a dense list: index = key, IntKeyMap skips None, {} and [] entries
        return {
            str(i): (v if finish_value is None else finish_value(v))
            for i, v in enumerate(value)
            if v is not None and not (v.__class__ in (dict, list) and not v)
        }

    return _Compiled(dict[key, inner] | Annotated[list[inner | None], Meta(max_length=MAX_DENSE)], finish_map)


def _nested(field: fields.Nested, path: str, *, empty_list_is_empty_map: bool) -> _Compiled:
    if field.many or field.only or field.exclude or field.unknown is not None:
        raise FastPathUnsupported(f"{path}: Nested options")
    schema = field.nested
    if not (isinstance(schema, type) and issubclass(schema, Schema)):
        raise FastPathUnsupported(f"{path}: nested {schema!r}")
    compiled = compile_schema(schema)
    if not empty_list_is_empty_map:
        return _Compiled(compiled.struct, compiled.finish)

    def finish_tree(value: Any) -> Any:
        if value.__class__ is list:  # PHP's empty map: load {} through the nested schema
            try:
                value = msgspec.convert({}, compiled.struct)
            except msgspec.ValidationError:
                raise Rejected from None
        return compiled.finish(value)

    return _Compiled(compiled.struct | Annotated[list[Any], Meta(max_length=0)], finish_tree)


def _field(field: fields.Field, path: str) -> _Compiled:
    """The msgspec translation of one marshmallow field; exact classes only, no subclass guesses."""
    from statsservice.domain.stats_types.risk import _Tree  # risk imports this package's base

    if field.data_key is not None or field.attribute is not None or field.pre_load or field.post_load:
        raise FastPathUnsupported(f"{path}: data_key, attribute or field hooks")
    kind = type(field)
    if kind is not fields.String and kind is not Label and field.validators:
        raise FastPathUnsupported(f"{path}: validators on {kind.__name__}")
    if kind is Number:
        compiled = _number(field)  # type: ignore[arg-type]
    elif kind is fields.String or kind is Label:
        compiled = _string(field)  # type: ignore[arg-type]
    elif kind is UUIDString:
        compiled = _Compiled(Annotated[str, Meta(pattern=UUID_PATTERN)])
    elif kind is IntKeyMap:
        compiled = _int_key_map(field, path)  # type: ignore[arg-type]
    elif kind is fields.List:
        inner = _field(field.inner, f"{path}.inner")  # type: ignore[attr-defined]
        finish_item = inner.finish
        compiled = _Compiled(
            list[inner.type],  # type: ignore[name-defined]
            None if finish_item is None else (lambda value: [finish_item(v) for v in value]),
        )
    elif kind is fields.Nested or kind is _Tree:
        compiled = _nested(field, path, empty_list_is_empty_map=kind is _Tree)  # type: ignore[arg-type]
    else:
        raise FastPathUnsupported(f"{path}: field {kind.__name__}")
    if field.allow_none:
        compiled = _Compiled(compiled.type | None, _none_passes(compiled.finish))
    return compiled


def _none_passes(finish: Finish) -> Finish:
    if finish is None:
        return None
    return lambda value: None if value is None else finish(value)


@dataclass(frozen=True)
class CompiledSchema:
    """A schema's struct type and the function turning one of its structs into the loaded dict."""

    struct: type[msgspec.Struct]
    finish: Callable[[msgspec.Struct], dict[str, Any]]


_CACHE: dict[type[Schema], CompiledSchema] = {}


def compile_schema(schema_class: type[Schema]) -> CompiledSchema:
    """Translate a data schema (and its nested schemas) once; raises ``FastPathUnsupported``."""
    if schema_class in _CACHE:
        return _CACHE[schema_class]
    schema = schema_class()
    unknown = schema.unknown
    if unknown not in (RAISE, "exclude"):
        raise FastPathUnsupported(f"{schema_class.__name__}: unknown={unknown}")
    hooks = []
    for tag, entries in schema._hooks.items():
        if tag != "validates_schema":
            raise FastPathUnsupported(f"{schema_class.__name__}: {tag} hook")
        for name, pass_collection, options in entries:
            if pass_collection or options.get("pass_original"):
                raise FastPathUnsupported(f"{schema_class.__name__}: hook {name} options")
            hooks.append(getattr(schema, name))
    struct_fields: list[tuple[str, Any, Any]] = []
    plans: list[tuple[str, Finish, Callable[[], Any] | None, bool]] = []
    for name, field in schema.load_fields.items():
        compiled = _field(field, f"{schema_class.__name__}.{name}")
        if field.required:
            struct_fields.append((name, compiled.type, msgspec.NODEFAULT))
            plans.append((name, compiled.finish, None, False))
            continue
        struct_fields.append((name, compiled.type | UnsetType, UNSET))
        default = field.load_default
        if default is missing:
            plans.append((name, compiled.finish, None, True))
        else:
            plans.append((name, compiled.finish, default if callable(default) else (lambda d=default: d), False))
    struct = msgspec.defstruct(
        f"Fast{schema_class.__name__}",
        struct_fields,
        forbid_unknown_fields=unknown == RAISE,
        kw_only=True,
    )
    # marshmallow loads a field missing from the input to its raw default, unvalidated
    drops_weight = any(name == "n" for name, *_ in plans)
    astuple = msgspec.structs.astuple

    def finish(value: msgspec.Struct) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for (name, finish_value, default, omit), item in zip(plans, astuple(value), strict=True):
            if item is UNSET:
                if omit:
                    continue
                out[name] = default()  # type: ignore[misc]
            elif finish_value is None:
                out[name] = item
            else:
                out[name] = finish_value(item)
        for hook in hooks:
            hook(out, partial=None, many=False, unknown=unknown)
        if drops_weight and "n" in out and out["n"] is None:
            del out["n"]  # what drop_none_weights does to the marshmallow result
        return out

    compiled = CompiledSchema(struct, finish)
    _CACHE[schema_class] = compiled
    return compiled


class FastLoader:
    """``StatsType.load`` without marshmallow for the data it can decide; ``None`` otherwise."""

    def __init__(self, schema_class: type[Schema], *, many: bool):
        self.compiled = compile_schema(schema_class)
        self.many = many
        self.type: Any = list[self.compiled.struct] if many else self.compiled.struct  # type: ignore[name-defined]

    def load(self, data: Any) -> Any:
        """The normalised data, or ``None`` when marshmallow has to decide."""
        if not self.many and data.__class__ is list and not data:
            data = {}  # PHP's empty map
        try:
            converted = msgspec.convert(data, self.type)
            finish = self.compiled.finish
            return [finish(item) for item in converted] if self.many else finish(converted)
        except (msgspec.ValidationError, Rejected, ValidationError):
            return None
