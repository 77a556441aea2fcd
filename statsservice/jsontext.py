"""The hub's one JSON decoder for text it did not write: request bodies, parameters sent as JSON
text, anything a client controls.

Python's ``json`` lets through what a database or another reader cannot take (NaN, Infinity,
an object naming a key twice) and raises ``RecursionError`` — not ``ValueError`` — on deep
nesting; callers that forget that answer 500. ``decode`` turns every such problem into one
``JsonTextError`` whose reason the HTTP layer sends back as a 400.
"""

from __future__ import annotations

import json
from typing import Any


class JsonTextError(ValueError):
    """Why a JSON text was refused, in words fit for an error answer; ``kind`` is one of
    ``encoding``, ``size``, ``depth``, ``duplicate`` or ``syntax``."""

    def __init__(self, reason: str, kind: str = "syntax"):
        super().__init__(reason)
        self.kind = kind


def _refuse_constant(name: str) -> Any:
    raise JsonTextError(f"{name} is not valid JSON")


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object naming a key twice is refused, not read as "last wins": another reader (a proxy,
    a log tool) could take the first one, and the Front Office never sends such an object."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise JsonTextError(f"duplicate key {json.dumps(key)[:100]} in an object", "duplicate")
            seen.add(key)
    return obj


def decode(raw: bytes | str, *, max_chars: int | None = None) -> Any:
    """Decode strict JSON or raise ``JsonTextError``: not UTF-8, longer than ``max_chars``,
    nested deep enough to exhaust the stack, invalid syntax, NaN/Infinity, integers with
    thousands of digits, duplicate keys."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise JsonTextError("not UTF-8", "encoding") from None
    if max_chars is not None and len(text) > max_chars:
        raise JsonTextError(f"longer than {max_chars} characters", "size")
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_refuse_duplicate_keys)
    except JsonTextError:
        raise
    except RecursionError:  # the C scanner's depth guard: a RecursionError, not a ValueError
        raise JsonTextError("nested too deeply", "depth") from None
    except ValueError as exc:  # JSONDecodeError, integers with too many digits
        raise JsonTextError(f"not valid JSON: {str(exc).splitlines()[0][:200]}") from None
