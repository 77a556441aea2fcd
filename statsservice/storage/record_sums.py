"""Each record's own sums per key, stored in its ``stats`` row: what a selection of some analyses
is summed from, instead of exploding the selected records' JSON at every request.

A record's sums are what exploding it gives (``domain.sums.record_sums`` of the record alone),
minus the records key, for the keys its type keeps (``StatsType.record_sums_match``): per key its
weight and its sums of ``n × m1..m3``. They are written by the statement that writes the record,
so a replacement, a delete, a purge or a client's deletion leaves nothing to bring up to date.

The encoding is chosen for size (a Front Office record's values are counts and two-decimal rates):
``sum_keys`` holds the ``rollup_key`` ids in ascending order; ``sum_n`` the weights, or NULL when
every key weighs the record's ``n`` (always, for a Front Office); each of the three sums is either
``sum_q<i>``, in hundredths as smallints, when every value ``v`` is exactly ``round(100 v) / 100``
in floating point and fits, or ``sum_f<i>`` as floats, or neither when all of them are 0. Reading
``q / 100.0`` gives back the very float that was written (both divisions are correctly rounded).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Float, Select, cast, event, func, inspect, literal_column, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from statsservice.domain.registry import REGISTRY
from statsservice.domain.sums import Key, kept_sums, record_sums
from statsservice.storage.models import Stats

#: the stats columns that hold a record's sums, in the order ``encode`` gives them
COLUMNS = ("sum_keys", "sum_n", "sum_q1", "sum_q2", "sum_q3", "sum_f1", "sum_f2", "sum_f3")
#: the largest hundredths a smallint holds
MAX_SCALED = 32767


def _scaled(values: list[float]) -> list[int] | None:
    """``values`` in exact hundredths, or None if one of them is not."""
    out = []
    for value in values:
        scaled = round(value * 100)
        if abs(scaled) > MAX_SCALED or scaled / 100 != value:
            return None
        out.append(scaled)
    return out


def encode(
    sums: Mapping[Key, Sequence[float]], ids: Mapping[tuple[str, Key], int], stats_type: str, n: float
) -> dict[str, Any]:
    """The stats columns of one record's sums (``[entries, n, s1, s2, s3]`` per key, records key
    excluded), its keys given by their ids (``(type, key)`` to id)."""
    ordered = sorted((ids[(stats_type, key)], values) for key, values in sums.items())
    weights = [values[1] for _id, values in ordered]
    out: dict[str, Any] = {
        "sum_keys": [key_id for key_id, _values in ordered],
        "sum_n": None if all(weight == n for weight in weights) else weights,
    }
    for index in (1, 2, 3):
        values = [float(v[1 + index]) for _id, v in ordered]
        scaled = _scaled(values) if any(values) else None
        out[f"sum_q{index}"] = scaled
        out[f"sum_f{index}"] = values if any(values) and scaled is None else None
    return out


def of_record(stats_type: str, data: Any, n: float, ids: Mapping[tuple[str, Key], int]) -> dict[str, Any]:
    """The stats columns of one record's sums, from its (normalised) data."""
    kind = REGISTRY[stats_type]
    return encode(kept_sums(record_sums(kind, [(data, n)]), kind.record_sums_match), ids, stats_type, n)


@event.listens_for(Session, "before_flush")
def _orm_records(session: Session, _context: object, _instances: object) -> None:
    """Records added or changed through the ORM (scripts, tests) get their sums too; uploads
    write them in their own statement (``storage.stats.upsert_records``)."""
    from statsservice.storage.sums import key_ids

    pending = []
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, Stats):
            continue
        state = inspect(obj)
        changed = any(state.attrs[name].history.has_changes() for name in ("data", "n", "type"))
        if obj.sum_keys is None or (changed and obj not in session.new):
            pending.append(obj)
    if not pending:
        return
    weights = {id(obj): obj.n if obj.n is not None else 1 for obj in pending}
    exploded = {id(obj): _exploded(obj.type, obj.data, weights[id(obj)]) for obj in pending}
    ids = key_ids((obj.type, key) for obj in pending for key in exploded[id(obj)])
    for obj in pending:
        kind = REGISTRY[obj.type]
        sums = kept_sums(exploded[id(obj)], kind.record_sums_match)
        for name, value in encode(sums, ids, obj.type, weights[id(obj)]).items():
            setattr(obj, name, value)


def _exploded(stats_type: str, data: Any, n: float) -> dict[Key, list[float]]:
    """A record's sums; none for data that is not a normalised record of its type (written by
    hand through the ORM: it has no day sums either)."""
    try:
        return record_sums(REGISTRY[stats_type], [(data, n)])
    except (KeyError, TypeError, ValueError, AttributeError):
        return {}


def decode(n: float, row: Sequence[Any]) -> Iterator[tuple[int, float, float, float, float]]:
    """A stored record's sums back, per key: ``(key id, weight, s1, s2, s3)``; ``row`` holds the
    columns of ``COLUMNS`` (the SQLite path sums these in Python)."""
    keys, weights, *parts = row
    count = len(keys or ())
    sums = []
    for index in range(3):
        scaled, floats = parts[index], parts[3 + index]
        if floats is not None:
            sums.append([float(v) for v in floats])
        elif scaled is not None:
            sums.append([v / 100 for v in scaled])
        else:
            sums.append([0.0] * count)
    for position in range(count):
        weight = float(weights[position]) if weights is not None else float(n)
        yield keys[position], weight, sums[0][position], sums[1][position], sums[2][position]


def unnested(filtered: Callable[[Select], Select]) -> Subquery:
    """PostgreSQL: one row per (selected record, key) with ``date, k, n, s1, s2, s3``; ``filtered``
    adds the selection's conditions to a query of ``stats``.

    The arrays are unnested in the select list (a ``ProjectSet``: no per-record materialisation,
    about twice as fast as ``unnest`` in ``FROM``, measured); set-returning functions may not sit
    inside ``COALESCE``, so the weights and sums are completed one level up."""
    s = Stats
    inner = filtered(
        select(
            s.date.label("date"),
            s.n.label("rn"),
            func.unnest(s.sum_keys).label("k"),
            func.unnest(s.sum_n).label("n"),
            *(func.unnest(getattr(s, f"sum_q{i}")).label(f"q{i}") for i in (1, 2, 3)),
            *(func.unnest(getattr(s, f"sum_f{i}")).label(f"f{i}") for i in (1, 2, 3)),
        )
    ).subquery("r")
    r = inner.c
    hundred = literal_column("100.0::float8")
    sums = [
        func.coalesce(r[f"f{i}"], cast(r[f"q{i}"], Float) / hundred, 0.0).label(f"s{i}") for i in (1, 2, 3)
    ]
    return select(r.date, r.k, func.coalesce(r.n, r.rn).label("n"), *sums).subquery("x")


def stored_columns() -> list[Any]:
    return [getattr(Stats, name) for name in COLUMNS]


__all__ = ["COLUMNS", "decode", "encode", "of_record", "stored_columns", "unnested"]
