"""Stats records: idempotent batch upserts that keep the per-day sums and labels in the same transaction,
scoped reads and deletes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, Text, cast, func, select, text

from statsservice.clock import utcnow
from statsservice.domain.registry import REGISTRY
from statsservice.domain.sums import Key, Sums, kept_sums, merge, record_sums
from statsservice.extensions import db
from statsservice.storage import partitions, replica, sums
from statsservice.storage import record_sums as own
from statsservice.storage.models import ClientLabel, Stats, new_uuid


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A validated, normalised record ready to store."""

    anr: str
    type: str
    date: date
    data: Any
    n: int = 1
    uuid: str | None = None
    #: a hub's DP release: its period, budget and noise (``dp`` of the record; None: exact)
    dp: dict[str, Any] | None = None


#: records per INSERT statement (SQLite allows 32766 bound parameters)
STORE_SLICE = 2000


class StoredRecord(NamedTuple):
    """A record as an upload left it: its id and uuid under its key."""

    id: int
    uuid: str
    anr: str
    type: str
    date: date


def upsert_records(client_id: int, records: Sequence[NewRecord]) -> list[StoredRecord]:
    """Insert or replace records on (client, anr, type, date) with their own sums
    (``storage.record_sums``); bring the sums of their days up to date (``storage.sums``) and the
    client's labels, in the same transaction.

    Each record is exploded once: its sums are stored in its row, and added up per day for
    ``client_day``. ``INSERT ... ON CONFLICT DO UPDATE`` writes the batch (in slices of
    ``STORE_SLICE`` records, under every database's bind-parameter limit): a replaced record keeps
    its uuid and creation time; then the sums of every day of the batch are brought up to date at
    once. The caller commits (or rolls back): the whole batch is one transaction. Within a batch
    the last record for a key wins.

    Which records replaced one are told by the statement itself: the update counts the record's
    ``replacements``, so a returned count of 0 is a row the statement inserted — exact under
    concurrent uploads (PostgreSQL's ``ON CONFLICT`` updates the row another transaction
    committed) and the same on both databases.
    """
    latest: dict[tuple[str, str, date], NewRecord] = {}
    for record in records:
        latest[(record.anr, record.type, record.date)] = record
    if not latest:
        return []
    partitions.ensure(day for _anr, _type, day in latest)
    exploded = {key: record_sums(REGISTRY[r.type], [(r.data, r.n)]) for key, r in latest.items()}
    ids = sums.key_ids((key[1], k) for key, found in exploded.items() for k in found)
    replaced: set[tuple[str, str, date]] = set()
    now = utcnow()
    rows = [
        {"uuid": r.uuid or new_uuid(), "client_id": client_id, "anr": r.anr, "type": r.type}
        | {"date": r.date, "data": r.data, "n": r.n, "created_at": now, "updated_at": now}
        | {"replacements": 0}
        | own.encode(kept_sums(exploded[key], REGISTRY[r.type].record_sums_match), ids, r.type, r.n)
        for key, r in latest.items()
    ]
    stored: list[StoredRecord] = []
    for row in _upsert(client_id, rows, now):
        stored.append(StoredRecord(*row[:5]))
        if row.replacements:
            replaced.add((row.anr, row.type, row.date))
    _keep_sums(client_id, latest, stored, exploded, ids, {(t, day) for _anr, t, day in replaced})
    return stored


#: PostgreSQL: the batch in one statement, its rows as one JSON text (``json_to_recordset``): the
#: ORM's multi-row VALUES was a new query text of several kilobytes that psycopg parsed again in
#: Python at every upload, and its arrays were dumped element by element
_STATS_COLUMNS = (
    "uuid varchar, anr varchar, type varchar, date date, data jsonb, n float8, sum_keys integer[],"
    " sum_n float8[], sum_q1 smallint[], sum_q2 smallint[], sum_q3 smallint[], sum_f1 float8[],"
    " sum_f2 float8[], sum_f3 float8[]"
)
_STATS_UPSERT = text(
    f"INSERT INTO stats (uuid, client_id, anr, type, date, data, n, created_at, updated_at, replacements,"
    f" {', '.join(own.COLUMNS)}) SELECT uuid, :client_id, anr, type, date, data, n, :now, :now, 0,"
    f" {', '.join(own.COLUMNS)} FROM json_to_recordset(CAST(:rows AS json)) AS r({_STATS_COLUMNS})"
    f" ON CONFLICT (client_id, anr, type, date) DO UPDATE SET data = excluded.data, n = excluded.n,"
    f" updated_at = excluded.updated_at, replacements = stats.replacements + 1, "
    + ", ".join(f"{name} = excluded.{name}" for name in own.COLUMNS)
    + " RETURNING id, uuid, anr, type, date, replacements"
)


