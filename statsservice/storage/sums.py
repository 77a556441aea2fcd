"""The per-day sums, kept at write time in the writer's transaction: ``client_day`` (one client's
records of a day summed per key) and, for the aggregates other hubs released (a global hub's hub
clients), ``rollup_day`` (those summed over the hubs, with the hubs behind each key). This hub's
own clients reach ``rollup_day`` only through a release (``storage.release``): an upload of a
Front Office writes its own ``client_day`` rows and nothing shared, so uploads of one day by
different clients never wait on each other. A hub's new aggregates are added to ``rollup_day``
(``accumulate``): hubs pushing the same day go on together, each in time independent of how many
hubs that day already holds; a replaced or deleted aggregate has its days summed again over every
hub (``recompute``). No read ever writes.

Every write of ``stats`` goes through here: ``store`` after an upload, ``delete_records`` for any
delete, ``forget_before`` for a purge by age.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any

import orjson
from sqlalchemy import ColumnElement, case, delete, func, insert, select, text, true, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from statsservice.domain.registry import REGISTRY
from statsservice.domain.sums import RECORDS, Key, Sums, record_sums
from statsservice.extensions import db
from statsservice.storage.cells import greatest, key_sums
from statsservice.storage.models import Client, ClientDay, RollupDay, RollupKey, Stats

#: values per IN (...) list, well under every database's bind-parameter limit
CHUNK = 500
#: first half of the advisory-lock key that serialises the recompute of one day (PostgreSQL)
LOCK_CLASS = 0x524F4C4C  # "ROLL"
#: top byte of the single-key advisory lock of one client's day (the two-key form above is another
#: key space): the client's uploads and deletes of a day take turns, other clients do not wait
CLIENT_LOCK_CLASS = 0x43

DayKey = tuple[str, date]  # (type, day)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def dialect_insert() -> Any:
    """The INSERT construct with ``ON CONFLICT`` of the session's database (PostgreSQL or SQLite)."""
    return postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert


def postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


#: PostgreSQL: the ids of the wanted keys only, in one statement. Rows travel as one JSON text
#: (``json_to_recordset``): psycopg quotes each element of a text array in Python, which cost an
#: upload more than the statements themselves
_WANTED_KEYS = text(
    "SELECT array_agg(k.id ORDER BY w.i) FROM ROWS FROM (json_to_recordset(CAST(:keys AS json))"
    " AS (t text, k1 text, k2 text, k3 text, k4 text)) WITH ORDINALITY AS w(t, k1, k2, k3, k4, i)"
    " LEFT JOIN rollup_key AS k ON (k.type, k.k1, k.k2, k.k3, k.k4) = (w.t, w.k1, w.k2, w.k3, w.k4)"
)
_ADD_KEYS = text(
    "INSERT INTO rollup_key (type, k1, k2, k3, k4) SELECT t, k1, k2, k3, k4"
    " FROM json_to_recordset(CAST(:keys AS json)) AS w(t text, k1 text, k2 text, k3 text, k4 text)"
    " ON CONFLICT DO NOTHING"
)


def json_rows(rows: Sequence[Any]) -> str:
    """Rows as the JSON text ``json_to_recordset`` reads (orjson writes floats in their shortest
    exact form: PostgreSQL reads back the very same float8)."""
    return orjson.dumps(rows).decode()


def _as_json(keys: Sequence[tuple[str, Key]]) -> dict[str, str]:
    """Keys as one JSON text (``json_to_recordset`` reads objects: it parses each once, where
    ``->>`` on ``json`` parses an element again for each field)."""
    return {"keys": json_rows([{"t": t, "k1": k[0], "k2": k[1], "k3": k[2], "k4": k[3]} for t, k in keys])}


