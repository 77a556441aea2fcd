"""Read-only queries behind the public dashboard: hub-wide counts, the newest day with data and
the clients that have map coordinates. Nothing here returns a client's name or uuid."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select

from statsservice.domain.release import ReleaseRules
from statsservice.domain.sums import RECORDS
from statsservice.extensions import db
from statsservice.storage.cells import key_sums
from statsservice.storage.models import Client, ClientDay, CommunitySeries, RollupKey, Stats
from statsservice.storage.stats import StatsFilter, _apply


@dataclass(frozen=True, slots=True)
class HubSummary:
    clients: int
    #: clients with records: on a global hub, the hubs whose aggregates it holds
    organisations: int
    analyses: int
    records: int
    by_type: dict[str, int] = field(default_factory=dict)
    first_date: date | None = None
    last_date: date | None = None


@dataclass(frozen=True, slots=True)
class MappedClient:
    """Internal id (never published) and coordinates of a client shown on the map."""

    id: int
    latitude: float
    longitude: float
    local: bool


def summary() -> HubSummary:
    """Counts for the About page; one pass over ``stats`` per figure, cheap with its indexes."""
    by_type = dict(db.session.execute(select(Stats.type, func.count()).group_by(Stats.type)).all())
    organisations, analyses = coverage(StatsFilter())
    first, last = db.session.execute(select(func.min(Stats.date), func.max(Stats.date))).one()
    clients = db.session.scalar(select(func.count()).select_from(Client).where(Client.is_active.is_(True)))
    return HubSummary(
        clients=clients or 0,
        organisations=organisations,
        analyses=analyses,
        records=sum(by_type.values()),
        by_type=by_type,
        first_date=first,
        last_date=last,
    )


def latest_date(stats_type: str, *, local_only: bool = False) -> date | None:
    """The newest day with records of ``stats_type``: what ``last_stats`` selects."""
    query = select(func.max(Stats.date)).where(Stats.type == stats_type)
    if local_only:
        query = query.where(Stats.client_id.in_(select(Client.id).where(Client.local.is_(True))))
    return db.session.scalar(query)


def has_records(stats_type: str | None = None) -> bool:
    query = select(Stats.id).limit(1)
    if stats_type:
        query = query.where(Stats.type == stats_type)
    return db.session.scalar(query) is not None


def mapped_clients() -> list[MappedClient]:
    """Active, sharing clients with both coordinates, in a stable order (a client that does not
    share is not on the map at all)."""
    rows = db.session.execute(
        select(Client.id, Client.latitude, Client.longitude, Client.local)
        .where(
            Client.is_active.is_(True),
            Client.is_sharing_enabled.is_(True),
            Client.latitude.is_not(None),
            Client.longitude.is_not(None),
        )
        .order_by(Client.id)
    )
    return [MappedClient(id=r.id, latitude=r.latitude, longitude=r.longitude, local=r.local) for r in rows]


def community_processors() -> dict[str, str]:
    """Processors with a pulled community series (``stats_pull``), with their period."""
    rows = db.session.execute(select(CommunitySeries.processor, CommunitySeries.period))
    return {row.processor: row.period for row in rows}


def coverage(selection: StatsFilter) -> tuple[int, int]:
    """(organisations, analyses) behind a selection, so a chart can say what it stands on.

    Organisations are distinct clients (on a global hub: the hubs). Uploaded records (``n`` = 1)
    count their distinct analyses. A federation aggregate stands for ``n`` analyses under a new
    pseudonym every day, so for aggregates a hub counts for its largest day (the most analyses it
    aggregated on one day of one type), never the sum over days.
    """
    organisations = db.session.scalar(_apply(select(func.count(func.distinct(Stats.client_id))), selection))
    uploaded = _apply(select(Stats.client_id, Stats.anr).where(Stats.n <= 1).distinct(), selection).subquery()
    per_day = _apply(
        select(Stats.client_id, func.sum(Stats.n).label("n"))
        .where(Stats.n > 1)
        .group_by(Stats.client_id, Stats.type, Stats.date),
        selection,
    ).subquery()
    per_hub = select(func.max(per_day.c.n).label("n")).group_by(per_day.c.client_id).subquery()
    analyses = (db.session.scalar(select(func.count()).select_from(uploaded)) or 0) + (
        db.session.scalar(select(func.coalesce(func.sum(per_hub.c.n), 0))) or 0
    )
    return int(organisations or 0), int(analyses)


def top_released(
    stats_type: str, client_ids: list[int], date_from: date, date_to: date, rules: ReleaseRules, index: int
) -> tuple[str, float] | None:
    """Among the elements of some clients' records that pass ``rules`` over the window, the one
    with the highest weighted mean of ``m{index + 1}``: (key, mean), or None."""
    where = [
        RollupKey.type == stats_type,
        ClientDay.client_id.in_(client_ids),
        ClientDay.date >= date_from,
        ClientDay.date <= date_to,
    ]
    best: tuple[str, float] | None = None
    for row in db.session.connection().execute(key_sums([], where)):
        key, n, sums, clients, top = row[0], float(row[5]), row[6:9], int(row[9]), float(row[10])
        if tuple(row[:4]) == RECORDS or not n or not rules.allows(clients, n, top):
            continue
        mean = float(sums[index]) / n
        if best is None or (mean, key) > (best[1], best[0]):
            best = (key, mean)
    return best
