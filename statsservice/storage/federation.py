"""Queries behind federation: the records a push aggregates, its delivery watermark, and the
community series a pull stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from itertools import groupby
from typing import Any

from sqlalchemy import delete, select

from statsservice.clock import utcnow
from statsservice.extensions import db
from statsservice.storage.models import Client, CommunitySeries, FederationDelivery, Stats


def iter_shared_days(
    stats_type: str, date_from: date, date_to: date
) -> Iterator[tuple[date, list[tuple[Any, int]]]]:
    """Per day, the ``(data, n)`` of every record of sharing-enabled clients, streamed."""
    query = (
        select(Stats.date, Stats.data, Stats.n)
        .join(Client, Client.id == Stats.client_id)
        .where(
            Client.is_sharing_enabled.is_(True),
            Client.is_active.is_(True),
            Stats.type == stats_type,
            Stats.date >= date_from,
            Stats.date <= date_to,
        )
        .order_by(Stats.date)
        .execution_options(yield_per=500)
    )
    rows = db.session.execute(query)
    for day, group in groupby(rows, key=lambda row: row.date):
        yield day, [(row.data, row.n) for row in group]


def deliveries(date_from: date, date_to: date) -> dict[tuple[str, date], FederationDelivery]:
    query = select(FederationDelivery).where(
        FederationDelivery.date >= date_from, FederationDelivery.date <= date_to
    )
    return {(d.type, d.date): d for d in db.session.scalars(query)}


def mark_delivered(stats_type: str, day: date, digest: str, analyses: int) -> None:
    row = db.session.scalar(
        select(FederationDelivery).where(
            FederationDelivery.type == stats_type, FederationDelivery.date == day
        )
    )
    if row is None:
        row = FederationDelivery(type=stats_type, date=day)
        db.session.add(row)
    row.digest, row.analyses, row.delivered_at = digest, analyses, utcnow()


def forget_delivery(stats_type: str, day: date) -> None:
    db.session.execute(
        delete(FederationDelivery).where(
            FederationDelivery.type == stats_type, FederationDelivery.date == day
        )
    )


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
