"""Counts that describe the hub as a whole (for /metrics): records by type, clients, job outcomes."""

from __future__ import annotations

from sqlalchemy import func, select

from statsservice.extensions import db
from statsservice.storage.jobs import statuses
from statsservice.storage.models import Client
from statsservice.storage.stats import count_by_type


def client_counts() -> dict[tuple[bool, bool], int]:
    """Registered clients by ``(local, active)``."""
    rows = db.session.execute(
        select(Client.local, Client.is_active, func.count()).group_by(Client.local, Client.is_active)
    )
    return {(bool(local), bool(active)): count for local, active, count in rows}


__all__ = ["client_counts", "count_by_type", "statuses"]
