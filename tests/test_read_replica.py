"""The read replica's routing on any database: without ``READ_DATABASE_URI`` everything is on the
primary and nothing about a replica shows; with one, read-only routes read it and everything else
the primary. Here the "replica" is a frozen SQLite copy of the primary (an online backup), so
which database answered shows in what it holds; the PostgreSQL streaming standby, with lag and
fallback, is ``tests/test_replica_postgres.py``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade

from statsservice import create_app
from statsservice.demo.payloads import Generator
from statsservice.extensions import db
from statsservice.storage import replica
from tests import frozen_clock
from tests.api_support import auth, new_client

DAY1 = frozen_clock.today() - timedelta(days=2)
DAY2 = frozen_clock.today() - timedelta(days=1)
GEN = Generator(seed=24, anrs=2)


def upload(http, token: str, day) -> None:
    batch = [record for i in range(2) for record in GEN.day_batch(i, day)]
    assert http.post("/api/v1/stats/", json=batch, headers=auth(token)).status_code == 201


def series_days(http, token: str) -> set[str]:
    """The days of the caller's threat series over its analyses (a live answer, not a release)."""
    body = {"processor": "threat_average_on_date", "anrs": [a["uuid"] for a in GEN.anrs]}
    response = http.get(
        "/api/v1/stats/processed/", json={**body, "date_from": DAY1.isoformat()}, headers=auth(token)
    )
    assert response.status_code == 200, response.get_json()
    return {point["date"] for item in response.get_json()["data"] for point in item["values"]}


def listed_days(http, token: str) -> set[str]:
    window = {"type": "risk", "date_from": DAY1.isoformat(), "date_to": DAY2.isoformat()}
    response = http.get("/api/v1/stats/", json=window, headers=auth(token))
    assert response.status_code == 200, response.get_json()
    return {item["date"] for item in response.get_json()["data"]}


def read_samples(http) -> list[str]:
    """The sample lines of the reads counter (the test process's, shared by every app in it)."""
    text = http.get("/metrics").get_data(as_text=True)
    return [line for line in text.splitlines() if line.startswith("statsservice_read_replica_reads_total")]


def test_without_a_replica_everything_is_on_the_primary(app, client):
    assert replica.current() is None
    before = read_samples(client)
    token = new_client("fo")
    upload(client, token, DAY1)
    upload(client, token, DAY2)
    assert listed_days(client, token) == {DAY1.isoformat(), DAY2.isoformat()}
    assert series_days(client, token) == {DAY1.isoformat(), DAY2.isoformat()}
    assert client.get("/about.json").status_code == 200
    assert "read_replica" not in client.get("/readyz").get_json()
    assert read_samples(client) == before  # no read counted: there is nothing to choose
    assert "statsservice_read_replica_usable" not in client.get("/metrics").get_data(as_text=True)


@pytest.fixture
def sqlite_pair(tmp_path: Path, instance_dir) -> Iterator[tuple[Path, Path]]:
    """A migrated SQLite primary of its own (whatever TEST_DATABASE_URL says) and where its copy goes."""
    primary = tmp_path / "primary.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{primary}", "TESTING": True})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield primary, tmp_path / "copy.db"


def hub(primary: Path, replica_uri: str) -> Flask:
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{primary}",
            "READ_DATABASE_URI": replica_uri,
            "READ_REPLICA_CHECK_SECONDS": 0,
            "TESTING": True,
        }
    )


def close(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
        app.extensions[replica.EXTENSION].dispose()


def test_reads_go_to_the_replica_and_writes_to_the_primary(sqlite_pair):
    primary, copy = sqlite_pair
    app = hub(primary, f"sqlite:///{copy}")
    http = app.test_client()
    try:
        with app.app_context():
            token = new_client("fo")
        upload(http, token, DAY1)
        with sqlite3.connect(primary) as source, sqlite3.connect(copy) as target:
            source.backup(target)  # the replica: the primary as it was after day 1
        upload(http, token, DAY2)

        assert listed_days(http, token) == {DAY1.isoformat()}
        assert series_days(http, token) == {DAY1.isoformat()}
        assert http.get("/about.json").status_code == 200 and http.get("/").status_code == 200
        assert http.get("/readyz").get_json()["read_replica"] == {
            "usable": True,
            "reason": "ok",
            "lag_seconds": 0.0,  # measured on PostgreSQL only
        }
        # a delete finds day 2's records on the primary; the CLI reads the primary too
        assert http.delete(f"/api/v1/stats/{GEN.anrs[0]['uuid']}", headers=auth(token)).status_code == 204
        listing = app.test_cli_runner().invoke(args=["stats_list_last"])
        assert DAY2.isoformat() in listing.output and "records=2" in listing.output
        with sqlite3.connect(copy) as frozen:
            assert frozen.execute("SELECT count(*) FROM stats").fetchone() == (10,)
    finally:
        close(app)


def test_a_replica_that_cannot_be_opened_leaves_reads_on_the_primary(sqlite_pair):
    primary, copy = sqlite_pair
    app = hub(primary, f"sqlite:///{copy.parent / 'missing' / 'replica.db'}")
    http = app.test_client()
    try:
        with app.app_context():
            token = new_client("fo")
        upload(http, token, DAY1)
        assert listed_days(http, token) == {DAY1.isoformat()}
        ready = http.get("/readyz")
        assert ready.status_code == 200  # the primary serves: the hub is ready
        assert ready.get_json()["read_replica"] == {"usable": False, "reason": "down", "lag_seconds": None}
        metrics = http.get("/metrics").get_data(as_text=True)
        assert 'statsservice_read_replica_reads_total{database="primary",reason="down"}' in metrics
        assert "statsservice_read_replica_usable 0.0" in metrics
    finally:
        close(app)


@pytest.mark.parametrize(
    ("state", "lag"),
    [
        ((False, False, False, None), 0.0),  # not a standby: nothing to replay
        ((True, True, True, 3600.0), 0.0),  # streaming and all replayed: a quiet primary
        ((True, True, False, 12.5), 12.5),  # received, not replayed yet (or replay paused)
        ((True, False, True, 40.0), 40.0),  # no WAL receiver: as old as its last replayed commit
        ((True, True, False, None), float("inf")),  # never replayed a transaction
    ],
)
def test_lag_from_the_standbys_state(state, lag):
    assert replica.lag_of(*state) == lag
