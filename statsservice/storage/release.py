"""The public release: each (type, day) released once, when it is ``FEDERATION_DELAY_DAYS`` old,
from the sharing organisations' data, and fixed (SPEC §7, docs/PRIVACY.md).

What is written here is all any public face reads: the release's payload (the aggregate record
the push sends), its sums (``rollup_day`` rows with ``local``), its labels (``public_label``) and,
for the map, the released cells of each area (``public_area_day``). The reads below (coverage,
counts, newest day, map areas) read only those and the aggregates other hubs released.

Which organisations make a day's release: the active, sharing clients of this hub; demo clients
only on a day no real client has a record of (a demo client never counts towards k beside real
ones: its data is known, so it would single them out), and such a release is never pushed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.sql.elements import ColumnElement

from statsservice.clock import utcnow
from statsservice.domain.federation.aggregates import CellCount, DayInput, Outgoing, Withheld, digest
from statsservice.domain.registry import REGISTRY
from statsservice.domain.release import ReleaseRules, area_of, majority_label
from statsservice.domain.stats_types.base import KeySums
from statsservice.domain.sums import RECORDS, record_sums
from statsservice.extensions import db
from statsservice.storage.cells import key_sums
from statsservice.storage.models import (
    Client,
    ClientDay,
    ClientLabel,
    PublicAreaDay,
    PublicLabel,
    PublicRelease,
    RollupDay,
    RollupKey,
    Stats,
)
from statsservice.storage.sums import chunks, dialect_insert, key_ids

RELEASED, WITHHELD, WITHDRAWN = "released", "withheld", "withdrawn"
#: the stats types the map shows the top object of, and the mean it ranks them by (``m2``)
MAP_TYPES = ("threat", "vulnerability")


# --- who stands behind a release ---------------------------------------------------------------


def sharing(*, demo: bool = False) -> list[ColumnElement]:
    """The clients whose records a release is made of: this hub's active, sharing clients, the
    demo ones (``demo``) or the real ones."""
    return [
        Client.is_sharing_enabled.is_(True),
        Client.is_active.is_(True),
        Client.local.is_(True),
        Client.is_demo.is_(demo),
    ]


def hubs() -> list[ColumnElement]:
    """Other hubs (a global hub's hub clients): their records are aggregates already released."""
    return [Client.local.is_(False), Client.is_active.is_(True)]


def population(stats_type: str, day: date) -> tuple[list[ColumnElement], bool]:
    """Who makes the release of a (type, day): the real sharing clients when one of them has a
    record of it, else the demo clients; and whether that is the demo."""
    real = db.session.scalar(
        select(Stats.id)
        .join(Client, Client.id == Stats.client_id)
        .where(*sharing(), Stats.type == stats_type, Stats.date == day)
        .limit(1)
    )
    return (sharing(), False) if real is not None else (sharing(demo=True), True)


def candidate_days(stats_type: str, date_from: date | None, date_to: date) -> list[date]:
    """Days with records of this hub's sharing clients (demo included), oldest first."""
    query = (
        select(Stats.date)
        .join(Client, Client.id == Stats.client_id)
        .where(
            Client.is_sharing_enabled.is_(True),
            Client.is_active.is_(True),
            Client.local.is_(True),
            Stats.type == stats_type,
            Stats.date <= date_to,
        )
        .group_by(Stats.date)
        .order_by(Stats.date)
    )
    if date_from is not None:
        query = query.where(Stats.date >= date_from)
    return list(db.session.scalars(query))


def releases_of(stats_type: str | None = None) -> dict[tuple[str, date], PublicRelease]:
    """Every release row (any status), by (type, day)."""
    query = select(PublicRelease)
    if stats_type is not None:
        query = query.where(PublicRelease.type == stats_type)
    return {(r.type, r.date): r for r in db.session.scalars(query)}


def day_input(
    stats_type: str, day: date, label_type: str, min_clients: int, who: Sequence[ColumnElement]
) -> DayInput:
    """Per key of one day over the clients ``who``: sums, organisations and top share, and the
    labels at least ``min_clients`` of them use."""
    where = [*who, RollupKey.type == stats_type, ClientDay.date == day]
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
        labels = client_labels(label_type, keys, min_clients, who)
    return DayInput(stats_type, day, records, organisations, cells, labels)


def period_records(
    stats_type: str, start: date, end: date, who: Sequence[ColumnElement]
) -> list[tuple[int, Any, int]]:
    """``(client id, data, n)`` of each record of a period over the clients ``who``: what
    differential privacy bounds per organisation (``domain/federation/indicators.py``)."""
    query = (
        select(Stats.client_id, Stats.data, Stats.n)
        .join(Client, Client.id == Stats.client_id)
        .where(*who, Stats.type == stats_type, Stats.date >= start, Stats.date <= end)
        .order_by(Stats.id)
    )
    return [(client_id, data, n or 1) for client_id, data, n in db.session.execute(query)]


def period_population(stats_type: str, start: date, end: date) -> tuple[list[ColumnElement], bool]:
    """Who makes the DP release of a (type, period): as ``population``, over the period's days."""
    real = db.session.scalar(
        select(Stats.id)
        .join(Client, Client.id == Stats.client_id)
        .where(*sharing(), Stats.type == stats_type, Stats.date >= start, Stats.date <= end)
        .limit(1)
    )
    return (sharing(), False) if real is not None else (sharing(demo=True), True)


def period_rows(stats_type: str | None = None) -> list[PublicRelease]:
    """Release rows of whole periods (DP mode), any status."""
    query = select(PublicRelease).where(PublicRelease.period != "day")
    if stats_type is not None:
        query = query.where(PublicRelease.type == stats_type)
    return list(db.session.scalars(query.order_by(PublicRelease.date)))


def exact_days(stats_type: str, start: date, end: date) -> int:
    """How many days of a period were released exactly (a DP period never covers them again)."""
    return int(
        db.session.scalar(
            select(func.count()).where(
                PublicRelease.type == stats_type,
                PublicRelease.period == "day",
                PublicRelease.status == RELEASED,
                PublicRelease.date >= start,
                PublicRelease.date <= end,
            )
        )
        or 0
    )


def store_period(
    stats_type: str,
    start: date,
    period: str,
    *,
    payload: dict[str, Any] | None,
    organisations: int,
    demo: bool,
    reason: str = "",
) -> PublicRelease:
    """Fix a (type, period)'s DP release with its sums and labels, or that it is withheld for now
    (``payload`` None, ``reason``); the caller commits."""
    row = db.session.scalar(
        select(PublicRelease).where(PublicRelease.type == stats_type, PublicRelease.date == start)
    )
    if row is None:
        row = PublicRelease(type=stats_type, date=start)
        db.session.add(row)
    row.period, row.demo, row.released_at = period, demo, utcnow()
    row.organisations = row.analyses = organisations  # the released (noisy) number: nothing exact
    row.suppressed_k = row.suppressed_dominance = 0
    if payload is None:
        row.status, row.reason, row.payload, row.digest, row.summed = WITHHELD, reason, None, "", True
        return row
    row.status, row.reason, row.payload, row.digest, row.summed = (
        RELEASED,
        "",
        payload,
        digest(payload),
        False,
    )
    db.session.flush()
    add_sums(row)
    return row


def client_labels(
    label_type: str, keys: Iterable[str], needed: int, who: Sequence[ColumnElement]
) -> dict[str, dict[str, str]]:
    """The labels most of the clients ``who`` use for ``keys``, kept only when at least
    ``needed`` of them use exactly those (a label few typed is their free text)."""
    votes: dict[str, list[dict[str, str]]] = defaultdict(list)
    for chunk in chunks(sorted(keys)):
        query = (
            select(ClientLabel.key, ClientLabel.labels)
            .join(Client, Client.id == ClientLabel.client_id)
            .where(ClientLabel.type == label_type, ClientLabel.key.in_(chunk), *who)
        )
        for key, labels in db.session.execute(query):
            votes[key].append(labels)
    return {key: label for key, found in votes.items() if (label := majority_label(found, needed))}


# --- making a release --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Made:
    """What was decided for one (type, day): its release or why it is withheld."""

    result: Outgoing | Withheld
    organisations: int
    demo: bool


def store(made: Made) -> PublicRelease:
    """Fix a (type, day)'s release (or that it is withheld for now) with its sums, labels and map
    areas; the caller commits."""
    result = made.result
    row = db.session.scalar(
        select(PublicRelease).where(PublicRelease.type == result.type, PublicRelease.date == result.date)
    )
    if row is None:
        row = PublicRelease(type=result.type, date=result.date)
        db.session.add(row)
    row.period = "day"  # a period DP mode withheld, released as a day in exact mode
    row.organisations, row.demo, row.released_at = made.organisations, made.demo, utcnow()
    row.analyses = int(result.analyses)
    row.suppressed_k = int(result.suppressed.get("k", 0))
    row.suppressed_dominance = int(result.suppressed.get("dominance", 0))
    if isinstance(result, Withheld):
        row.status, row.reason, row.payload, row.digest, row.summed = WITHHELD, result.reason, None, "", True
        return row
    row.status, row.reason, row.payload, row.digest = RELEASED, "", result.payload, result.digest
    row.summed = False
    db.session.flush()
    add_sums(row)
    return row


def add_sums(row: PublicRelease) -> None:
    """Write a release's public sums and labels: its payload exploded with its weight, as a
    global hub explodes the same record (so both faces read the very same cells)."""
    stats_type = REGISTRY[row.type]
    payload = row.payload or {}
    data = stats_type.load(payload["data"])
    weight = float(payload["n"])
    sums = record_sums(stats_type, [(data, weight)])
    ids = key_ids((row.type, key) for key in sums)
    rows = [
        {"key_id": ids[(row.type, key)], "date": row.date, "local": True, "entries": int(entries)}
        | {"n": n, "s1": s1, "s2": s2, "s3": s3, "clients": row.organisations, "top": 0.0}
        for key, (entries, n, s1, s2, s3) in sums.items()
    ]
    of_type = select(RollupKey.id).where(RollupKey.type == row.type).scalar_subquery()
    db.session.execute(
        delete(RollupDay).where(
            RollupDay.date == row.date, RollupDay.local.is_(True), RollupDay.key_id.in_(of_type)
        )
    )
    if rows:
        db.session.execute(dialect_insert()(RollupDay), rows)
    labels = [
        {"type": row.type, "key": entry.key, "labels": entry.labels, "date": row.date}
        for entry in stats_type.labels(data)
    ]
    if labels:
        statement = dialect_insert()(PublicLabel)
        newer = statement.excluded.date >= PublicLabel.date
        statement = statement.on_conflict_do_update(
            index_elements=[PublicLabel.type, PublicLabel.key],
            set_={"labels": statement.excluded.labels, "date": statement.excluded.date},
            where=newer,
        )
        db.session.execute(statement, labels)
    row.summed = True


def unsummed() -> list[PublicRelease]:
    """Releases whose sums are not written yet (carried over from the outbox by migration 0012)."""
    query = select(PublicRelease).where(PublicRelease.status == RELEASED, PublicRelease.summed.is_(False))
    return list(db.session.scalars(query.order_by(PublicRelease.date, PublicRelease.type)))


def store_areas(
    stats_type: str, day: date, rules: ReleaseRules, who: Sequence[ColumnElement], decimals: int
) -> int:
    """Fix the map's cells of a day: per area of at least k clients (``who`` with coordinates,
    and other hubs), the cells of its clients that pass ``rules``; return how many areas."""
    query = select(Client.id, Client.latitude, Client.longitude).where(
        Client.latitude.is_not(None), Client.longitude.is_not(None), Client.is_sharing_enabled.is_(True)
    )
    areas: dict[tuple[float, float], list[int]] = defaultdict(list)
    for population in (who, hubs()):
        for client_id, latitude, longitude in db.session.execute(query.where(*population)):
            areas[area_of(latitude, longitude, decimals)].append(client_id)
    kept = 0
    records_key = key_ids([(stats_type, RECORDS)])[(stats_type, RECORDS)]
    for (latitude, longitude), ids in sorted(areas.items()):
        if len(set(ids)) < rules.min_clients:
            continue
        where = [RollupKey.type == stats_type, ClientDay.date == day, ClientDay.client_id.in_(ids)]
        rows = []
        for row in db.session.execute(key_sums([], where, by_id=True)):
            key_id, _entries, n, s1, s2, s3, clients, top = row
            if key_id == records_key or not rules.allows(int(clients), float(n), float(top)):
                continue
            rows.append(
                {"key_id": key_id, "date": day, "latitude": latitude, "longitude": longitude}
                | {"n": float(n), "s1": float(s1), "s2": float(s2), "s3": float(s3)}
            )
        if rows:
            db.session.execute(dialect_insert()(PublicAreaDay).on_conflict_do_nothing(), rows)
            kept += 1
    return kept


def withdraw(day: date, types: Iterable[str]) -> None:
    """An operator takes a day back from the public faces: never released again."""
    for stats_type in types:
        row = db.session.scalar(
            select(PublicRelease).where(PublicRelease.type == stats_type, PublicRelease.date == day)
        )
        if row is None:
            row = PublicRelease(type=stats_type, date=day, organisations=0, analyses=0)
            db.session.add(row)
        row.status, row.payload, row.digest, row.summed, row.released_at = WITHDRAWN, None, "", True, utcnow()
        _forget(stats_type, [day])


def _forget(stats_type: str, days: Sequence[date]) -> None:
    """Delete the public sums and map cells of some of a type's days."""
    of_type = select(RollupKey.id).where(RollupKey.type == stats_type).scalar_subquery()
    for part in chunks(sorted(days)):
        db.session.execute(
            delete(RollupDay).where(
                RollupDay.local.is_(True), RollupDay.date.in_(part), RollupDay.key_id.in_(of_type)
            )
        )
        db.session.execute(
            delete(PublicAreaDay).where(PublicAreaDay.date.in_(part), PublicAreaDay.key_id.in_(of_type))
        )


def forget_demo() -> int:
    """Delete the demo's releases (its data is going): their days are released again from real
    data, if any, by the next ``stats_release``. Returns how many were deleted."""
    rows = list(db.session.scalars(select(PublicRelease).where(PublicRelease.demo.is_(True))))
    by_type: dict[str, list[date]] = defaultdict(list)
    for row in rows:
        by_type[row.type].append(row.date)
        db.session.delete(row)
    for stats_type, days in by_type.items():
        _forget(stats_type, days)
    return len(rows)


def forget_before(cutoff: date) -> None:
    """Retention: releases of days before ``cutoff`` go with their records."""
    db.session.execute(delete(PublicAreaDay).where(PublicAreaDay.date < cutoff))
    db.session.execute(delete(PublicRelease).where(PublicRelease.date < cutoff))


# --- what the public faces read ----------------------------------------------------------------


def public_labels(label_type: str, keys: Iterable[str]) -> dict[str, dict[str, str]]:
    """Labels of ``keys`` as released: this hub's releases' and other hubs' (each one released
    vote; the most common wins)."""
    votes: dict[str, list[dict[str, str]]] = defaultdict(list)
    for chunk in chunks(sorted(keys)):
        own = select(PublicLabel.key, PublicLabel.labels).where(
            PublicLabel.type == label_type, PublicLabel.key.in_(chunk)
        )
        for key, labels in db.session.execute(own):
            votes[key].append(labels)
        theirs = (
            select(ClientLabel.key, ClientLabel.labels)
            .join(Client, Client.id == ClientLabel.client_id)
            .where(ClientLabel.type == label_type, ClientLabel.key.in_(chunk), *hubs())
        )
        for key, labels in db.session.execute(theirs):
            votes[key].append(labels)
    return {key: label for key, found in votes.items() if (label := majority_label(found, 1))}


def _released(stats_type: str | None, date_from: date | None, date_to: date | None) -> Any:
    query = select(PublicRelease).where(PublicRelease.status == RELEASED, PublicRelease.summed.is_(True))
    if stats_type:
        query = query.where(PublicRelease.type == stats_type)
    if date_from:
        query = query.where(PublicRelease.date >= date_from)
    if date_to:
        query = query.where(PublicRelease.date <= date_to)
    return query


def hub_records() -> list[ColumnElement]:
    """``stats`` rows of other hubs: aggregates they released."""
    return [Stats.client_id.in_(select(Client.id).where(*hubs()))]


def _hub_stats(stats_type: str | None, date_from: date | None, date_to: date | None) -> list[ColumnElement]:
    where = hub_records()
    if stats_type:
        where.append(Stats.type == stats_type)
    if date_from:
        where.append(Stats.date >= date_from)
    if date_to:
        where.append(Stats.date <= date_to)
    return where


@dataclass(frozen=True, slots=True)
class Coverage:
    """What released data a window stands on: the most organisations and analyses behind one of
    this hub's released days, and the other hubs (with the analyses behind their aggregates, each
    hub counted for its largest day) — exact; the public faces coarsen them."""

    organisations: int = 0
    analyses: int = 0
    hubs: int = 0
    hub_analyses: int = 0
    #: records behind this hub's released days (one per analysis and day), and other hubs' rows
    records: int = 0
    hub_records: int = 0
    first_date: date | None = None
    last_date: date | None = None


def coverage(
    stats_type: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    local_only: bool = False,
) -> Coverage:
    own = _released(stats_type, date_from, date_to).subquery()
    organisations, analyses, records, first, last = db.session.execute(
        select(
            func.max(own.c.organisations),
            func.max(own.c.analyses),
            func.sum(own.c.analyses),
            func.min(own.c.date),
            func.max(own.c.date),
        )
    ).one()
    found = Coverage(
        int(organisations or 0),
        int(analyses or 0),
        records=int(records or 0),
        first_date=first,
        last_date=last,
    )
    if local_only:
        return found
    where = _hub_stats(stats_type, date_from, date_to)
    per_day = (
        select(Stats.client_id, func.sum(Stats.n).label("n"))
        .where(*where)
        .group_by(Stats.client_id, Stats.type, Stats.date)
        .subquery()
    )
    per_hub = select(func.max(per_day.c.n).label("n")).group_by(per_day.c.client_id).subquery()
    hub_count, hub_analyses = db.session.execute(
        select(func.count(), func.coalesce(func.sum(per_hub.c.n), 0))
    ).one()
    hub_records, hub_first, hub_last = db.session.execute(
        select(func.count(), func.min(Stats.date), func.max(Stats.date)).where(*where)
    ).one()
    firsts = [d for d in (first, hub_first) if d is not None]
    lasts = [d for d in (last, hub_last) if d is not None]
    return Coverage(
        found.organisations,
        found.analyses,
        int(hub_count or 0),
        int(hub_analyses or 0),
        found.records,
        int(hub_records or 0),
        min(firsts) if firsts else None,
        max(lasts) if lasts else None,
    )


def records_by_type() -> dict[str, tuple[int, int]]:
    """Per type: the records behind this hub's released days (one per analysis and day), and the
    aggregate records of other hubs."""
    own: dict[str, int] = {}
    query = select(PublicRelease.type, func.sum(PublicRelease.analyses)).where(
        PublicRelease.status == RELEASED, PublicRelease.summed.is_(True)
    )
    for stats_type, total in db.session.execute(query.group_by(PublicRelease.type)):
        own[stats_type] = int(total or 0)
    theirs: dict[str, int] = {}
    query = select(Stats.type, func.count()).where(*_hub_stats(None, None, None))
    for stats_type, total in db.session.execute(query.group_by(Stats.type)):
        theirs[stats_type] = int(total or 0)
    return {t: (own.get(t, 0), theirs.get(t, 0)) for t in sorted(own.keys() | theirs.keys())}


def latest_day(stats_type: str, *, local_only: bool = False) -> date | None:
    """The newest released day of a type: what ``last_stats`` shows."""
    return coverage(stats_type, local_only=local_only).last_date


def has_released(stats_type: str | None = None) -> bool:
    """Whether a public face has anything of ``stats_type`` (or of any type) to show."""
    own = db.session.scalar(_released(stats_type, None, None).with_only_columns(PublicRelease.id).limit(1))
    if own is not None:
        return True
    return db.session.scalar(select(Stats.id).where(*_hub_stats(stats_type, None, None)).limit(1)) is not None


def area_cells(stats_type: str, date_from: date, date_to: date) -> dict[tuple[float, float], list[tuple]]:
    """Per map area, per object: ``(key, n, s1, s2, s3)`` summed over the area's released days in
    the window."""
    a, k = PublicAreaDay, RollupKey
    query = (
        select(a.latitude, a.longitude, k.k1, func.sum(a.n), func.sum(a.s1), func.sum(a.s2), func.sum(a.s3))
        .join(k, k.id == a.key_id)
        .where(k.type == stats_type, a.date >= date_from, a.date <= date_to)
        .group_by(a.latitude, a.longitude, k.k1)
    )
    out: dict[tuple[float, float], list[tuple]] = defaultdict(list)
    for latitude, longitude, key, n, s1, s2, s3 in db.session.execute(query):
        out[(float(latitude), float(longitude))].append((key, float(n), float(s1), float(s2), float(s3)))
    return dict(out)
