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