def _upsert(client_id: int, rows: list[dict[str, Any]], now: datetime) -> Iterator[Any]:
    """Insert or replace the rows; for each, ``(id, uuid, anr, type, date, replacements)``."""
    if sums.postgres():
        for part in sums.chunks(rows, STORE_SLICE):
            payload = sums.json_rows(
                [
                    {k: v for k, v in row.items() if k not in ("client_id", "created_at", "updated_at")}
                    for row in part
                ]
            )
            yield from db.session.execute(
                _STATS_UPSERT, {"client_id": client_id, "now": now, "rows": payload}
            )
        return
    statement = sums.dialect_insert()(Stats)
    statement = statement.on_conflict_do_update(
        index_elements=[Stats.client_id, Stats.anr, Stats.type, Stats.date],
        set_={
            "data": statement.excluded.data,
            "n": statement.excluded.n,
            "updated_at": now,
            "replacements": Stats.replacements + 1,
            **{name: statement.excluded[name] for name in own.COLUMNS},
        },
    ).returning(Stats.id, Stats.uuid, Stats.anr, Stats.type, Stats.date, Stats.replacements)
    # NULLs written as NULLs: the ORM's bulk insert otherwise leaves None columns out and sends one
    # statement per pattern of absent sums
    statement = statement.execution_options(render_nulls=True)
    for part in sums.chunks(rows, STORE_SLICE):
        yield from db.session.execute(statement, list(part))


def _keep_sums(
    client_id: int,
    latest: dict[tuple[str, str, date], NewRecord],
    stored: list[StoredRecord],
    exploded: dict[tuple[str, str, date], Sums],
    ids: dict[tuple[str, Key], int],
    replaced: set[tuple[str, date]],
) -> None:
    """Bring the client's sums up to date after an upload: (type, day) pairs where a record was
    replaced are recomputed from the records (``sums.resync``: a replaced record's old
    contribution is gone with it); elsewhere the new records' sums (``exploded``, one record
    each) are added (``sums.add``). The client's days are locked first, so a concurrent upload of
    the same client's day never sums records this one has not committed yet (other clients'
    uploads do not wait). A hub client's days are then locked for ``rollup_day`` in one pass:
    exclusive where a replaced aggregate makes ``sums.recompute`` sum the day again, shared where
    its sums are only added (``sums.accumulate``)."""
    days = {day for _anr, _t, day in latest}
    hub = sums.is_hub(client_id)
    if replaced or hub:
        sums.lock_days(days, client_id)
    if hub:
        summed_again = {day for _t, day in replaced}
        sums.lock_days(summed_again, shared=days - summed_again)
    if replaced:
        by_key = {(s.anr, s.type, s.date): s.id for s in stored}
        fresh = [
            (by_key[key], r.type, r.date, r.data, r.n)
            for key, r in latest.items()
            if (r.type, r.date) in replaced
        ]
        sums.resync(client_id, replaced, fresh)
    added: dict[tuple[str, date], Sums] = {}
    for (_anr, t, day), found in exploded.items():
        if (t, day) not in replaced:
            merge(added.setdefault((t, day), {}), found)
    # the locks, the new sums and the labels in one statement on PostgreSQL
    locking = () if replaced or hub else days  # else taken above
    sums.add(client_id, added, ids, locking=locking, also=_labels(client_id, latest))


#: PostgreSQL: the client's labels in one statement, rewriting only those that changed (a Front
#: Office sends the same labels every night: an unchanged row is neither rewritten nor logged)
_LABELS_UPSERT = (
    "INSERT INTO client_label (client_id, type, key, labels) SELECT :client_id, t, k, l FROM"
    " json_to_recordset(CAST(:labels AS json)) AS r(t text, k text, l jsonb)"
    " ON CONFLICT (client_id, type, key) DO UPDATE SET labels = excluded.labels"
    " WHERE client_label.labels IS DISTINCT FROM excluded.labels"
)