def key_ids(wanted: Iterable[tuple[str, Key]]) -> dict[tuple[str, Key], int]:
    """Dictionary ids of ``(type, key)`` pairs, adding the new ones (concurrent writers may add the
    same key: the second waits for the first and reads its id).

    On PostgreSQL only the wanted keys are read, in one statement (an upload's few hundred keys,
    where SQLite reads every key of their types), and new keys are committed at once, in a
    transaction of their own: a concurrent upload that needs the same new key waits for that
    insert only, not for this whole upload to commit (seconds for a hub's batch of a year of
    days). A key no row ends up using is harmless: the dictionary only grows."""
    wanted = set(wanted)
    if not wanted:
        return {}
    if postgres():
        ordered = sorted(wanted)

        def found_pg(keys: Sequence[tuple[str, Key]]) -> dict[tuple[str, Key], int]:
            # one row holding the ids in the keys' order (NULL for a key not there yet): a row per
            # key cost more to fetch than the query took
            ids = db.session.scalar(_WANTED_KEYS, _as_json(keys)) or []
            return {key: key_id for key, key_id in zip(keys, ids, strict=True) if key_id is not None}

        found = found_pg(ordered)
        missing = sorted(wanted - found.keys())
        if missing:
            with db.engine.begin() as conn:
                conn.execute(_ADD_KEYS, _as_json(missing))
            found.update(found_pg(missing))
        return found
    types = sorted({t for t, _ in wanted})

    def known() -> dict[tuple[str, Key], int]:
        rows = db.session.execute(
            select(
                RollupKey.id, RollupKey.type, RollupKey.k1, RollupKey.k2, RollupKey.k3, RollupKey.k4
            ).where(RollupKey.type.in_(types))
        )
        return {(t, (k1, k2, k3, k4)): i for i, t, k1, k2, k3, k4 in rows}

    found = known()
    missing = sorted(wanted - found.keys())
    if missing:
        rows = [{"type": t, "k1": k[0], "k2": k[1], "k3": k[2], "k4": k[3]} for t, k in missing]
        for part in chunks(rows, 200):
            db.session.execute(dialect_insert()(RollupKey).on_conflict_do_nothing(), list(part))
        found = known()
    return found


def _client_day_rows(
    client_id: int, days: dict[DayKey, Sums], ids: dict[tuple[str, Key], int] | None = None
) -> tuple[list[dict[str, Any]], set[tuple[date, int]]]:
    """``client_day`` rows of one client's sums (days with no record left give none), sorted so
    concurrent writers lock them in one order, and the (day, key) pairs they touch (``ids``:
    the keys' ids when the caller has them)."""
    if ids is None:
        ids = key_ids((t, key) for (t, _), sums in days.items() for key in sums)
    rows = []
    for (t, day), sums in days.items():
        if sums.get(RECORDS, [0])[0] == 0:
            continue  # no record left
        for key, (entries, n, s1, s2, s3) in sums.items():
            rows.append(
                {"client_id": client_id, "date": day, "key_id": ids[(t, key)], "entries": entries}
                | {"n": n, "s1": s1, "s2": s2, "s3": s3}
            )
    rows.sort(key=lambda row: (row["date"], row["key_id"]))
    return rows, {(row["date"], row["key_id"]) for row in rows}


def store(client_id: int, days: dict[DayKey, Sums]) -> None:
    """Replace the ``client_day`` rows of one client for the (type, day) pairs given by their new
    sums (empty sums: the client has no record left that day), then recompute ``rollup_day`` for
    every key whose sums changed."""
    if not days:
        return
    rows, touched = _client_day_rows(client_id, days)
    by_type: dict[str, list[date]] = {}
    for t, day in days:
        by_type.setdefault(t, []).append(day)
    cd = ClientDay
    for t, dates in sorted(by_type.items()):
        of_type = select(RollupKey.id).where(RollupKey.type == t).scalar_subquery()
        for part in chunks(sorted(dates)):
            gone = db.session.execute(
                delete(cd)
                .where(cd.client_id == client_id, cd.date.in_(part), cd.key_id.in_(of_type))
                .returning(cd.date, cd.key_id)
            )
            touched.update((d, k) for d, k in gone)
    if rows and postgres():
        db.session.execute(text(_CLIENT_DAY_INSERT), _client_day_arrays(client_id, rows))
    elif rows:
        db.session.execute(insert(cd), rows)
    if is_hub(client_id):
        recompute(touched)


#: PostgreSQL: one statement for all of an upload's ``client_day`` rows (as one JSON text, in the
#: rows' order, so concurrent writers still lock them in one order); an ``executemany`` sent one
#: INSERT per row: 4 of an upload's 6 ms of statements, measured on 5-record uploads
_CLIENT_DAY_INSERT = (
    "INSERT INTO client_day (client_id, date, key_id, entries, n, s1, s2, s3)"
    " SELECT :client_id, date, key_id, entries, n, s1, s2, s3 FROM json_to_recordset(CAST(:rows AS json))"
    " AS r(date date, key_id integer, entries integer, n float8, s1 float8, s2 float8, s3 float8)"
)
_CLIENT_DAY_CONFLICT = (
    " ON CONFLICT (client_id, date, key_id) DO UPDATE SET entries = client_day.entries + excluded.entries,"
    " n = client_day.n + excluded.n, s1 = client_day.s1 + excluded.s1, s2 = client_day.s2 + excluded.s2,"
    " s3 = client_day.s3 + excluded.s3"
)


