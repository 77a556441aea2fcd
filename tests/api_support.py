"""Helpers for the API tests: clients, headers, row counts, and checking each response against
the hub's own OpenAPI document (with schemathesis's validator)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import schemathesis
from sqlalchemy import func, select

from statsservice.domain.registry import REGISTRY
from statsservice.domain.sums import kept_sums, record_sums
from statsservice.extensions import db
from statsservice.storage import clients as registry
from statsservice.storage import record_sums as own
from statsservice.storage.models import (
    ROLE_ADMIN,
    ROLE_USER,
    Client,
    ClientDay,
    ClientLabel,
    RollupDay,
    RollupKey,
    Stats,
)

FO_AGENT = "MONARC/2.13.1"


def new_client(name: str, *, admin: bool = False, local: bool = True, **kwargs: Any) -> str:
    """Register a client directly (bootstrap, as an operator would); return its token."""
    _client, token = registry.create_client(
        name, role=ROLE_ADMIN if admin else ROLE_USER, local=local, **kwargs
    )
    return token


def auth(token: str, agent: str = FO_AGENT) -> dict[str, str]:
    return {"X-API-KEY": token, "User-Agent": agent}


def counts() -> dict[str, int]:
    """Rows of every table an upload writes: what "the database is unchanged" compares."""
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Stats, ClientDay, RollupDay, ClientLabel)
    }


def snapshot() -> dict[str, Any]:
    """Counts plus the stored records themselves (a refused replacement must not alter them)."""
    db.session.expire_all()
    rows = db.session.execute(
        select(Stats.uuid, Stats.anr, Stats.type, Stats.date, Stats.data, Stats.n)
    ).all()
    return {"counts": counts(), "stats": sorted(tuple(map(str, row)) for row in rows)}


def with_date(records: list[dict], day: date) -> list[dict]:
    return [{**record, "date": day.isoformat()} for record in records]


class Conformance:
    """Validates responses against ``/api/v1/openapi.json`` as served by the app."""

    def __init__(self, http: Any):
        spec = http.get("/api/v1/openapi.json").get_json()
        self.schema = schemathesis.openapi.from_dict(spec)

    def check(self, method: str, path: str, response: Any) -> Any:
        """Raise if ``response`` (to ``method path``, path as in the document) breaks the schema."""
        self.schema[path][method.upper()].validate_response(response)
        return response


def stored_sums() -> dict[tuple, tuple]:
    """``client_day`` as stored: (client, type, day, key) -> (entries, n, s1, s2, s3)."""
    rows = db.session.execute(
        select(ClientDay, RollupKey).join(RollupKey, RollupKey.id == ClientDay.key_id)
    ).all()
    return {
        (c.client_id, k.type, c.date, (k.k1, k.k2, k.k3, k.k4)): (c.entries, c.n, c.s1, c.s2, c.s3)
        for c, k in rows
    }


def expected_sums() -> dict[tuple, tuple]:
    """``client_day`` as the records say it must be: each client's records of a day exploded by
    their stats type and summed (an oracle independent of the write path)."""
    by_day: dict[tuple, list] = {}
    for client_id, t, day, data, n in db.session.execute(
        select(Stats.client_id, Stats.type, Stats.date, Stats.data, Stats.n)
    ):
        by_day.setdefault((client_id, t, day), []).append((data, n))
    out = {}
    for (client_id, t, day), records in by_day.items():
        for key, acc in record_sums(REGISTRY[t], records).items():
            out[(client_id, t, day, key)] = tuple(acc)
    return out


def assert_record_sums_consistent() -> int:
    """Each record's own sums (``storage.record_sums``) are what exploding that record gives, key
    by key, for the keys its type keeps; return the number of records checked."""
    keys = {
        key_id: (t, (k1, k2, k3, k4))
        for key_id, t, k1, k2, k3, k4 in db.session.execute(
            select(RollupKey.id, RollupKey.type, RollupKey.k1, RollupKey.k2, RollupKey.k3, RollupKey.k4)
        )
    }
    checked = 0
    for t, data, n, *columns in db.session.execute(
        select(Stats.type, Stats.data, Stats.n, *own.stored_columns())
    ):
        kind = REGISTRY[t]
        expected = {
            key: (acc[1], acc[2], acc[3], acc[4])
            for key, acc in kept_sums(record_sums(kind, [(data, n)]), kind.record_sums_match).items()
        }
        stored = {}
        for key_id, weight, s1, s2, s3 in own.decode(n, columns):
            key_type, key = keys[key_id]
            assert key_type == t, (t, key)
            stored[key] = (weight, s1, s2, s3)
        assert stored.keys() == expected.keys(), t
        for key, values in expected.items():
            assert stored[key] == pytest.approx(values, rel=1e-12, abs=1e-12), (t, key)
        checked += 1
    return checked


def assert_sums_consistent() -> int:
    """The per-day sums kept at write equal those recomputed from the records, so do each record's
    own sums (``assert_record_sums_consistent``), and the hub aggregates' ``rollup_day`` rows are
    the hub clients' ``client_day`` summed over them (this hub's own rows are its releases, written
    by ``stats_release`` only); return the number of ``client_day`` rows."""
    db.session.expire_all()
    assert_record_sums_consistent()
    stored, expected = stored_sums(), expected_sums()
    assert stored.keys() == expected.keys()
    for key, values in expected.items():
        assert stored[key] == pytest.approx(values), key
    hubs = set(db.session.scalars(select(Client.id).where(Client.local.is_(False))))
    per_key: dict[tuple, list] = {}
    for (client, t, day, key), (entries, n, s1, s2, s3) in stored.items():
        if client not in hubs:
            continue
        acc = per_key.setdefault((t, day, key), [0, 0.0, 0.0, 0.0, 0.0, 0])
        for index, value in enumerate((entries, n, s1, s2, s3, 1)):
            acc[index] += value
    rows = db.session.execute(
        select(RollupDay, RollupKey)
        .join(RollupKey, RollupKey.id == RollupDay.key_id)
        .where(RollupDay.local.is_(False))
    ).all()
    days: dict[tuple, list] = {}
    for d, k in rows:
        acc = days.setdefault((k.type, d.date, (k.k1, k.k2, k.k3, k.k4)), [0, 0.0, 0.0, 0.0, 0.0, 0])
        for index, value in enumerate((d.entries, d.n, d.s1, d.s2, d.s3, d.clients)):
            acc[index] += value
    assert days.keys() == per_key.keys()
    for key, values in per_key.items():
        assert days[key] == pytest.approx(values), key
    return len(stored)


def release() -> int:
    """What the nightly ``stats_release`` does, in-process: every final day released (the public
    faces read only releases). Returns how many (type, day) were released."""
    from statsservice.cli.release import release_days

    return len(release_days().released)
