"""The differential-privacy ledger (``dp_ledger``): every DP release and what it spent, and the
budgets hubs declared for what they pushed to a global hub (``hub_privacy``).

The ledger lives in the database, so it survives restarts, re-plans and a lost outbox: a release
drawn again is a new row that spends again. ``lock`` makes the check of the budget and the row that
spends it one step for concurrent runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, func, select, text

from statsservice.domain.federation.privacy import Spec
from statsservice.extensions import db
from statsservice.storage.models import Client, DpLedger, HubPrivacy, PublicRelease, Stats

SELECTION, RELEASE = "selection", "release"
#: pg_advisory_xact_lock key of the ledger (any constant unique to this purpose)
LEDGER_LOCK = 0x44504C47  # "DPLG"


def lock() -> None:
    """Take the ledger for this transaction: a concurrent run checks the budget after this one
    committed what it spent (PostgreSQL: an advisory lock; SQLite: its write lock, taken now)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(LEDGER_LOCK)))
    else:
        db.session.execute(text("UPDATE dp_ledger SET id = id WHERE id < 0"))


def entries(year: int) -> list[DpLedger]:
    """A year's rows, oldest first."""
    return list(db.session.scalars(select(DpLedger).where(DpLedger.year == year).order_by(DpLedger.id)))


def specs(rows: Iterable[DpLedger]) -> list[Spec]:
    """The OpenDP measurements of rows, rebuilt from their parameters."""
    return [Spec.from_json(item) for row in rows for item in (row.specs or [])]


def years() -> list[int]:
    return list(db.session.scalars(select(DpLedger.year).group_by(DpLedger.year).order_by(DpLedger.year)))


def add(
    *,
    year: int,
    stats_type: str,
    period: str,
    start: date,
    end: date,
    mechanism: str,
    rho: float,
    epsilon: float,
    delta: float,
    spent: Sequence[Spec],
    detail: dict[str, Any],
) -> DpLedger:
    """Record what a release spent (the caller commits it with the release itself)."""
    row = DpLedger(
        year=year,
        type=stats_type,
        period=period,
        date=start,
        date_to=end,
        mechanism=mechanism,
        rho=rho,
        epsilon=epsilon,
        delta=delta,
        specs=[spec.to_json() for spec in spent],
        detail=detail,
    )
    db.session.add(row)
    db.session.flush()
    return row


def selection(stats_type: str, year: int) -> list[tuple[str, str, str, str]] | None:
    """The objects the year's newest non-empty selection of a type chose (None: none made yet)."""
    query = (
        select(DpLedger.detail)
        .where(DpLedger.year == year, DpLedger.type == stats_type, DpLedger.mechanism == SELECTION)
        .order_by(DpLedger.id.desc())
    )
    for detail in db.session.scalars(query):
        keys = [tuple(key) for key in (detail or {}).get("keys", [])]
        if keys:
            return keys  # type: ignore[return-value]
    return None


def exact_since(year: int) -> date | None:
    """The first day of ``year`` released by a DP period, when days of that year were released
    exactly before (then the year's budget does not cover them: the about page says so)."""
    bounds = (PublicRelease.date >= date(year, 1, 1), PublicRelease.date <= date(year, 12, 31))
    exact = db.session.scalar(
        select(func.count()).where(*bounds, PublicRelease.period == "day", PublicRelease.status == "released")
    )
    if not exact:
        return None
    return db.session.scalar(
        select(func.min(PublicRelease.date)).where(*bounds, PublicRelease.period != "day")
    )


# --- on a global hub: what hubs declared -------------------------------------------------------


def declare(client_id: int, records: Iterable[tuple[str, str, date, dict[str, Any] | None]]) -> None:
    """Keep the ``dp`` block of each stored hub aggregate ``(anr, type, date, dp)``; an aggregate
    without one is exact (the caller commits with the records)."""
    rows = list(records)
    if not rows:
        return
    db.session.execute(
        delete(HubPrivacy).where(HubPrivacy.client_id == client_id, HubPrivacy.anr.in_({r[0] for r in rows}))
    )
    for anr, stats_type, day, block in rows:
        if block is None:
            continue
        db.session.add(
            HubPrivacy(
                client_id=client_id,
                anr=anr,
                type=stats_type,
                date=day,
                period=block["period"],
                date_to=block["date_to"],
                year=block["year"],
                epsilon=block["epsilon"],
                delta=block["delta"],
                noise=block.get("noise", {}),
            )
        )


def forget(client_id: int, anr: str) -> None:
    """A hub withdrew an aggregate: its declaration goes with it."""
    db.session.execute(delete(HubPrivacy).where(HubPrivacy.client_id == client_id, HubPrivacy.anr == anr))


@dataclass(frozen=True, slots=True)
class DeclaredBudget:
    """Hub aggregates released under one declared budget (a global hub's about page)."""

    epsilon: float
    delta: float
    period: str
    hubs: int
    releases: int
    first_date: date
    last_date: date
    types: tuple[str, ...]


def declared() -> tuple[int, list[DeclaredBudget]]:
    """(exact hub aggregates, the DP ones grouped by budget and period) of active hub clients."""
    hub_ids = select(Client.id).where(Client.local.is_(False), Client.is_active.is_(True))
    total = (
        db.session.scalar(select(func.count()).select_from(Stats).where(Stats.client_id.in_(hub_ids))) or 0
    )
    groups: dict[tuple[float, float, str], list[HubPrivacy]] = defaultdict(list)
    for row in db.session.scalars(select(HubPrivacy).where(HubPrivacy.client_id.in_(hub_ids))):
        groups[(row.epsilon, row.delta, row.period)].append(row)
    budgets = [
        DeclaredBudget(
            epsilon,
            delta,
            period,
            len({r.client_id for r in rows}),
            len(rows),
            min(r.date for r in rows),
            max(r.date_to for r in rows),
            tuple(sorted({r.type for r in rows})),
        )
        for (epsilon, delta, period), rows in sorted(groups.items())
    ]
    return int(total) - sum(b.releases for b in budgets), budgets