def _client_day_arrays(client_id: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"client_id": client_id, "rows": json_rows(rows)}


#: PostgreSQL: the client's day locks (``lock_days``) taken by the ``client_day`` statement itself,
#: before its first row (a one-time filter): one round trip fewer for every upload
_LOCKED = (
    " WHERE (SELECT count(*) FROM (SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:locks AS bigint[]))"
    " WITH ORDINALITY AS u(k, i) ORDER BY i) AS locked) >= 0"
)


def add(
    client_id: int,
    days: dict[DayKey, Sums],
    ids: dict[tuple[str, Key], int] | None = None,
    *,
    locking: Iterable[date] = (),
    also: tuple[str, dict[str, Any]] | None = None,
) -> None:
    """Add the sums of records new to their days (none replaced) to the client's ``client_day``
    rows, and for a hub client to ``rollup_day`` (``accumulate``): the client's other records of
    those days are neither read back nor exploded again, nor are the other hubs' sums.

    ``locking``: days of the client to lock first (``lock_days``), which PostgreSQL does in the
    same statement; ``also``: another data-modifying statement (SQL and parameters) the caller
    needs, sent with this one on PostgreSQL (as a ``WITH`` of it), before it elsewhere."""
    rows, touched = _client_day_rows(client_id, days, ids)
    hub = is_hub(client_id)
    held = _held_pairs(client_id, touched) if hub and rows else set()
    if postgres() and rows:
        sql, params = _CLIENT_DAY_INSERT, _client_day_arrays(client_id, rows)
        locks = _lock_keys(locking, client_id)
        if locks:
            sql, params = sql + _LOCKED, params | {"locks": locks}
        sql += _CLIENT_DAY_CONFLICT
        if also is not None:
            sql, params = f"WITH also AS ({also[0]}) {sql}", params | also[1]
        db.session.execute(text(sql), params)
    else:
        lock_days(locking, client_id)
        if also is not None:
            db.session.execute(text(also[0]), also[1])
        if rows:  # SQLite (PostgreSQL wrote its rows above)
            statement = dialect_insert()(ClientDay)
            statement = statement.on_conflict_do_update(
                index_elements=[ClientDay.client_id, ClientDay.date, ClientDay.key_id],
                set_={
                    name: getattr(ClientDay, name) + statement.excluded[name]
                    for name in ("entries", "n", "s1", "s2", "s3")
                },
            )
            db.session.execute(statement, rows)
    if hub:
        accumulate(rows, touched - held)


def _held_pairs(client_id: int, pairs: set[tuple[date, int]]) -> set[tuple[date, int]]:
    """The (day, key) pairs of ``pairs`` the client already has ``client_day`` rows for (read
    under the client's day lock, so no upload of the same client changes them meanwhile)."""
    if not pairs:
        return set()
    cd, found = ClientDay, set()
    days = [day for day, _key in pairs]
    for part in chunks(sorted({key for _day, key in pairs})):
        query = select(cd.date, cd.key_id).where(
            cd.client_id == client_id, cd.date.between(min(days), max(days)), cd.key_id.in_(part)
        )
        found.update(pair for pair in ((d, k) for d, k in db.session.execute(query)) if pair in pairs)
    return found


