"""Queries behind federation: the outbox of what is sent to the global hub (each day's public
release, ``storage.release``, copied once), and the community series a pull stores."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, select

from statsservice.clock import utcnow
from statsservice.extensions import db
from statsservice.storage.models import (
    CommunitySeries,
    FederationDelivery,
)

PENDING, DELIVERED, WITHDRAWN = "pending", "delivered", "withdrawn"


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
