"""The computed weather in the ``weather`` table: written by ``stats_weather`` only, read by the
page, ``weather.json`` and the feed (reads only read)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from statsservice.clock import utcnow
from statsservice.extensions import db
from statsservice.storage.models import Weather

REPORT, WARNING, BULLETIN = "report", "warning", "bulletin"
LATEST = "latest"


def _put(kind: str, key: str, as_of: date, data: Any) -> bool:
    """Insert or replace one row; True when its data changed (or it is new)."""
    row = db.session.scalar(select(Weather).where(Weather.kind == kind, Weather.key == key))
    if row is None:
        db.session.add(Weather(kind=kind, key=key, as_of=as_of, data=data, updated_at=utcnow()))
        return True
    if row.data == data and row.as_of == as_of:
        return False
    row.data, row.as_of, row.updated_at = data, as_of, utcnow()
    return True


def save_report(document: dict[str, Any]) -> bool:
    return _put(REPORT, LATEST, date.fromisoformat(document["as_of"]), document)


def report() -> dict[str, Any] | None:
    """The weather document of the last run, or None before the first one."""
    return db.session.scalar(select(Weather.data).where(Weather.kind == REPORT, Weather.key == LATEST))


def save_warnings(rows: list[dict[str, Any]]) -> int:
    """Store warning rows (``feed.continued``); the number new or changed."""
    return sum(_put(WARNING, row["id"], date.fromisoformat(row["raised"]), row) for row in rows)


def warnings() -> list[dict[str, Any]]:
    """Every warning ever raised, newest first (ties by id)."""
    rows = db.session.scalars(select(Weather.data).where(Weather.kind == WARNING)).all()
    return sorted(rows, key=lambda r: (r["raised"], r["id"]), reverse=True)


def save_bulletin(bulletin: dict[str, Any], as_of: date) -> bool:
    """Store a month's bulletin once: an existing one is never rewritten (its feed entry stays)."""
    key = bulletin["month"]
    exists = db.session.scalar(select(Weather.id).where(Weather.kind == BULLETIN, Weather.key == key))
    if exists is not None:
        return False
    data = {**bulletin, "as_of": as_of.isoformat()}  # the feed dates the bulletin's entry by it
    db.session.add(Weather(kind=BULLETIN, key=key, as_of=as_of, data=data, updated_at=utcnow()))
    return True


def bulletin(month: str) -> dict[str, Any] | None:
    return db.session.scalar(select(Weather.data).where(Weather.kind == BULLETIN, Weather.key == month))


def bulletins() -> list[dict[str, Any]]:
    """Every bulletin, newest month first."""
    rows = db.session.scalars(select(Weather.data).where(Weather.kind == BULLETIN)).all()
    return sorted(rows, key=lambda r: r["month"], reverse=True)
