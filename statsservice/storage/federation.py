"""Queries behind federation: the per-key sums of a day over sharing clients (the same SQL the
processors' ``rollup_day`` is built with), the release-once outbox, and the community series a
pull stores."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.sql.elements import ColumnElement

from statsservice.clock import utcnow
from statsservice.domain.federation.aggregates import CellCount, DayInput
from statsservice.domain.stats_types.base import KeySums
from statsservice.domain.sums import RECORDS
from statsservice.extensions import db
from statsservice.storage.cells import key_sums
from statsservice.storage.models import (
    Client,
    ClientDay,
    CommunitySeries,
    FederationDelivery,
    RollupKey,
    Stats,
)
from statsservice.storage.processed import labels_for

PENDING, DELIVERED, WITHDRAWN = "pending", "delivered", "withdrawn"


def _sharing() -> list[ColumnElement]:
    """The clients whose records may be released upward: demo clients never are."""
    return [
        Client.is_sharing_enabled.is_(True),
        Client.is_active.is_(True),
        Client.local.is_(True),
        Client.is_demo.is_(False),
    ]


def shared_days(stats_type: str, date_from: date, date_to: date) -> list[date]:
    """Days of the window with records of sharing clients, oldest first."""
    query = (
        select(Stats.date)
        .join(Client, Client.id == Stats.client_id)
        .where(*_sharing(), Stats.type == stats_type, Stats.date >= date_from, Stats.date <= date_to)
        .group_by(Stats.date)
        .order_by(Stats.date)
    )
    return list(db.session.scalars(query))


def day_input(stats_type: str, day: date, label_type: str, min_clients: int) -> DayInput:
    """Per key of one day over sharing clients: sums, organisations and top share."""
    where = [*_sharing(), RollupKey.type == stats_type, ClientDay.date == day]
    records, organisations, cells = 0.0, 0, []
    for k1, k2, k3, k4, _entries, n, s1, s2, s3, c, t in db.session.execute(key_sums([], where)):
        if (k1, k2, k3, k4) == RECORDS:
            records, organisations = float(n or 0), int(c or 0)
            continue
        cells.append(
            CellCount(
                KeySums((k1, k2, k3, k4), float(n), (float(s1), float(s2), float(s3))), int(c), float(t)
            )
        )
    labels = {}
    if label_type:
        keys = {c.sums.key[0] for c in cells} | {f"{c.sums.key[0]}/{c.sums.key[1]}" for c in cells}
        labels = labels_for(label_type, keys, needed=min_clients, voters=_sharing())
    return DayInput(stats_type, day, records, organisations, cells, labels)


def day_records(stats_type: str, day: date) -> list[tuple[int, Any, int]]:
    """``(client id, data, n)`` of each record of one day over sharing clients: what differential
    privacy clips per organisation (``domain/federation/noise.py``)."""
    query = (
        select(Stats.client_id, Stats.data, Stats.n)
        .join(Client, Client.id == Stats.client_id)
        .where(*_sharing(), Stats.type == stats_type, Stats.date == day)
        .order_by(Stats.id)
    )
    return [(client_id, data, n or 1) for client_id, data, n in db.session.execute(query)]


def releases(
    date_from: date | None = None, date_to: date | None = None
) -> dict[tuple[str, date], FederationDelivery]:
    """Outbox rows (any status) in the window: days already released, or being released."""
    query = select(FederationDelivery)
    if date_from:
        query = query.where(FederationDelivery.date >= date_from)
    if date_to:
        query = query.where(FederationDelivery.date <= date_to)
    return {(d.type, d.date): d for d in db.session.scalars(query)}


def pending() -> list[FederationDelivery]:
    query = select(FederationDelivery).where(FederationDelivery.status == PENDING)
    return list(db.session.scalars(query.order_by(FederationDelivery.date, FederationDelivery.type)))


def add_release(stats_type: str, day: date, payload: dict[str, Any], digest: str, analyses: int) -> None:
    """Fix the payload of a day's release (the caller commits before sending it)."""
    db.session.add(
        FederationDelivery(
            type=stats_type, date=day, digest=digest, analyses=analyses, payload=payload, status=PENDING
        )
    )


def mark_delivered(row: FederationDelivery) -> None:
    row.status, row.delivered_at = DELIVERED, utcnow()


def mark_withdrawn(stats_type: str, day: date) -> None:
    """Record a withdrawn (type, day): never sent again, whatever its data becomes."""
    row = db.session.scalar(
        select(FederationDelivery).where(
            FederationDelivery.type == stats_type, FederationDelivery.date == day
        )
    )
    if row is None:
        row = FederationDelivery(type=stats_type, date=day, digest="", analyses=0)
        db.session.add(row)
    row.status, row.payload, row.delivered_at = WITHDRAWN, None, utcnow()


def replace_community_series(series: list[dict[str, Any]]) -> None:
    """Replace every pulled series at once (one transaction; the caller commits)."""
    db.session.execute(delete(CommunitySeries))
    now = utcnow()
    for item in series:
        db.session.add(CommunitySeries(fetched_at=now, **item))


def community_series(processor: str, period: str) -> CommunitySeries | None:
    return db.session.scalar(
        select(CommunitySeries).where(
            CommunitySeries.processor == processor, CommunitySeries.period == period
        )
    )