def accumulate(rows: Sequence[dict[str, Any]], new: set[tuple[date, int]]) -> None:
    """Add one hub client's new ``client_day`` sums (``rows``) to the hub-aggregate ``rollup_day``
    rows of their keys; ``new``: the (day, key) pairs the client had no row for, one more
    organisation behind them.

    Each day's lock is taken shared (``lock_days``): hubs adding to the same day go on together,
    their ``INSERT ... ON CONFLICT DO UPDATE`` adding to the rows in place, taking the rows in one
    order (key, day) so no two of them deadlock; a recompute of the day takes the lock exclusive,
    so it waits for these additions and they for it. ``entries``, ``n``, ``s1..s3`` and
    ``clients`` stay exactly the sums over the hubs; ``top`` (the largest share one hub holds,
    which no whole-hub answer reads) becomes a bound from above, exact when the new part or the
    old largest one is the largest: it is never less than the true share.
    """
    if not rows:
        return
    lock_days((), shared={row["date"] for row in rows})
    values = [
        {"key_id": row["key_id"], "date": row["date"], "local": False}
        | {name: row[name] for name in ("entries", "n", "s1", "s2", "s3")}
        | {"clients": int((row["date"], row["key_id"]) in new)}
        | {"top": 1.0 if (row["s1"] or row["s2"] or row["s3"]) else 0.0}  # its one hub's share
        for row in sorted(rows, key=lambda row: (row["key_id"], row["date"]))
    ]
    table = RollupDay.__table__
    upsert = dialect_insert()(table)
    upsert = upsert.on_conflict_do_update(
        index_elements=[table.c.key_id, table.c.date, table.c.local], set_=_added(upsert)
    )
    # one Core statement run for many rows (compiled once, psycopg pipelines them), in the list's
    # order; no ORM bulk handling per row
    db.session.execute(upsert, values)


def _added(upsert: Any) -> dict[str, Any]:
    """The ``DO UPDATE`` of ``accumulate``: sums and organisations added (every right-hand side
    reads the row as it was), ``top`` bounded from above."""
    d, grown = RollupDay.__table__.c, upsert.excluded
    shares = []
    for name in ("s1", "s2", "s3"):
        old, part = getattr(d, name), grown[name]
        # the largest part after the addition: a new hub's part or the old largest one, else an
        # old hub's part grown by ``part`` (at most the old largest plus it)
        largest = case((grown.clients > 0, greatest(d.top * old, part)), else_=d.top * old + part)
        shares.append(func.coalesce(largest / func.nullif(old + part, 0.0), 0.0))
    summed = ("entries", "n", "s1", "s2", "s3", "clients")
    return {name: getattr(d, name) + grown[name] for name in summed} | {"top": greatest(*shares)}


def is_hub(client_id: int) -> bool:
    """Whether a client is another hub (its records are aggregates its hub released): read from
    the session's identity map, where the request's authentication left the client."""
    client = db.session.get(Client, client_id)
    return client is not None and not client.local


def recompute(touched: set[tuple[date, int]], *, prune: bool = True) -> None:
    """Bring the hub-aggregate ``rollup_day`` rows of some (day, key) pairs up to date from the
    hub clients' ``client_day`` rows.

    Rows are updated in place (``INSERT ... ON CONFLICT DO UPDATE``); with ``prune`` (some
    ``client_day`` rows were deleted) those whose key no client holds any more are deleted too.
    On PostgreSQL an update of non-key columns is a HOT update that later reads prune within its
    page (the table has free room per page, migration 0009), where a delete and insert at every
    upload of a day left dead rows for the vacuum. On PostgreSQL each day is locked first
    (advisory, exclusive, in date order, held to commit) so two recomputes of one day take turns
    and each sums what the other committed, and additions (``accumulate``) wait for it. It sums
    every hub of those days, so it runs only when an aggregate is replaced or deleted.
    """
    if not touched:
        return
    by_day: dict[date, list[int]] = {}
    for day, key_id in touched:
        by_day.setdefault(day, []).append(key_id)
    d, cd = RollupDay, ClientDay
    target = [d.date, d.local, d.key_id, d.entries, d.n, d.s1, d.s2, d.s3, d.clients, d.top]
    changing = ("entries", "n", "s1", "s2", "s3", "clients", "top")
    lock_days(by_day)
    for day in sorted(by_day):
        for part in chunks(sorted(by_day[day])):
            where = [cd.date == day, cd.key_id.in_(part), Client.local.is_(False)]
            sums = key_sums([cd.date, Client.local], where, by_id=True)
            upsert = dialect_insert()(d).from_select(target, sums.where(true()))  # WHERE: SQLite's parser
            upsert = upsert.on_conflict_do_update(
                index_elements=[d.key_id, d.date, d.local],
                set_={name: upsert.excluded[name] for name in changing},
            )
            if not prune:
                db.session.execute(upsert)
                continue
            kept = set(db.session.execute(upsert.returning(d.key_id, d.local)).all())
            held = db.session.execute(
                select(d.key_id, d.local).where(d.date == day, d.key_id.in_(part), d.local.is_(False))
            )
            for key_id, local in set(held.all()) - kept:
                db.session.execute(delete(d).where(d.date == day, d.key_id == key_id, d.local.is_(local)))


