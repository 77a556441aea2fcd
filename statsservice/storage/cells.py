"""One SQL aggregation of rollup rows per key, with what the release rules need: the number of
distinct organisations (clients) behind each key and the largest share one of them holds.

Used by the ``rollup_day`` rebuild (whole-hub answers, public routes) and by ``stats_push``, so
the federation aggregates and the processors share one implementation of the sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from statsservice.extensions import db
from statsservice.storage.models import Client, Rollup, Stats


def _greatest(*values: ColumnElement) -> ColumnElement:
    """The largest of several values: ``greatest`` on PostgreSQL, multi-argument ``max`` on SQLite."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.greatest(*values)
    return func.max(*values)


def _share(part: ColumnElement, total: ColumnElement) -> ColumnElement:
    return func.coalesce(func.max(part) / func.nullif(func.sum(total), 0.0), 0.0)


def key_sums(group: Sequence[Any], where: Sequence[ColumnElement]) -> Select:
    """Per ``group`` columns and rollup key: ``entries, n, s1, s2, s3, clients, top``.

    ``group`` may name ``Stats`` and ``Client`` columns; ``where`` filters the rollup rows (joined
    to their record and client). ``top`` is the largest share one client holds of ``s1``, ``s2``
    or ``s3`` (0 when a sum is 0): the dominance rule compares it with its threshold.
    """
    r = Rollup
    keys = [r.k1, r.k2, r.k3, r.k4]
    per_client = (
        select(
            *group,
            Stats.client_id.label("client_id"),
            *keys,
            func.count().label("entries"),
            func.sum(r.n).label("n"),
            func.sum(r.n * r.m1).label("s1"),
            func.sum(r.n * r.m2).label("s2"),
            func.sum(r.n * r.m3).label("s3"),
        )
        .select_from(r)
        .join(Stats, Stats.id == r.stats_id)
        .join(Client, Client.id == Stats.client_id)
        .where(*where)
        .group_by(*group, Stats.client_id, *keys)
        .subquery()
    )
    c = per_client.c
    outer_group = [c[column.key] for column in group] + [c.k1, c.k2, c.k3, c.k4]
    top = _greatest(_share(c.s1, c.s1), _share(c.s2, c.s2), _share(c.s3, c.s3))
    return select(
        *outer_group,
        func.sum(c.entries),
        func.sum(c.n),
        func.sum(c.s1),
        func.sum(c.s2),
        func.sum(c.s3),
        func.count(),
        top,
    ).group_by(*outer_group)


def record_sums(group: Sequence[Any], where: Sequence[ColumnElement]) -> Select:
    """Per ``group``: the records themselves (empty key), with the same columns as ``key_sums``."""
    empty, zero = literal(""), literal(0.0)
    return (
        select(
            *group,
            empty,
            empty,
            empty,
            empty,
            func.count(),
            func.sum(Stats.n),
            zero,
            zero,
            zero,
            func.count(func.distinct(Stats.client_id)),
            zero,
        )
        .select_from(Stats)
        .join(Client, Client.id == Stats.client_id)
        .where(*where)
        .group_by(*group)
    )
