"""One SQL aggregation of ``client_day`` rows per key, with what the release rules need: the number
of distinct organisations (clients) behind each key and the largest share one of them holds.

Used to keep ``rollup_day`` (whole-hub answers, public routes) and by ``stats_push`` and the map,
so the federation aggregates and the processors share one implementation of the sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.sql.elements import ColumnElement

from statsservice.extensions import db
from statsservice.storage.models import Client, ClientDay, RollupKey


def greatest(*values: ColumnElement) -> ColumnElement:
    """The largest of several values: ``greatest`` on PostgreSQL, multi-argument ``max`` on SQLite."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.greatest(*values)
    return func.max(*values)


def _share(part: ColumnElement, total: ColumnElement) -> ColumnElement:
    return func.coalesce(func.max(part) / func.nullif(func.sum(total), 0.0), 0.0)


def key_sums(group: Sequence[Any], where: Sequence[ColumnElement], *, by_id: bool = False) -> Select:
    """Per ``group`` columns and key: ``entries, n, s1, s2, s3, clients, top``.

    The key is ``key_id`` with ``by_id``, else its parts ``k1..k4``. ``group`` may name
    ``ClientDay`` and ``Client`` columns; ``where`` filters the ``client_day`` rows (joined to their
    client and key). A client's days are summed first, so ``clients`` counts organisations and
    ``top`` is the largest share one client holds of ``s1``, ``s2`` or ``s3`` (0 when a sum is 0):
    the dominance rule compares it with its threshold.
    """
    c, k = ClientDay, RollupKey
    keys = [c.key_id] if by_id else [k.k1, k.k2, k.k3, k.k4]
    per_client = (
        select(
            *group,
            c.client_id,
            *keys,
            func.sum(c.entries).label("entries"),
            func.sum(c.n).label("n"),
            func.sum(c.s1).label("s1"),
            func.sum(c.s2).label("s2"),
            func.sum(c.s3).label("s3"),
        )
        .select_from(c)
        .join(Client, Client.id == c.client_id)
        .join(k, k.id == c.key_id)
        .where(*where)
        .group_by(*group, c.client_id, *keys)
        .subquery()
    )
    p = per_client.c
    outer_group = [p[column.key] for column in group] + [p[column.key] for column in keys]
    top = greatest(_share(p.s1, p.s1), _share(p.s2, p.s2), _share(p.s3, p.s3))
    return select(
        *outer_group,
        func.sum(p.entries),
        func.sum(p.n),
        func.sum(p.s1),
        func.sum(p.s2),
        func.sum(p.s3),
        func.count(),
        top,
    ).group_by(*outer_group)
