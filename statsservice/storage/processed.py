"""Processed queries: sums per period bucket and key, weighted by ``n``, in one result shape
(``domain.processors.Aggregate``) from two sources:

- the whole hub (no client, no analyses selected) reads ``rollup_day``, the public day sums: this
  hub's fixed releases and the aggregates other hubs released (``storage.release``), never live
  data; a year costs 365 rows per key whatever the number of analyses;
- a selection of analyses reads maintained sums as well: when it holds every analysis the client
  has in the window (a Front Office's CEO sees them all), the client's own day sums
  (``client_day``); otherwise the selected records' own sums, stored in their rows
  (``storage.record_sums``) and summed in SQL. Only a plan asking for keys the records' sums do not
  keep (compliance controls) explodes the records' JSON (``StatsType.explode_sql``).

Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Date,
    DateTime,
    Integer,
    Select,
    String,
    and_,
    any_,
    bindparam,
    cast,
    column,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from statsservice.domain.dates import period_start
from statsservice.domain.processors import Aggregate, Cell, Plan, check_period
from statsservice.domain.registry import REGISTRY, get_processor
from statsservice.domain.release import majority_label
from statsservice.domain.stats_types.sql import EXPLODED, JsonSql
from statsservice.domain.sums import RECORDS, Key, covers, selection_cells
from statsservice.extensions import db
from statsservice.storage import record_sums
from statsservice.storage.models import Client, ClientDay, ClientLabel, RollupDay, RollupKey, Stats
from statsservice.storage.release import public_labels
from statsservice.storage.stats import StatsFilter
from statsservice.storage.stats import _apply as apply_filter
from statsservice.storage.sums import chunks


def run_processor(
    name: str,
    *,
    stats_type: str | None = None,
    params: dict | None = None,
    selection: StatsFilter,
    period: str = "day",
) -> Any:
    """Run processor ``name`` over ``selection`` (its ``type`` is the processor's).

    A selection without client and analyses is the whole hub: only released data (public
    routes, a user's answer without ``anrs``), with the released labels.

    Raises ``ProcessorError`` for an unknown processor, one that does not fit ``stats_type``,
    bad ``params`` or an unknown ``period``.
    """
    processor = get_processor(name, stats_type)
    options = processor.load_params(params)
    bucket_period = check_period(period) if processor.series else None
    selection = replace(selection, type=processor.type)
    plan = processor.plan(options)
    whole_hub = not selection.anrs and selection.client_id is None
    if whole_hub:
        cells, weights = _from_days(selection, bucket_period, plan)
    else:
        cells, weights = _from_records(selection, bucket_period, plan)
    labels: dict[str, dict[str, str]] = {}
    if processor.label_type:
        keys = processor.label_keys(cells)
        if whole_hub:
            labels = public_labels(processor.label_type, keys)
        else:
            labels = labels_for(processor.label_type, keys, selection.client_id)
    return processor.shape(Aggregate(cells=cells, weights=weights, labels=labels), options)


# --- period buckets --------------------------------------------------------------------------


def bucket(column: Any, period: str, dialect: str | None = None) -> ColumnElement:
    """The first day of ``column``'s period, as a date (ISO weeks start on Monday); ``dialect``:
    the database's, when the caller builds a statement for later."""
    if period == "day":
        return column
    if (dialect or db.session.get_bind().dialect.name) == "postgresql":
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


def _grouped(
    keys: list[Any], sums: list[Any], period: str | None, day: Any, dialect: str | None = None
) -> tuple[list, list]:
    """(selected columns, GROUP BY columns): the period bucket first when there is one."""
    if period is not None:
        keys = [bucket(day, period, dialect).label("bucket"), *keys]
    return [*keys, *sums], keys


def _record_key() -> ColumnElement:
    k = RollupKey
    return and_(k.k1 == "", k.k2 == "", k.k3 == "", k.k4 == "")


def _from_days(f: StatsFilter, period: str | None, plan: Plan) -> Sums:
    """Whole-hub sums from ``rollup_day``: released day cells only, so a period cell (a week, a
    month, a window) is the sum of released days and no day can be read off it by subtracting the
    others; a day that was not released takes nothing else with it."""
    d, k = RollupDay, RollupKey
    scope = []
    if f.date_from:
        scope.append(d.date >= f.date_from)
    if f.date_to:
        scope.append(d.date <= f.date_to)
    if f.local_only:
        scope.append(d.local.is_(True))
    # summed per integer key; the four strings of the type's few keys are read on their own and
    # shared by the cells: no string decoded per row (a year of threats at L is 15,330 rows)
    wanted = select(k.id).where(k.type == f.type, ~_record_key(), *_matching(plan, k))
    sums = [
        func.sum(column).label(name)
        for name, column in (("n", d.n), ("s1", d.s1), ("s2", d.s2), ("s3", d.s3))
    ]
    columns, group = _grouped([d.key_id], sums, period, d.date)
    connection = db.session.connection()
    strings = {
        key_id: (k1, k2, k3, k4)
        for key_id, k1, k2, k3, k4 in connection.execute(
            select(k.id, k.k1, k.k2, k.k3, k.k4).where(k.type == f.type)
        )
    }
    with planner(PG_SERIES_SETTINGS if period is not None else ()):
        rows = connection.execute(select(*columns).where(d.key_id.in_(wanted), *scope).group_by(*group)).all()
    if period is None:
        rows = [(None, *row) for row in rows]
    cells = [
        Cell(day, strings[key_id], float(n), (float(s1), float(s2), float(s3)))
        for day, key_id, n, s1, s2, s3 in rows
    ]
    weights: dict[date | None, float] = {}
    if plan.record_weights:
        records = select(k.id).where(k.type == f.type, _record_key())
        columns, group = _grouped([], [func.sum(d.n)], period, d.date)
        weights = _weights(select(*columns).where(d.key_id.in_(records), *scope).group_by(*group), period)
    return cells, weights


#: planner settings for whole-hub series on PostgreSQL: ``rollup_day`` is read by every dashboard
#: and stays in memory, where a random page costs about what a sequential one does. With the
#: default cost (4) the planner scanned every type's year of rows instead of the primary key's
#: range of each key asked for; measured at L over a year (in-process, ms): threats by day
#: 128 → 109, compliance by day 70 → 48, by month 27 → 18 and 31 → 14. A sum over the whole
#: window (no series) is left to the default: a sequential scan won there (cartography 31 vs 48).
PG_SERIES_SETTINGS = ("random_page_cost = 1.1",)


@contextmanager
def planner(settings: Sequence[str]) -> Iterator[None]:
    """Planner ``settings`` (``name = value``) for the statements inside only, on PostgreSQL. A
    bare ``SET LOCAL`` would last to the end of the transaction and change the plans, and so the
    order floats are summed in, of whatever the caller runs next in it. After an error nothing is
    reset: the transaction is rolled back, its settings with it. One statement sets them all and
    one resets them (a round trip per setting cost a selection 8 of its 11 statements)."""
    postgres = bool(settings) and db.session.get_bind().dialect.name == "postgresql"
    names = [setting.split("=")[0].strip() for setting in settings]
    if postgres:
        values = [setting.split("=", 1)[1].strip().strip("'") for setting in settings]
        calls = ", ".join(f"set_config(:n{i}, :v{i}, true)" for i in range(len(settings)))
        params = {f"n{i}": name for i, name in enumerate(names)} | {f"v{i}": v for i, v in enumerate(values)}
        db.session.execute(text(f"SELECT {calls}"), params)
    yield
    if postgres:
        resets = ", ".join(
            f"set_config(:n{i}, (SELECT reset_val FROM pg_settings WHERE name = :n{i}), true)"
            for i in range(len(names))
        )
        db.session.execute(text(f"SELECT {resets}"), {f"n{i}": name for i, name in enumerate(names)})


#: planner settings for the one query of an exploded selection on PostgreSQL (see _from_exploded)
PG_SELECTION_SETTINGS = (
    "jit = off",
    "enable_memoize = off",
    "max_parallel_workers_per_gather = 0",
    "work_mem = '64MB'",
)


# --- selections of analyses, from maintained sums -------------------------------------------------
#
# Their statements are built once per shape (which filters, period, plan) with bound parameters,
# and then only executed: building and keying them again at every request cost a selection more
# Python time than running them (about 40% of an empty answer's, measured with py-spy).


@dataclass(frozen=True, slots=True)
class Shape:
    """What a selection's statements depend on besides their values."""

    client: bool
    anrs: bool
    date_from: bool
    date_to: bool
    local_only: bool

    @classmethod
    def of(cls, f: StatsFilter) -> Shape:
        return cls(f.client_id is not None, bool(f.anrs), bool(f.date_from), bool(f.date_to), f.local_only)


def _values(f: StatsFilter) -> dict[str, Any]:
    """The bound values of a selection's statements (``_conditions``)."""
    return {
        "type": f.type,
        "client_id": f.client_id,
        "anrs": list(f.anrs),
        "date_from": f.date_from,
        "date_to": f.date_to,
    }


def _among(column: Any, name: str, dialect: str, item: Any) -> ColumnElement:
    """``column`` among a list given at execution: ``= ANY(array)`` on PostgreSQL (one statement
    text whatever the list's length), an expanding ``IN`` elsewhere."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(item)))
    return column.in_(bindparam(name, expanding=True))


def _conditions(shape: Shape, model: Any = Stats, dialect: str = "postgresql") -> list[ColumnElement]:
    """``storage.stats._apply`` with bound parameters: the selection's records."""
    out = [model.type == bindparam("type")]
    if shape.client:
        out.append(model.client_id == bindparam("client_id"))
    if shape.date_from:
        out.append(model.date >= bindparam("date_from", type_=Date))
    if shape.date_to:
        out.append(model.date <= bindparam("date_to", type_=Date))
    if shape.anrs:
        out.append(_among(model.anr, "anrs", dialect, String))
    if shape.local_only:
        out.append(model.client_id.in_(select(Client.id).where(Client.local.is_(True))))
    return out


def _window(column: Any, shape: Shape) -> list[ColumnElement]:
    scope = []
    if shape.date_from:
        scope.append(column >= bindparam("date_from", type_=Date))
    if shape.date_to:
        scope.append(column <= bindparam("date_to", type_=Date))
    return scope


def _match_key(plan: Plan) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(sorted((part, tuple(values)) for part, values in plan.match.items()))


@lru_cache(maxsize=256)
def _keys_statement(shape: Shape, match: tuple[tuple[str, tuple[str, ...]], ...], dialect: str) -> Select:
    k = RollupKey
    columns: list[Any] = [k.id, k.k1, k.k2, k.k3, k.k4]
    if shape.client:
        columns.append(_holds_all(shape, dialect).label("holds_all"))
    query = select(*columns).where(k.type == bindparam("type"))
    matching = [getattr(k, part).in_(values) for part, values in match]
    if matching:
        query = query.where(or_(_record_key(), and_(*matching)))
    return query


def _keys(f: StatsFilter, plan: Plan) -> tuple[dict[int, Key], int | None, bool]:
    """In one statement: the type's keys a plan asks for, by id (four strings each), the id of its
    records key, and for one client's selection whether it holds every record the client has of
    the type in the window (``_holds_all``)."""
    query = _keys_statement(Shape.of(f), _match_key(plan), _dialect())
    strings: dict[int, Key] = {}
    records, holds_all = None, False
    for key_id, k1, k2, k3, k4, *extra in db.session.connection().execute(query, _values(f)):
        holds_all = bool(extra and extra[0])
        if (k1, k2, k3, k4) == RECORDS:
            records = key_id
        else:
            strings[key_id] = (k1, k2, k3, k4)
    return strings, records, holds_all


def _holds_all(shape: Shape, dialect: str) -> ColumnElement:
    """Whether the selection holds every record its client has of the type in the window: the
    selected records are as many as the client's day sums count (``client_day``'s records key
    holds the number of the client's records of each day), each read from an index."""
    selected = (
        select(func.count()).select_from(Stats).where(*_conditions(shape, Stats, dialect)).scalar_subquery()
    )
    cd, key = ClientDay, aliased(RollupKey)
    records_key = (
        select(key.id)
        .where(key.type == bindparam("type"), key.k1 == "", key.k2 == "", key.k3 == "", key.k4 == "")
        .scalar_subquery()
    )
    held = (
        select(func.coalesce(func.sum(cd.entries), 0))
        .where(cd.client_id == bindparam("client_id"), cd.key_id == records_key, *_window(cd.date, shape))
        .scalar_subquery()
    )
    return selected == held


def _from_records(f: StatsFilter, period: str | None, plan: Plan) -> Sums:
    """Sums over some analyses: from maintained sums (``client_day`` when the selection holds all
    of the client's analyses in the window, else the records' own sums), or by exploding the
    records' JSON when the plan asks for keys their sums do not keep."""
    stats_type = REGISTRY[f.type]
    if not covers(stats_type.record_sums_match, plan.match):
        return _from_exploded(f, period, plan)
    strings, records_key, holds_all = _keys(f, plan)
    if holds_all and records_key is not None:
        return _from_client_days(f, period, plan, strings, records_key)
    return _from_record_sums(f, period, plan, strings)


#: the key id that stands for the record weights in the rows of ``_cells_and_weights``
WEIGHTS = -1


def _cells_and_weights(
    rows: Iterable[Any], strings: dict[int, Key], has_bucket: bool, weights_key: int | None
) -> Sums:
    """Rows ``([bucket], key id, n, s1, s2, s3)`` as cells, the key's strings shared; the rows of
    ``weights_key`` are the record weights per bucket."""
    new = tuple.__new__  # a Cell without NamedTuple's Python-level __new__: tens of thousands a year
    if not has_bucket:
        rows = [(None, *row) for row in rows]
    cells, weights = [], {}
    for day, key_id, n, s1, s2, s3 in rows:
        if key_id == weights_key:
            if n:
                weights[day] = float(n)
            continue
        # the sums are floats already (float8 on PostgreSQL, REAL on SQLite)
        cells.append(new(Cell, (day, strings[key_id], n, (s1, s2, s3))))
    return cells, weights


@lru_cache(maxsize=256)
def _client_days_statement(shape: Shape, period: str | None, dialect: str) -> Select:
    cd = ClientDay
    scope = [cd.client_id == bindparam("client_id"), *_window(cd.date, shape)]
    if shape.local_only:
        scope.append(cd.client_id.in_(select(Client.id).where(Client.local.is_(True))))
    sums = [func.sum(cd.n), func.sum(cd.s1), func.sum(cd.s2), func.sum(cd.s3)]
    columns, group = _grouped([cd.key_id], sums, period, cd.date, dialect)
    keys = _among(cd.key_id, "keys", dialect, Integer)
    return select(*columns).where(*scope, keys).group_by(*group)


def _from_client_days(
    f: StatsFilter, period: str | None, plan: Plan, strings: dict[int, Key], records_key: int
) -> Sums:
    """The client's own day sums: every analysis it has is selected, so its ``client_day`` rows
    are the selection's sums (kept at write, one row per key and day whatever the analyses); its
    records key's rows are the record weights, read in the same statement."""
    keys = [*strings, records_key] if plan.record_weights else list(strings)
    dialect = _dialect()
    query = _client_days_statement(Shape.of(f), period, dialect)
    params = {**_values(f), "keys": keys}
    if dialect == "postgresql":
        rows = _binary_rows(query, params)
    else:
        rows = db.session.connection().execute(query, params).all()
    return _cells_and_weights(rows, strings, period is not None, records_key)


@lru_cache(maxsize=256)
def _record_sums_statement(shape: Shape, period: str | None, filtered: bool, weighted: bool) -> Any:
    x = record_sums.unnested(lambda query: query.where(*_conditions(shape)))
    sums = [func.sum(x.c.n), func.sum(x.c.s1), func.sum(x.c.s2), func.sum(x.c.s3)]
    columns, group = _grouped([x.c.k], sums, period, x.c.date, "postgresql")
    query = select(*columns).select_from(x)
    if filtered:
        query = query.where(_among(x.c.k, "keys", "postgresql", Integer))
    query = query.group_by(*group)
    if not weighted:
        return query
    zero = literal(0.0)
    columns, group = _grouped(
        [literal(WEIGHTS).label("k")], [func.sum(Stats.n), zero, zero, zero], period, Stats.date, "postgresql"
    )
    weights = select(*columns).where(*_conditions(shape))
    if period is not None:
        weights = weights.group_by(group[0])
    return union_all(query, weights)


def _from_record_sums(f: StatsFilter, period: str | None, plan: Plan, strings: dict[int, Key]) -> Sums:
    """The selected records' own sums (``storage.record_sums``): unnested and summed in SQL on
    PostgreSQL, with the record weights in the same statement; decoded and summed here on
    SQLite."""
    wanted = set(strings)
    if _dialect() == "postgresql":
        query = _record_sums_statement(Shape.of(f), period, bool(plan.match), plan.record_weights)
        rows = _binary_rows(query, {**_values(f), "keys": sorted(wanted)})
        return _cells_and_weights(rows, strings, period is not None, WEIGHTS)
    acc: dict[tuple[date | None, int], list[float]] = {}
    query = apply_filter(select(Stats.date, Stats.n, *record_sums.stored_columns()), f)
    for day, n, *stored in db.session.execute(query):
        slot = period_start(day, period) if period is not None else None
        for key_id, weight, s1, s2, s3 in record_sums.decode(n, stored):
            if key_id not in wanted:
                continue
            found = acc.get((slot, key_id))
            if found is None:
                acc[(slot, key_id)] = [weight, s1, s2, s3]
            else:
                found[0] += weight
                found[1] += s1
                found[2] += s2
                found[3] += s3
    cells = [Cell(slot, strings[key_id], *_split(v)) for (slot, key_id), v in acc.items()]
    weights: dict[date | None, float] = {}
    if plan.record_weights:
        columns, group = _grouped([], [func.sum(Stats.n)], period, Stats.date)
        weights = _weights(apply_filter(select(*columns), f).group_by(*group), period)
    return cells, weights


def _dialect() -> str:
    return db.session.get_bind().dialect.name


@lru_cache(maxsize=256)
def _compiled(statement: Any) -> tuple[str, dict[str, Any]]:
    """A cached statement's SQL for psycopg and the values it carries itself."""
    compiled = statement.compile(dialect=db.session.get_bind().dialect)
    return str(compiled), dict(compiled.params)


def _binary_rows(statement: Any, params: dict[str, Any]) -> list[tuple]:
    """PostgreSQL: the rows of a statement built once (``lru_cache``), fetched in binary on the
    session's own connection (its transaction): psycopg turns binary floats and dates into Python
    objects at a quarter of the text form's cost and the server skips formatting them. A year
    of a Front Office's threats is 4,300 rows of six values (measured, client CPU: 4.6 → 1.9 ms)."""
    sql, carried = _compiled(statement)
    raw = db.session.connection().connection.driver_connection
    with raw.cursor(binary=True) as cursor:
        cursor.execute(sql, {**carried, **params})
        return cursor.fetchall()


def _split(values: list[float]) -> tuple[float, tuple[float, float, float]]:
    return values[0], (values[1], values[2], values[3])


def _from_exploded(f: StatsFilter, period: str | None, plan: Plan) -> Sums:
    """Sums over the selected records themselves (some analyses): exploded in the database by the
    type's ``explode_sql``, or as they stream in through its Python ``explode`` if it has none."""
    stats_type = REGISTRY[f.type]
    dialect = db.session.get_bind().dialect.name
    exploded = stats_type.explode_sql(JsonSql(dialect), plan.match)
    if exploded is None:
        query = apply_filter(select(Stats.date, Stats.data, Stats.n), f).execution_options(yield_per=500)
        cells, weights = selection_cells(stats_type, db.session.execute(query), period, plan.match)
        return cells, (weights if plan.record_weights else {})
    rec = apply_filter(select(Stats.id, Stats.date, Stats.data, Stats.n), f).cte("rec")
    typed = [column(name, Date) if name == "date" else column(name) for name in EXPLODED]
    named = f"WITH exploded({', '.join(EXPLODED)}) AS ({exploded}) SELECT * FROM exploded"
    rows = text(named).columns(*typed).subquery("x")
    x = rows.c
    keys = [x.k1, x.k2, x.k3, x.k4]
    sums = [func.sum(x.w), func.sum(x.w * x.m1), func.sum(x.w * x.m2), func.sum(x.w * x.m3)]
    columns, group = _grouped(keys, sums, period, x.date)
    query = select(*columns).select_from(rows).where(*_matching(plan, x)).group_by(*group).add_cte(rec)
    # set-returning JSON functions are estimated at 100 rows each, so four nested ones look
    # like billions of rows: JIT compilation (0.5 s for a 0.1 s query), Memoize keyed on whole
    # JSON documents and parallel plans sorting them on disk followed (all three measured); and
    # with the default 4 MB of work_mem a year of five analyses' elements (50,000 rows) was
    # sorted on disk for a GroupAggregate: with 64 MB it is hashed in memory (173 → 106 ms)
    with planner(PG_SELECTION_SETTINGS):
        cells = _cells(query, period is not None)
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
    label_type: str, keys: Iterable[str], client_id: int | None = None
) -> dict[str, dict[str, str]]:
    """Labels of a selection's ``keys``: one client's own (``client_id``), or else (an admin's
    selection across clients) those most of the selected data's clients use."""
    votes: dict[str, list[dict[str, str]]] = {}
    for chunk in chunks(sorted(keys)):
        query = select(ClientLabel.key, ClientLabel.labels).where(
            ClientLabel.type == label_type, ClientLabel.key.in_(chunk)
        )
        if client_id is not None:
            query = query.where(ClientLabel.client_id == client_id)
        for key, labels in db.session.execute(query):
            votes.setdefault(key, []).append(labels)
    if client_id is not None:
        return {key: found[0] for key, found in votes.items()}
    return {key: label for key, found in votes.items() if (label := majority_label(found, 1))}


__all__ = ["bucket", "labels_for", "run_processor"]
