"""Processed queries: rollup rows summed in SQL per period bucket and key, weighted by ``n``.

Two sources, one result shape (``domain.processors.Aggregate``):

- the whole hub (no client, no analyses selected) reads ``rollup_day``, the rollups already
  summed per day over every analysis, so a year costs 365 rows per key whatever the number of
  analyses. Days marked stale by the triggers on ``stats`` are rebuilt first, a batch of days
  per transaction, each committed (so the work is kept even if the request is cut short);
- a selection of analyses or of one client reads its own ``rollup`` rows through ``stats``.

Nothing here decodes the JSON of a record.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    Integer,
    Select,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from statsservice.domain.processors import Aggregate, Cell, Plan, check_period, get_processor
from statsservice.domain.release import ReleaseRules, majority_label
from statsservice.extensions import db
from statsservice.storage.cells import key_sums, record_sums
from statsservice.storage.models import Client, ClientLabel, Rollup, RollupDay, RollupDayStale, Stats
from statsservice.storage.stats import StatsFilter
from statsservice.storage.stats import _apply as apply_filter

#: days rebuilt per transaction: bounds the work a single request may lose if interrupted
REBUILD_DAYS = 31
#: values per IN (...) list, well under every database's bind-parameter limit
CHUNK = 1000
#: organisations counted for a row of a hub client (an aggregate another hub already released)
RELEASED = 10**9
#: first half of the advisory-lock key that serialises rebuilds of one type (PostgreSQL)
LOCK_CLASS = 0x524F4C4C  # "ROLL"


def run_processor(
    name: str,
    *,
    stats_type: str | None = None,
    params: dict | None = None,
    selection: StatsFilter,
    period: str = "day",
    rules: ReleaseRules | None = None,
) -> Any:
    """Run processor ``name`` over ``selection`` (its ``type`` is the processor's).

    ``rules``: for a whole-hub selection, the release rules every cell must pass (public routes,
    a user's answer without ``anrs``); cells that fail are absent, labels are the majority's.

    Raises ``ProcessorError`` for an unknown processor, one that does not fit ``stats_type``,
    bad ``params`` or an unknown ``period``. A whole-hub selection may first rebuild stale days,
    which commits the session: call it with no pending writes.
    """
    processor = get_processor(name, stats_type)
    options = processor.load_params(params)
    bucket_period = check_period(period) if processor.series else None
    selection = replace(selection, type=processor.type)
    plan = processor.plan(options)
    if selection.client_id is None and not selection.anrs:
        refresh_days(processor.type, selection.date_from, selection.date_to)
        cells, weights = _from_days(selection, bucket_period, plan, rules)
    else:
        cells, weights = _from_rollups(selection, bucket_period, plan)
    labels: dict[str, dict[str, str]] = {}
    if processor.label_type:
        needed = rules.min_clients if rules else 1
        labels = labels_for(processor.label_type, processor.label_keys(cells), selection.client_id, needed)
    return processor.shape(Aggregate(cells=cells, weights=weights, labels=labels), options)


# --- period buckets --------------------------------------------------------------------------


def bucket(column: Any, period: str) -> ColumnElement:
    """The first day of ``column``'s period, as a date (ISO weeks start on Monday)."""
    if period == "day":
        return column
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc(period, cast(column, DateTime)), Date)
    modifiers: dict[str, tuple[Any, ...]] = {
        "week": ("-6 days", "weekday 1"),
        "month": ("start of month",),
        "quarter": (
            "start of month",
            func.printf("-%d months", (cast(func.strftime("%m", column), Integer) - 1) % 3),
        ),
        "year": ("start of year",),
    }
    return func.date(column, *modifiers[period], type_=Date)


# --- aggregation -----------------------------------------------------------------------------

Sums = tuple[list[Cell], dict[date | None, float]]


def _matching(plan: Plan, model: Any) -> list[ColumnElement]:
    return [getattr(model, part).in_(values) for part, values in plan.match.items()]


def _cells(query: Select, has_bucket: bool) -> list[Cell]:
    """Rows ``([bucket], k1..k4, n, s1, s2, s3)`` as cells, read through Core: no ORM row handling
    for what may be tens of thousands of rows."""
    rows = db.session.connection().execute(query).all()
    if not has_bucket:
        rows = ((None, *row) for row in rows)
    return [
        Cell(day, (k1, k2, k3, k4), float(n), (float(s1), float(s2), float(s3)))
        for day, k1, k2, k3, k4, n, s1, s2, s3 in rows
    ]


def _grouped(keys: list[Any], sums: list[Any], period: str | None, day: Any) -> tuple[list, list]:
    """(selected columns, GROUP BY columns): the period bucket first when there is one."""
    if period is not None:
        keys = [bucket(day, period).label("bucket"), *keys]
    return [*keys, *sums], keys


def _record_key(model: Any) -> ColumnElement:
    return and_(model.k1 == "", model.k2 == "", model.k3 == "", model.k4 == "")


def _released(rules: ReleaseRules) -> list[ColumnElement]:
    """WHERE clauses on per-day cells: only the days of a cell that pass the rules are summed, so a
    period cell (a week, a month, a window) is the sum of released day cells and no day can be read
    off it by subtracting the others; a day that fails takes nothing else with it. Rows of hub
    clients hold aggregates already released by their hub."""
    d = RollupDay
    return [
        case((d.local.is_(True), d.clients), else_=RELEASED) >= rules.min_clients,
        d.n >= rules.min_analyses,
        case((d.local.is_(True), d.top), else_=0.0) <= rules.dominance,
    ]


def _from_days(f: StatsFilter, period: str | None, plan: Plan, rules: ReleaseRules | None = None) -> Sums:
    """Whole-hub sums from ``rollup_day``, only of released cells when ``rules`` are given."""
    d = RollupDay
    scope = [d.type == f.type]
    if f.date_from:
        scope.append(d.date >= f.date_from)
    if f.date_to:
        scope.append(d.date <= f.date_to)
    if f.local_only:
        scope.append(d.local.is_(True))
    keys = [d.k1, d.k2, d.k3, d.k4]
    sums = [func.sum(d.n), func.sum(d.s1), func.sum(d.s2), func.sum(d.s3)]
    columns, group = _grouped(keys, sums, period, d.date)
    released = _released(rules) if rules is not None else []
    query = select(*columns).where(*scope, ~_record_key(d), *_matching(plan, d), *released).group_by(*group)
    cells = _cells(query, period is not None)
    weights: dict[date | None, float] = {}
    if plan.record_weights:
        columns, group = _grouped([], [func.sum(d.n)], period, d.date)
        weights = _weights(select(*columns).where(*scope, _record_key(d)).group_by(*group), period)
    return cells, weights


def _from_rollups(f: StatsFilter, period: str | None, plan: Plan) -> Sums:
    """Sums over the rollup rows of the selected records (some analyses, or one client's)."""
    r = Rollup
    keys = [r.k1, r.k2, r.k3, r.k4]
    sums = [func.sum(r.n), func.sum(r.n * r.m1), func.sum(r.n * r.m2), func.sum(r.n * r.m3)]
    columns, group = _grouped(keys, sums, period, Stats.date)
    query = apply_filter(select(*columns).select_from(r).join(Stats, Stats.id == r.stats_id), f)
    cells = _cells(query.where(*_matching(plan, r)).group_by(*group), period is not None)
    weights: dict[date | None, float] = {}
    if plan.record_weights:
        columns, group = _grouped([], [func.sum(Stats.n)], period, Stats.date)
        weights = _weights(apply_filter(select(*columns), f).group_by(*group), period)
    return cells, weights


def _weights(query: Select, period: str | None) -> dict[date | None, float]:
    """Total record weight per bucket (``None``: the whole selection)."""
    out: dict[date | None, float] = {}
    for row in db.session.execute(query):
        bucket_value, total = (row[0], row[1]) if period is not None else (None, row[0])
        if total:
            out[bucket_value] = float(total)
    return out


def labels_for(
    label_type: str,
    keys: Iterable[str],
    client_id: int | None = None,
    needed: int = 1,
    *,
    voters: Sequence[ColumnElement] = (),
) -> dict[str, dict[str, str]]:
    """Labels of ``keys``: one client's own (``client_id``), or else those most clients use,
    kept only when at least ``needed`` clients use them (a hub client's vote counts as released).
    ``voters``: conditions on ``Client`` that a voting client must meet (a push passes the ones
    its values come from)."""
    votes: dict[str, list[dict[str, str]]] = {}
    for chunk in _chunks(sorted(keys), CHUNK):
        query = (
            select(ClientLabel.key, ClientLabel.labels, Client.local)
            .join(Client, Client.id == ClientLabel.client_id)
            .where(ClientLabel.type == label_type, ClientLabel.key.in_(chunk))
        )
        if client_id is not None:
            query = query.where(ClientLabel.client_id == client_id)
        if voters:
            query = query.where(*voters)
        for key, labels, local in db.session.execute(query):
            votes.setdefault(key, []).extend([labels] * (1 if local else max(1, needed)))
    if client_id is not None:
        return {key: found[0] for key, found in votes.items()}
    return {key: label for key, found in votes.items() if (label := majority_label(found, needed))}


# --- keeping rollup_day fresh ----------------------------------------------------------------


def refresh_days(stats_type: str, date_from: date | None = None, date_to: date | None = None) -> int:
    """Rebuild the ``rollup_day`` rows of every stale day of ``stats_type`` in the range.

    Commits the session after each batch of days: the rebuild is kept even if the request is
    cut short, and it is visible to the query that follows. On PostgreSQL an advisory lock makes
    concurrent rebuilds of one type take turns. Returns the number of days rebuilt.
    """
    window = [RollupDayStale.type == stats_type]
    if date_from:
        window.append(RollupDayStale.date >= date_from)
    if date_to:
        window.append(RollupDayStale.date <= date_to)
    if db.session.scalar(select(RollupDayStale.id).where(*window).limit(1)) is None:
        return 0
    session, rebuilt = db.session, 0
    while True:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(select(func.pg_advisory_xact_lock(LOCK_CLASS, func.hashtext(stats_type))))
        days = list(
            session.scalars(
                select(RollupDayStale.date)
                .where(*window)
                .group_by(RollupDayStale.date)
                .order_by(RollupDayStale.date)
                .limit(REBUILD_DAYS)
            )
        )
        if not days:
            session.commit()  # releases the lock
            return rebuilt
        stale = RollupDayStale.type == stats_type, RollupDayStale.date.in_(days)
        marks = list(session.scalars(select(RollupDayStale.id).where(*stale)))
        _rebuild(stats_type, days)
        for chunk in _chunks(marks, CHUNK):
            session.execute(delete(RollupDayStale).where(RollupDayStale.id.in_(chunk)))
        session.commit()
        rebuilt += len(days)


def _rebuild(stats_type: str, days: Sequence[date]) -> None:
    """Replace the ``rollup_day`` rows of ``days`` by sums over the current rollups and records,
    with the organisations behind each key and the largest share one of them holds."""
    d = RollupDay
    records = [Stats.type == stats_type, Stats.date.in_(days)]
    db.session.execute(delete(d).where(d.type == stats_type, d.date.in_(days)))
    group = [Stats.type, Stats.date, Client.local]
    target = [d.type, d.date, d.local, d.k1, d.k2, d.k3, d.k4, d.entries, d.n, d.s1, d.s2, d.s3]
    target += [d.clients, d.top]
    db.session.execute(insert(d).from_select(target, key_sums(group, records)))
    db.session.execute(insert(d).from_select(target, record_sums(group, records)))


def stale_days(stats_type: str | None = None) -> int:
    """How many (type, day) pairs wait for a rebuild (for operators and tests)."""
    query = select(RollupDayStale.type, RollupDayStale.date).distinct()
    if stats_type:
        query = query.where(RollupDayStale.type == stats_type)
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


__all__ = ["bucket", "labels_for", "refresh_days", "run_processor", "stale_days"]
