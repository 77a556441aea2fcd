"""Read-only queries behind the public dashboard: hub-wide counts and the pulled community series.
Every count comes from released data (``storage.release``); nothing here returns a client's name
or uuid."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select

from statsservice.extensions import db
from statsservice.storage import release
from statsservice.storage.models import Client, CommunitySeries, PublicRelease, Stats, Weather


@dataclass(frozen=True, slots=True)
class HubSummary:
    """Exact counts over released data; the public faces coarsen them (``domain.release.coarsen``)."""

    clients: int
    #: the most organisations behind one of this hub's released days
    organisations: int
    #: the most analyses behind one of this hub's released days
    analyses: int
    #: records behind this hub's released days (one per analysis and day)
    records: int
    #: other hubs whose aggregates this hub holds (a global hub's), the analyses behind them (each
    #: hub for its largest day) and their aggregate records
    hubs: int = 0
    hub_analyses: int = 0
    hub_records: int = 0
    #: per type: (this hub's records, other hubs' aggregate records)
    by_type: dict[str, tuple[int, int]] = field(default_factory=dict)
    first_date: date | None = None
    last_date: date | None = None


def summary() -> HubSummary:
    """Counts for the About page."""
    found = release.coverage()
    clients = db.session.scalar(select(func.count()).select_from(Client).where(Client.is_active.is_(True)))
    return HubSummary(
        clients=clients or 0,
        organisations=found.organisations,
        analyses=found.analyses,
        records=found.records,
        hubs=found.hubs,
        hub_analyses=found.hub_analyses,
        hub_records=found.hub_records,
        by_type=release.records_by_type(),
        first_date=found.first_date,
        last_date=found.last_date,
    )


def community_processors() -> dict[str, str]:
    """Processors with a pulled community series (``stats_pull``), with their period."""
    rows = db.session.execute(select(CommunitySeries.processor, CommunitySeries.period))
    return {row.processor: row.period for row in rows}


def last_change() -> datetime | None:
    """When anything a public face shows last changed: a release, another hub's aggregate, a pull
    of community series, the weather (naive UTC, as stored)."""
    found = [
        db.session.scalar(select(func.max(PublicRelease.released_at))),
        db.session.scalar(select(func.max(Stats.updated_at)).where(*release.hub_records())),
        db.session.scalar(select(func.max(CommunitySeries.fetched_at))),
        db.session.scalar(select(func.max(Weather.updated_at))),
    ]
    return max((moment for moment in found if moment is not None), default=None)
