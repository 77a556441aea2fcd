"""Upgrading a database filled at revision 0007 (records copied into per-element ``rollup`` rows,
per-day sums rebuilt on read) carries the data over: after ``upgrade`` every processed answer, over
every scope and period, equals the answer of a database where the same records were uploaded at
the current revision."""

from __future__ import annotations

import uuid as uuid_mod
from datetime import date

from flask_migrate import upgrade
from sqlalchemy import MetaData, create_engine, select

from statsservice.app import create_app
from statsservice.domain.registry import PROCESSORS, REGISTRY
from statsservice.extensions import db
from statsservice.storage.models import Client
from statsservice.storage.processed import run_processor
from statsservice.storage.stats import NewRecord, StatsFilter, upsert_records
from tests.api_support import assert_sums_consistent, release
from tests.approx import assert_close
from tests.ops_support import demo_records

END = date(2026, 11, 10)
CLIENTS = {"Carry A": 11, "Carry B": 12, "Carry C": 13}  # name: generator seed
#: release rules loose enough for the whole hub of these few clients to release its days
RULES = {"FEDERATION_MIN_CLIENTS": 2, "FEDERATION_MIN_ANALYSES": 2, "FEDERATION_DOMINANCE": 0.95}


def records_of(seed: int) -> list[NewRecord]:
    out = []
    for record in demo_records(anrs=3, days=4, end=END, seed=seed):
        stats_type = REGISTRY[record["type"]]
        day = date.fromisoformat(record["date"])
        out.append(
            NewRecord(anr=record["anr"], type=record["type"], date=day, data=stats_type.load(record["data"]))
        )
    return out


def fill_at_0007(url: str) -> None:
    """Write clients, records and their rollup rows the way revision 0007's upload did."""
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    client, stats, rollup = meta.tables["client"], meta.tables["stats"], meta.tables["rollup"]
    client_label = meta.tables["client_label"]
    with engine.begin() as conn:
        for name, seed in CLIENTS.items():
            client_id = conn.execute(
                client.insert().values(
                    uuid=str(uuid_mod.uuid4()),
                    name=name,
                    role=1,
                    token_hash=uuid_mod.uuid4().hex * 2,
                    is_sharing_enabled=True,
                    is_demo=False,
                    is_active=True,
                    local=True,
                    created_at=END,
                )
            ).inserted_primary_key[0]
            labels = {}
            for record in records_of(seed):
                for entry in REGISTRY[record.type].labels(record.data):
                    labels[(record.type, entry.key)] = entry.labels
                stats_id = conn.execute(
                    stats.insert().values(
                        uuid=str(uuid_mod.uuid4()),
                        client_id=client_id,
                        anr=record.anr,
                        type=record.type,
                        date=record.date,
                        data=record.data,
                        n=1,
                        created_at=END,
                        updated_at=END,
                    )
                ).inserted_primary_key[0]
                rows = [
                    {"stats_id": stats_id, "client_id": client_id, "anr": record.anr, "type": record.type}
                    | {"date": record.date, "k1": r.k1, "k2": r.k2, "k3": r.k3, "k4": r.k4}
                    | {"m1": r.m1, "m2": r.m2, "m3": r.m3, "n": r.n}
                    for r in REGISTRY[record.type].explode(record.data, 1)
                ]
                if rows:
                    conn.execute(rollup.insert(), rows)
            conn.execute(
                client_label.insert(),
                [{"client_id": client_id, "type": t, "key": k, "labels": v} for (t, k), v in labels.items()],
            )
    engine.dispose()


def answers() -> dict[str, object]:
    """Every processor (default parameters) over the whole hub (its releases: ``stats_release``
    runs first), one client, and two analyses of it; by day and by month."""
    release()
    client_id = db.session.scalar(select(Client.id).where(Client.name == "Carry B"))
    anrs = tuple(sorted({r.anr for r in records_of(CLIENTS["Carry B"])}))[:2]
    scopes = {
        "hub": StatsFilter(),
        "client": StatsFilter(client_id=client_id),
        "analyses": StatsFilter(client_id=client_id, anrs=anrs),
    }
    out = {}
    for name in sorted(PROCESSORS):
        for scope, selection in scopes.items():
            for period in ("day", "month"):
                result = run_processor(name, selection=selection, period=period)
                out[f"{name} {scope} {period}"] = result
    return out


def test_upgrade_from_0007_carries_every_processed_answer(app, old_database):
    app.config.update(RULES)
    for name, seed in CLIENTS.items():
        client = Client(name=name, token_hash=uuid_mod.uuid4().hex * 2)
        db.session.add(client)
        db.session.flush()
        upsert_records(client.id, records_of(seed))
    db.session.commit()
    expected = answers()
    assert any(expected.values())

    old = create_app({"SQLALCHEMY_DATABASE_URI": old_database, "TESTING": True, **RULES})
    with old.app_context():
        upgrade(revision="0007")
        fill_at_0007(old_database)
        upgrade()
        try:
            assert_sums_consistent()
            assert_close(expected, answers())
        finally:
            db.session.remove()
            db.engine.dispose()


def test_upgrade_of_an_empty_0007_database(old_database):
    old = create_app({"SQLALCHEMY_DATABASE_URI": old_database, "TESTING": True})
    with old.app_context():
        upgrade(revision="0007")
        upgrade()
        assert assert_sums_consistent() == 0
        db.session.remove()
        db.engine.dispose()