def _labels(client_id: int, latest: dict[tuple[str, str, date], NewRecord]) -> tuple[str, dict] | None:
    """The upsert of the client's own labels (latest upload wins, for this client only), as the SQL
    and parameters ``sums.add`` sends with its own statement; None when there are none."""
    labels: dict[tuple[str, str], dict[str, str]] = {}
    for r in latest.values():
        for entry in REGISTRY[r.type].labels(r.data):
            labels[(r.type, entry.key)] = entry.labels
    if not labels:
        return None
    ordered = sorted(labels.items())
    if sums.postgres():
        rows = sums.json_rows([{"t": t, "k": k, "l": v} for (t, k), v in ordered])
        return _LABELS_UPSERT, {"client_id": client_id, "labels": rows}
    _upsert_labels_sqlite(client_id, ordered)
    return None


def _upsert_labels_sqlite(client_id: int, ordered: list[tuple[tuple[str, str], dict[str, str]]]) -> None:
    rows = [{"client_id": client_id, "type": t, "key": k, "labels": v} for (t, k), v in ordered]
    statement = sums.dialect_insert()(ClientLabel)
    statement = statement.on_conflict_do_update(
        index_elements=[ClientLabel.client_id, ClientLabel.type, ClientLabel.key],
        set_={"labels": statement.excluded.labels},
    )
    db.session.execute(statement, rows)


@dataclass(frozen=True, slots=True)
class StatsFilter:
    """Selection used by reads: who may see what, and which records."""

    type: str | None = None
    client_id: int | None = None  # None: every client (admins, public aggregates)
    date_from: date | None = None
    date_to: date | None = None
    anrs: tuple[str, ...] = ()
    local_only: bool = False


def _apply(query: Select, f: StatsFilter, model: Any = Stats) -> Select:
    if f.type:
        query = query.where(model.type == f.type)
    if f.client_id is not None:
        query = query.where(model.client_id == f.client_id)
    if f.date_from:
        query = query.where(model.date >= f.date_from)
    if f.date_to:
        query = query.where(model.date <= f.date_to)
    if f.anrs:
        query = query.where(model.anr.in_(f.anrs))
    if f.local_only:
        from statsservice.storage.models import Client

        query = query.where(model.client_id.in_(select(Client.id).where(Client.local.is_(True))))
    return query


def _records(f: StatsFilter, get_last: bool) -> Select:
    """The records matching ``f``; with ``get_last`` only the latest record per (client,
    analysis), dates ignored."""
    query = _apply(select(Stats), f)
    if get_last:
        f = StatsFilter(type=f.type, client_id=f.client_id, anrs=f.anrs, local_only=f.local_only)
        latest = (
            _apply(select(Stats.client_id, Stats.anr, func.max(Stats.date).label("d")), f)
            .group_by(Stats.client_id, Stats.anr)
            .subquery()
        )
        query = _apply(select(Stats), f).join(
            latest,
            (Stats.client_id == latest.c.client_id)
            & (Stats.anr == latest.c.anr)
            & (Stats.date == latest.c.d),
        )
    return query


def _page(query: Select, offset: int, limit: int) -> tuple[int, Select]:
    """The total before paging, and the page's query (newest first)."""
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    query = query.order_by(Stats.date.desc(), Stats.anr, Stats.id).offset(offset)
    return total, (query.limit(limit) if limit else query)


def stream_records(
    f: StatsFilter, *, get_last: bool = False, offset: int = 0, limit: int = 0
) -> tuple[int, Iterator[tuple[str, str, str, date, str]]]:
    """Records matching ``f`` (newest first) with the total count before paging, as rows
    ``(uuid, anr, type, date, data)`` where ``data`` is the record's JSON text as the database
    holds it: a page of tens of MB is neither decoded nor held in memory.

    The rows come from a server-side cursor on a connection of their own, opened when iteration
    starts: the request's session may commit (``last_seen``) while the answer is still streaming.
    That connection is the read replica's when this runs in a read block (``storage.replica``).
    """
    total, query = _page(_records(f, get_last), offset, limit)
    query = query.with_only_columns(Stats.uuid, Stats.anr, Stats.type, Stats.date, cast(Stats.data, Text))
    engine = replica.engine_for_reads()

    def rows() -> Iterator[tuple[str, str, str, date, str]]:
        with replica.connect_for_reads(engine) as conn:
            yield from (tuple(row) for row in conn.execution_options(yield_per=200).execute(query))

    return total, rows()


def delete_analysis(client_id: int, anr: str) -> int:
    """Delete one client's records of an analysis (the sums of their days follow)."""
    return sums.delete_records(Stats.client_id == client_id, Stats.anr == anr)


def count_by_type(types: Iterable[str] | None = None) -> dict[str, int]:
    query = select(Stats.type, func.count()).group_by(Stats.type)
    if types:
        query = query.where(Stats.type.in_(list(types)))
    return dict(db.session.execute(query).all())
