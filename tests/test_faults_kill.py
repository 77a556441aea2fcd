"""A hub killed (SIGKILL) in the middle of a batch upload stores all of the batch or none of it."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

import requests
from sqlalchemy import create_engine, text

from statsservice.demo.payloads import Generator
from tests import frozen_clock
from tests.faults_support import unsynced_days
from tests.live import LiveHub

END = frozen_clock.today() - timedelta(days=1)


def batch_for(gen: Generator, anrs: range, days: int) -> list[dict]:
    return [rec for i in anrs for d in range(days) for rec in gen.day_batch(i, END - timedelta(days=d))]


def counts(hub: LiveHub, client_uuid: str) -> tuple[int, int]:
    """(stats of the client, its days whose per-day sums do not match its records)."""
    engine = create_engine(hub.database_url or f"sqlite:///{hub.root / 'hub.db'}")
    with engine.connect() as conn:
        client_id = conn.execute(
            text("SELECT id FROM client WHERE uuid = :u"), {"u": client_uuid}
        ).scalar_one()
        stored = conn.execute(
            text("SELECT count(*) FROM stats WHERE client_id = :c"), {"c": client_id}
        ).scalar_one()
        orphans = unsynced_days(conn, client_id)
    engine.dispose()
    return stored, orphans


def test_sigkill_during_batch_is_all_or_nothing(tmp_path):
    hub = LiveHub(tmp_path / "hub", database_url=os.environ.get("TEST_DATABASE_URL")).start()
    try:
        gen = Generator(seed=21, anrs=60)
        warm_uuid, warm_token = hub.create_client("warm-up")
        victim_uuid, victim_token = hub.create_client("victim")
        batch = batch_for(gen, range(30, 60), 5)

        # measure how long such a batch takes here, to kill the next one half-way through
        started = time.monotonic()
        warm = requests.post(
            f"{hub.url}/api/v1/stats/",
            json=batch_for(gen, range(0, 30), 5),
            headers={"X-API-KEY": warm_token},
            timeout=300,
        )
        assert warm.status_code == 201, warm.text
        duration = time.monotonic() - started

        outcome: dict = {}

        def upload() -> None:
            try:
                outcome["response"] = requests.post(
                    f"{hub.url}/api/v1/stats/", json=batch, headers={"X-API-KEY": victim_token}, timeout=300
                )
            except requests.RequestException as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=upload)
        thread.start()
        time.sleep(duration / 2)
        hub.kill()
        thread.join(timeout=60)
        assert "error" in outcome or outcome["response"].status_code == 201

        hub.start()
        stored, orphans = counts(hub, victim_uuid)
        assert stored in (0, len(batch)), f"half-written batch: {stored} of {len(batch)}"
        assert orphans == 0

        # the client retries (as the Front Office cron does the next night): exactly one copy
        retry = requests.post(
            f"{hub.url}/api/v1/stats/", json=batch, headers={"X-API-KEY": victim_token}, timeout=300
        )
        assert retry.status_code == 201, retry.text
        assert counts(hub, victim_uuid) == (len(batch), 0)
        assert counts(hub, warm_uuid) == (len(batch), 0)
    finally:
        hub.stop()
