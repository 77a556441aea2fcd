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
from keyword import iskeyword
from typing import Annotated, Any, Literal

import msgspec
from marshmallow import RAISE, Schema, ValidationError, fields, validate
from marshmallow.utils import missing
from msgspec import UNSET, Meta, UnsetType

from statsservice.domain.stats_types.fields import IntKeyMap, Label, NestedMap, Number, UUIDString

#: canonical lower-case uuid, the only spelling the fast path takes (marshmallow takes more)
UUID_PATTERN = r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
MAX_NUMBER_TEXT = 40  # Number refuses longer decimal strings
PARSED_CACHE = 4096  # decimal strings remembered per field (a few dozen in practice)
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
    #: values of this class need no finishing (spares a call per JSON number)
    ready: type | None = None
    #: for a list: ``finish`` applies to each item
    each: bool = False


def _number(field: Number) -> _Compiled:
    """JSON numbers are bounded by msgspec; decimal strings are parsed here.

    A string made of ASCII digits and at most one dot is read by ``float`` exactly as
    ``Number`` reads it (``float(Decimal(s))``: both round correctly); any other spelling
    marshmallow may accept ("1e3", " 2.5", "1_0") is left to marshmallow.
    """
    maximum = field.maximum
    bounds = Meta(ge=0) if maximum is None else Meta(ge=0, le=maximum)
    text = Annotated[str, Meta(min_length=1, max_length=MAX_NUMBER_TEXT)]
    # the same few decimal strings ("0.45", "1") fill every compliance record: remember them
    parsed: dict[str, float | int] = {}
    if field.integer:

        def finish_int(value: Any) -> Any:
            if value.__class__ is str:
                hit = parsed.get(value)
                if hit is not None:
                    return hit
                if not (value.isascii() and value.isdigit()):
                    raise Rejected
                number = int(value)
                if maximum is not None and number > maximum:
                    raise Rejected
                if len(parsed) < PARSED_CACHE:
                    parsed[value] = number
                return number
            return value

        return _Compiled(Annotated[int, bounds] | text, finish_int, ready=int)

    def finish_float(value: Any) -> Any:
        if value.__class__ is str:
            hit = parsed.get(value)
            if hit is not None:
                return hit
            if not (value.isascii() and value.replace(".", "", 1).isdigit()):
                raise Rejected
            number = float(value)
            if maximum is not None and number > maximum:
                raise Rejected
            if len(parsed) < PARSED_CACHE:
                parsed[value] = number
            return number
        return value

    return _Compiled(Annotated[float, bounds] | text, finish_float, ready=float)


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
    inner, finish_value = values.type, _finisher(values)

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
        compiled = _Compiled(list[inner.type], _finisher(inner), each=inner.finish is not None)  # type: ignore[name-defined]
    elif kind is fields.Nested or kind is NestedMap:
        compiled = _nested(field, path, empty_list_is_empty_map=kind is NestedMap)  # type: ignore[arg-type]
    else:
        raise FastPathUnsupported(f"{path}: field {kind.__name__}")
    if field.allow_none:
        finish = compiled.finish
        compiled = _Compiled(
            compiled.type | None,
            None if finish is None else (lambda value: None if value is None else finish(value)),
            ready=compiled.ready,
            each=compiled.each,
        )
    return compiled


def _finisher(compiled: _Compiled) -> Finish:
    """One callable doing what ``compiled`` asks (the generated code inlines the cheap cases)."""
    finish, ready = compiled.finish, compiled.ready
    if finish is None or ready is None:
        return finish
    return lambda value: value if value.__class__ is ready else finish(value)


@dataclass(frozen=True)
class CompiledSchema:
    """A schema's struct type and the function turning one of its structs into the loaded dict."""

    struct: type[msgspec.Struct]
    finish: Callable[[msgspec.Struct], dict[str, Any]]


_CACHE: dict[type[Schema], CompiledSchema] = {}


@dataclass(frozen=True)
class _Plan:
    """How one schema field reaches the loaded dict."""

    name: str
    compiled: _Compiled
    default: Callable[[], Any] | None = None  # None and not required: omitted when missing
    required: bool = False


def _value_code(index: int, plan: _Plan, var: str) -> str:
    compiled = plan.compiled
    if compiled.finish is None:
        return var
    if compiled.each:
        return f"[f{index}(x) for x in {var}]"
    if compiled.ready is not None:
        return f"({var} if {var}.__class__ is r{index} else f{index}({var}))"
    return f"f{index}({var})"


def _generate_finish(
    name: str, plans: list[_Plan], hooks: list[Callable[..., Any]], unknown: str
) -> Callable[[msgspec.Struct], dict[str, Any]]:
    """Generated straight-line code (no loop over fields): the finisher runs for every item
    of every record, and a generic loop cost as much as the C validation itself."""
    namespace: dict[str, Any] = {"UNSET": UNSET, "unknown": unknown}
    lines = ["def finish(s):", "    out = {}"]
    for index, plan in enumerate(plans):
        namespace[f"f{index}"] = plan.compiled.finish
        namespace[f"r{index}"] = plan.compiled.ready
        namespace[f"d{index}"] = plan.default
        key = repr(plan.name)
        if plan.required:
            lines.append(f"    out[{key}] = {_value_code(index, plan, 's.' + plan.name)}")
            continue
        lines += [f"    v = s.{plan.name}", "    if v is not UNSET:"]
        lines.append(f"        out[{key}] = {_value_code(index, plan, 'v')}")
        if plan.default is not None:
            lines += ["    else:", f"        out[{key}] = d{index}()"]
    for index, hook in enumerate(hooks):
        namespace[f"h{index}"] = hook
        lines.append(f"    h{index}(out, partial=None, many=False, unknown=unknown)")
    if any(plan.name == "n" for plan in plans):  # what drop_none_weights does to marshmallow's
        lines += ['    if "n" in out and out["n"] is None:', '        del out["n"]']
    lines.append("    return out")
    exec(compile("\n".join(lines), f"<fast finish {name}>", "exec"), namespace)
    return namespace["finish"]


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
    plans: list[_Plan] = []
    for name, field in schema.load_fields.items():
        if not name.isidentifier() or iskeyword(name) or name.startswith("_"):
            raise FastPathUnsupported(f"{schema_class.__name__}.{name}: not a struct attribute name")
        compiled = _field(field, f"{schema_class.__name__}.{name}")
        if field.required:
            struct_fields.append((name, compiled.type, msgspec.NODEFAULT))
            plans.append(_Plan(name, compiled, required=True))
            continue
        struct_fields.append((name, compiled.type | UnsetType, UNSET))
        default = field.load_default
        # marshmallow loads a missing field to its raw default, unvalidated; none: key left out
        if default is missing:
            plans.append(_Plan(name, compiled))
        else:
            plans.append(_Plan(name, compiled, default if callable(default) else (lambda d=default: d)))
    struct = msgspec.defstruct(
        f"Fast{schema_class.__name__}",
        struct_fields,
        forbid_unknown_fields=unknown == RAISE,
        kw_only=True,
    )
    finish = _generate_finish(schema_class.__name__, plans, hooks, unknown)
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
