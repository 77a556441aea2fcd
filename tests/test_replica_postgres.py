"""The read replica on a real PostgreSQL streaming standby (``tests.pg_replica``): read-only routes
are served by the standby, everything that writes or must read its own writes by the primary,
and reads fall back to the primary while the standby lags or is down.

Which database answered is proven by what it holds: with the standby's replay paused, a record
uploaded since is on the primary only, so a read without it came from the standby and a read
with it from the primary. Collected only in the PostgreSQL phase (``tests/conftest.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask_migrate import upgrade

from statsservice import create_app
from statsservice.demo.payloads import Generator
from statsservice.extensions import db
from statsservice.storage import replica
from tests import frozen_clock
from tests.api_support import auth, new_client
from tests.live import LiveHub
from tests.pg_replica import StreamingPair, wait_for

DAY1 = frozen_clock.today() - timedelta(days=2)
DAY2 = frozen_clock.today() - timedelta(days=1)
GEN = Generator(seed=24, anrs=3)
ANRS = [anr["uuid"] for anr in GEN.anrs]


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> Iterator[StreamingPair]:
    """A migrated primary and its hot standby, for the whole module."""
    pair = StreamingPair(tmp_path_factory.mktemp("replica")).start()
    app = create_app({"SQLALCHEMY_DATABASE_URI": pair.primary.url, "TESTING": True})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield pair
    pair.stop()


@pytest.fixture
def hub(pair, instance_dir) -> Iterator:
    """Apps on the pair (``READ_DATABASE_URI`` the standby), on an empty database, replay running."""
    apps: list[Flask] = []

    def make(**config: object) -> Flask:
        settings = {"SQLALCHEMY_DATABASE_URI": pair.primary.url, "READ_DATABASE_URI": pair.standby.url}
        app = create_app({**settings, "TESTING": True, "READ_REPLICA_CHECK_SECONDS": 0, **config})
        apps.append(app)
        return app

    pair.resume_replay()
    with make().app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
    pair.caught_up()
    yield make
    pair.resume_replay()
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
            app.extensions[replica.EXTENSION].dispose()


def upload(http, token: str, day, anrs: range = range(3)) -> None:
    batch = [record for i in anrs for record in GEN.day_batch(i, day)]
    response = http.post("/api/v1/stats/", json=batch, headers=auth(token))
    assert response.status_code == 201, response.get_json()


def listed_days(http, token: str) -> set[str]:
    """The days of the caller's risk records, as ``GET /api/v1/stats/`` lists them."""
    window = {"type": "risk", "date_from": DAY1.isoformat(), "date_to": DAY2.isoformat()}
    response = http.get("/api/v1/stats/", json=window, headers=auth(token))
    assert response.status_code == 200, response.get_json()
    return {item["date"] for item in response.get_json()["data"]}


def reads_counted(http) -> dict[tuple[str, str], float]:
    """``statsservice_read_replica_reads_total`` by (database, reason), from ``/metrics``."""
    text = http.get("/metrics").get_data(as_text=True)
    pattern = r'statsservice_read_replica_reads_total\{database="(\w+)",reason="(\w+)"\} ([0-9.e+]+)'
    return {(db_, reason): float(value) for db_, reason, value in re.findall(pattern, text)}


