"""PostgreSQL stopped or restarted under a live hub: clients get a clean 503 JSON with
Retry-After, retrying succeeds, and nothing is half-written or duplicated."""

from __future__ import annotations

import threading
from datetime import timedelta

import requests
from sqlalchemy import create_engine, text

from statsservice.demo.payloads import Generator
from tests import frozen_clock
from tests.faults_support import unsynced_days
from tests.live import LiveHub
from tests.pg_cluster import PrivateCluster

END = frozen_clock.today() - timedelta(days=1)


def post(hub: LiveHub, token: str, batch: list[dict]) -> requests.Response:
    return requests.post(f"{hub.url}/api/v1/stats/", json=batch, headers={"X-API-KEY": token}, timeout=120)


def test_database_down_and_restarted(tmp_path):
    cluster = PrivateCluster(tmp_path / "pg").start()
    hub = LiveHub(tmp_path / "hub", database_url=cluster.url).start()
    try:
        _, token = hub.create_client("fo")
        gen = Generator(seed=4, anrs=12)

        cluster.stop()
        down = post(hub, token, gen.day_batch(0, END))
        assert down.status_code == 503, down.text
        assert down.json()["message"] and "Retry-After" in down.headers
        ready = requests.get(f"{hub.url}/readyz", timeout=30)
        assert ready.status_code == 503 and ready.json()["database"] is False
        cluster.start()
        assert post(hub, token, gen.day_batch(0, END)).status_code == 201

        # uploads keep coming while the server restarts; each client retries on 503
        batches = [gen.day_batch(i, END - timedelta(days=d)) for i in range(12) for d in range(1, 4)]
        statuses: list[int] = []

        def uploader() -> None:
            for batch in batches:
                for _attempt in range(50):
                    try:
                        response = post(hub, token, batch)
                        statuses.append(response.status_code)
                        if response.status_code == 201:
                            break
                    except requests.ConnectionError:
                        statuses.append(0)
                    threading.Event().wait(0.2)

        thread = threading.Thread(target=uploader)
        thread.start()
        threading.Event().wait(1.0)
        cluster.restart()
        thread.join(timeout=600)
        assert not thread.is_alive()
        assert set(statuses) <= {201, 503}, statuses
        assert statuses.count(201) == len(batches)

        engine = create_engine(cluster.url)
        with engine.connect() as conn:
            stats = conn.execute(text("SELECT count(*) FROM stats")).scalar_one()
            keys = conn.execute(text("SELECT count(DISTINCT (anr, type, date)) FROM stats")).scalar_one()
            orphans = unsynced_days(conn)
        engine.dispose()
        assert stats == keys == 5 * (len(batches) + 1)
        assert orphans == 0
    finally:
        hub.stop()
        cluster.stop()


def _kill_hub_connections(url: str) -> int:
    """Terminate every other backend of the hub's database, as a server restart would."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    admin.dispose()
    return int(killed)


def test_a_connection_idle_long_enough_is_pinged_and_a_fresh_one_is_not(tmp_path):
    """``DATABASE_PING_IDLE_SECONDS`` (statsservice.storage.pool): a pooled connection that has
    been idle that long is pinged, so one the server dropped meanwhile is replaced unseen; one
    used a moment ago is not pinged (a round trip saved per request), and if the server dropped it
    in that moment the request gets a clean 503 with Retry-After and the next one a new connection."""
    from flask_migrate import upgrade

    from statsservice import create_app
    from statsservice.extensions import db
    from tests.api_support import auth, new_client

    cluster = PrivateCluster(tmp_path / "pg").start()
    apps = []

    def hub(idle: float):
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": cluster.url, "TESTING": True, "DATABASE_PING_IDLE_SECONDS": idle}
        )
        with app.app_context():
            if not apps:
                upgrade()
            token = new_client(f"fo {len(apps)}")
        apps.append(app)
        return app.test_client(), auth(token)

    try:
        http, key = hub(0.2)
        assert http.get("/api/v1/client/me", headers=key).status_code == 200
        assert _kill_hub_connections(cluster.url) >= 1
        threading.Event().wait(0.4)  # idle past the setting: the next checkout pings
        assert http.get("/api/v1/client/me", headers=key).status_code == 200

        http, key = hub(3600.0)
        assert http.get("/api/v1/client/me", headers=key).status_code == 200
        assert _kill_hub_connections(cluster.url) >= 1
        dropped = http.get("/api/v1/client/me", headers=key)
        assert dropped.status_code == 503 and dropped.json["message"], dropped.data
        assert dropped.headers["Retry-After"]
        assert http.get("/api/v1/client/me", headers=key).status_code == 200
    finally:
        for app in apps:
            with app.app_context():
                db.engine.dispose()
        cluster.stop()
