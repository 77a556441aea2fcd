"""Queries behind the retention commands: purge by age, remove duplicate snapshots, delete a
client's records, and the last upload of each client. The per-day sums follow every delete
(``storage.sums``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from sqlalchemy import delete, func, select

from statsservice.domain.retention import Snapshot, digest
from statsservice.extensions import db
from statsservice.storage import partitions, release, sums
from statsservice.storage.models import Client, ClientLabel, Stats

DELETE_CHUNK = 500


def count_before(cutoff: date) -> int:
    return db.session.scalar(select(func.count()).select_from(Stats).where(Stats.date < cutoff)) or 0


def purge_before(cutoff: date) -> int:
    """Delete every record dated before ``cutoff``; the caller commits (one transaction).

    Their public releases go too; the federation outbox of those days stays: a day is released
    once, whatever happens to its records (the global hub's retention is its own). Labels go with
    the last record of their client and type: nobody's free text outlives their data. On
    PostgreSQL the months wholly before ``cutoff`` go as whole partitions (``storage.partitions``),
    the rest row by row.
    """
    sums.forget_before(cutoff)
    release.forget_before(cutoff)
    removed = partitions.drop_before(cutoff)
    removed += db.session.execute(delete(Stats).where(Stats.date < cutoff)).rowcount
    forget_orphan_labels()
    return removed


def forget_orphan_labels() -> int:
    """Delete the labels of a client for a type it has no record of any more."""
    still_used = (
        select(Stats.id)
        .where(Stats.client_id == ClientLabel.client_id, Stats.type == ClientLabel.type)
        .exists()
    )
    return db.session.execute(delete(ClientLabel).where(~still_used)).rowcount


def iter_snapshots(stats_type: str | None = None, before: date | None = None) -> Iterator[Snapshot]:
    """Every record (optionally of one type, dated before ``before``), series by series in date
    order, streamed so a large table never sits in memory."""
    query = select(Stats.id, Stats.client_id, Stats.anr, Stats.type, Stats.date, Stats.data)
    if stats_type:
        query = query.where(Stats.type == stats_type)
    if before:
        query = query.where(Stats.date < before)
    query = query.order_by(Stats.client_id, Stats.anr, Stats.type, Stats.date).execution_options(
        yield_per=500
    )
    for row in db.session.execute(query):
        yield Snapshot(row.id, (row.client_id, row.anr, row.type), row.date, digest(row.data))


def delete_ids(ids: Iterable[int]) -> int:
    """Delete records by id in chunks (bounded statements); the caller commits."""
    ids = list(ids)
    removed = 0
    for start in range(0, len(ids), DELETE_CHUNK):
        chunk = ids[start : start + DELETE_CHUNK]
        removed += sums.delete_records(Stats.id.in_(chunk))
    return removed


def delete_client_stats(client_id: int) -> int:
    """Delete every record of one client (the client stays registered); the caller commits."""
    return sums.delete_records(Stats.client_id == client_id)


def last_uploads(stats_type: str | None = None, client_id: int | None = None) -> list:
    """Per client and type: the last day with records, how many analyses it has, all records.

    Rows ``(uuid, name, type, last_date, analyses_on_last_date, records)``, latest first.
    """
    per_type = select(
        Stats.client_id,
        Stats.type,
        func.max(Stats.date).label("last_date"),
        func.count().label("records"),
    ).group_by(Stats.client_id, Stats.type)
    if stats_type:
        per_type = per_type.where(Stats.type == stats_type)
    if client_id is not None:
        per_type = per_type.where(Stats.client_id == client_id)
    per_type = per_type.subquery()
    on_last = (
        select(func.count())
        .where(
            Stats.client_id == per_type.c.client_id,
            Stats.type == per_type.c.type,
            Stats.date == per_type.c.last_date,
        )
        .scalar_subquery()
    )
    query = (
        select(Client.uuid, Client.name, per_type.c.type, per_type.c.last_date, on_last, per_type.c.records)
        .join(Client, Client.id == per_type.c.client_id)
        .order_by(per_type.c.last_date.desc(), Client.name, per_type.c.type)
    )
    return list(db.session.execute(query).all())