def counted_since(http, before: dict[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    """The reads counted since ``before`` (the counters are the test process's, shared by its apps)."""
    now = reads_counted(http)
    return {key: value - before.get(key, 0) for key, value in now.items() if value != before.get(key, 0)}


def readiness(http) -> dict:
    response = http.get("/readyz")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["read_replica"]


def with_the_primary_ahead(pair: StreamingPair, http, token: str) -> None:
    """Day 1 on both databases, then the standby's replay paused and day 2 on the primary only."""
    upload(http, token, DAY1)
    pair.caught_up()
    pair.pause_replay()
    upload(http, token, DAY2)  # an upload is a write: the primary takes it, the standby is frozen


def test_reads_from_the_standby_writes_and_own_reads_on_the_primary(pair, hub):
    app = hub(READ_REPLICA_MAX_LAG_SECONDS=3600)
    http = app.test_client()
    with app.app_context():
        token, admin = new_client("fo"), new_client("admin", admin=True)
    with_the_primary_ahead(pair, http, token)
    day1, both = {DAY1.isoformat()}, {DAY1.isoformat(), DAY2.isoformat()}
    before = reads_counted(http)

    # the routes that only read answer from the standby: day 2 is not there
    assert listed_days(http, token) == day1
    series = http.get(
        "/api/v1/stats/processed/",
        json={"processor": "threat_average_on_date", "anrs": ANRS, "date_from": DAY1.isoformat()},
        headers=auth(token),
    )
    assert series.status_code == 200
    assert {point["date"] for item in series.get_json()["data"] for point in item["values"]} == day1
    assert http.get("/about.json").status_code == 200  # public faces read releases, on the standby too
    assert http.get("/").status_code == 200
    ready = readiness(http)
    assert ready["usable"] is True and ready["reason"] == "ok" and ready["lag_seconds"] >= 0
    assert pair.scalar(pair.standby, "SELECT pg_is_in_recovery()") is True

    # what writes, or must see its own writes, is on the primary
    created = http.post(
        "/api/v1/client/", json={"name": "newcomer", "is_sharing_enabled": True}, headers=auth(admin)
    )
    assert created.status_code == 201
    newcomer = created.get_json()["token"]
    assert listed_days(http, newcomer) == set()  # signed in at once: authentication reads the primary
    last_seen = "SELECT last_seen IS NOT NULL FROM client WHERE name = 'newcomer'"
    assert pair.scalar(pair.primary, last_seen) is True
    assert pair.scalar(pair.standby, "SELECT count(*) FROM client WHERE name = 'newcomer'") == 0
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["stats_list_last"])
    assert listing.exit_code == 0 and DAY2.isoformat() in listing.output  # the CLI reads the primary
    assert http.delete(f"/api/v1/stats/{ANRS[0]}", headers=auth(token)).status_code == 204
    assert pair.scalar(pair.primary, f"SELECT count(*) FROM stats WHERE anr = '{ANRS[0]}'") == 0
    assert pair.scalar(pair.standby, f"SELECT count(*) FROM stats WHERE anr = '{ANRS[0]}'") == 5

    pair.resume_replay()
    pair.caught_up()
    assert listed_days(http, token) == both  # the standby has replayed day 2 and the delete
    assert pair.scalar(pair.standby, f"SELECT count(*) FROM stats WHERE anr = '{ANRS[0]}'") == 0
    # list, series, about, page, the newcomer's list, the last list: all on the standby
    assert counted_since(http, before) == {("replica", "ok"): 6}


def test_a_lagging_standby_sends_reads_to_the_primary(pair, hub):
    app = hub(READ_REPLICA_MAX_LAG_SECONDS=0.5)
    http = app.test_client()
    with app.app_context():
        token = new_client("fo")
    with_the_primary_ahead(pair, http, token)
    # the standby has received day 2's WAL without replaying it: it is behind by the age of the
    # last transaction it replayed, soon more than half a second
    wait_for(lambda: readiness(http)["reason"] == "lagging", 30, "the standby to lag")
    lagging = readiness(http)
    assert lagging["usable"] is False and lagging["lag_seconds"] > 0.5
    before = reads_counted(http)
    assert listed_days(http, token) == {DAY1.isoformat(), DAY2.isoformat()}  # the primary answered
    assert counted_since(http, before) == {("primary", "lagging"): 1}
    gauges = http.get("/metrics").get_data(as_text=True)
    assert "statsservice_read_replica_usable 0.0" in gauges
    assert "statsservice_read_replica_lag_seconds" in gauges

    pair.resume_replay()
    pair.caught_up()
    wait_for(lambda: readiness(http)["usable"], 30, "the standby to be usable again")
    before = reads_counted(http)
    assert listed_days(http, token) == {DAY1.isoformat(), DAY2.isoformat()}
    assert counted_since(http, before) == {("replica", "ok"): 1}


def test_a_standby_that_is_down_sends_reads_to_the_primary(pair, hub):
    # checked once, when it is up: the failure is met by the reads themselves
    app = hub(READ_REPLICA_MAX_LAG_SECONDS=3600, READ_REPLICA_CHECK_SECONDS=3600)
    http = app.test_client()
    with app.app_context():
        token = new_client("fo")
    upload(http, token, DAY1)
    pair.caught_up()
    before = reads_counted(http)
    assert listed_days(http, token) == {DAY1.isoformat()}
    assert counted_since(http, before) == {("replica", "ok"): 1}

    pair.standby.stop()
    try:
        upload(http, token, DAY2)
        # the read fails on the standby's dead connection and runs again on the primary; the next
        # reads leave the standby alone until the next check
        assert listed_days(http, token) == {DAY1.isoformat(), DAY2.isoformat()}
        assert listed_days(http, token) == {DAY1.isoformat(), DAY2.isoformat()}
        assert http.get("/stats/threats.json").status_code == 200
        assert counted_since(http, before) == {("replica", "ok"): 1, ("primary", "error"): 3}

        checking = hub(READ_REPLICA_MAX_LAG_SECONDS=3600).test_client()  # checks at every read
        assert readiness(checking) == {"usable": False, "reason": "down", "lag_seconds": None}
        before = reads_counted(checking)
        assert listed_days(checking, token) == {DAY1.isoformat(), DAY2.isoformat()}
        assert counted_since(checking, before) == {("primary", "down"): 1}
    finally:
        pair.standby.start()
    pair.caught_up()
    wait_for(lambda: readiness(checking)["usable"], 60, "the restarted standby to be usable")
    before = reads_counted(checking)
    assert listed_days(checking, token) == {DAY1.isoformat(), DAY2.isoformat()}
    assert counted_since(checking, before) == {("replica", "ok"): 1}


def test_gunicorn_hub_configured_by_environment_reads_from_the_standby(pair, hub, tmp_path: Path):
    hub()  # empties the database, replay running
    live = LiveHub(
        tmp_path / "hub",
        database_url=pair.primary.url,
        config={"READ_DATABASE_URI": pair.standby.url, "READ_REPLICA_MAX_LAG_SECONDS": "3600"},
    ).start()
    try:
        _uuid, token = live.create_client("fo")
        headers = auth(token)
        url = f"{live.url}/api/v1/stats/"
        for day in (DAY1, DAY2):
            if day == DAY2:
                pair.caught_up()
                pair.pause_replay()
            batch = [record for i in range(3) for record in GEN.day_batch(i, day)]
            assert requests.post(url, json=batch, headers=headers, timeout=60).status_code == 201
        window = {"type": "risk", "date_from": DAY1.isoformat(), "date_to": DAY2.isoformat()}
        for _ in range(4):  # whichever worker answers
            listing = requests.get(url, json=window, headers=headers, timeout=60).json()
            assert {item["date"] for item in listing["data"]} == {DAY1.isoformat()}
        ready = requests.get(f"{live.url}/readyz", timeout=30).json()
        assert ready["status"] == "ready" and ready["read_replica"]["usable"] is True
        # each worker counts its own reads: ask until a worker that answered one of them answers
        ok = re.compile(r'statsservice_read_replica_reads_total\{database="replica",reason="ok"\} [1-4]\.0')
        pages = [requests.get(f"{live.url}/metrics", timeout=30).text for _ in range(12)]
        served = [metrics for metrics in pages if ok.search(metrics)]
        assert served, pages[-1][-2000:]
        assert all("statsservice_read_replica_usable 1.0" in metrics for metrics in served)
    finally:
        live.stop()
        pair.resume_replay()