_LOCK_KEYS = text(
    "SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) WITH ORDINALITY AS u(k, i) ORDER BY i"
)


def lock_days(days: Iterable[date], client_id: int | None = None, *, shared: Iterable[date] = ()) -> None:
    """Take a PostgreSQL advisory lock per day, in date order, until the transaction ends (one
    order for everyone means no deadlock; a lock already held is taken again at no cost).

    With ``client_id``: the lock of that client's days, so its own uploads and deletes of a day
    take turns (the second sums what the first committed) while other clients go on. Without:
    the day's lock for every writer of the hub aggregates' ``rollup_day``, exclusive for
    ``days`` (a recompute) and shared for the other days of ``shared`` (additions, which go on
    together), all in one pass in date order: a transaction that needs both modes asks for them
    at once, never exclusive after shared (two such would deadlock)."""
    if not postgres():
        return  # SQLite has a single writer
    if client_id is None:
        exclusive = set(days)
        for day in sorted(exclusive | set(shared)):
            lock = func.pg_advisory_xact_lock if day in exclusive else func.pg_advisory_xact_lock_shared
            db.session.execute(select(lock(LOCK_CLASS, day.toordinal())))
        return
    keys = _lock_keys(days, client_id)
    if keys:  # one statement for all the days, taken in the array's (ascending) order
        db.session.execute(_LOCK_KEYS, {"keys": keys})


def _lock_keys(days: Iterable[date], client_id: int) -> list[int]:
    """The advisory-lock keys of a client's days, in ascending order (one order for everyone)."""
    return [(CLIENT_LOCK_CLASS << 56) | (client_id << 24) | day.toordinal() for day in sorted(set(days))]


def _day_records(client_id: int, pairs: Sequence[DayKey], skip: Sequence[int] = ()) -> Iterator[Any]:
    """The client's records of some (type, day) pairs, but those of ids ``skip``."""
    for part in chunks(list(pairs)):
        query = select(Stats.type, Stats.date, Stats.data, Stats.n).where(
            Stats.client_id == client_id, tuple_(Stats.type, Stats.date).in_(list(part))
        )
        if skip:
            query = query.where(Stats.id.not_in(list(skip)))
        yield from db.session.execute(query)


def resync(
    client_id: int, pairs: Iterable[DayKey], fresh: Sequence[tuple[int, str, date, Any, float]] = ()
) -> None:
    """Recompute one client's sums of some (type, day) pairs from its records: those just written
    (``fresh``: ``(id, type, day, data, n)``, already in memory) and the others it holds those
    days (read back)."""
    pairs = sorted(set(pairs))
    if not pairs:
        return
    records: dict[DayKey, list[tuple[Any, float]]] = {pair: [] for pair in pairs}
    for _id, t, day, data, n in fresh:
        records[(t, day)].append((data, n))
    for t, day, data, n in _day_records(client_id, pairs, [row[0] for row in fresh]):
        records[(t, day)].append((data, n))
    store(client_id, {(t, day): record_sums(REGISTRY[t], found) for (t, day), found in records.items()})


def delete_records(*where: ColumnElement) -> int:
    """Delete the records matching ``where`` and bring the sums of their days up to date; return
    how many were deleted. The caller commits."""
    affected = db.session.execute(
        select(Stats.client_id, Stats.type, Stats.date).where(*where).distinct()
    ).all()
    removed = db.session.execute(delete(Stats).where(*where)).rowcount
    per_client: dict[int, list[DayKey]] = {}
    for client_id, t, day in affected:
        per_client.setdefault(client_id, []).append((t, day))
    for client_id, pairs in sorted(per_client.items()):  # every client's lock before any day's lock
        lock_days({day for _t, day in pairs}, client_id)
    for client_id, pairs in sorted(per_client.items()):
        resync(client_id, pairs)
    return removed


def forget_client(client_id: int) -> None:
    """Drop whatever day sums a deleted client still has (its records' days were brought up to
    date by ``delete_records``; ``client_day`` has no foreign key to cascade on)."""
    db.session.execute(delete(ClientDay).where(ClientDay.client_id == client_id))


def forget_before(cutoff: date) -> None:
    """Drop the sums of every day before ``cutoff`` (a purge deletes all of those days' records;
    their public releases go with them, ``storage.release.forget_before``)."""
    db.session.execute(delete(ClientDay).where(ClientDay.date < cutoff))
    db.session.execute(delete(RollupDay).where(RollupDay.date < cutoff))
