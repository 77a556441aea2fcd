"""The global hub killed (SIGKILL) in the middle of a ``stats_push``: the push fails cleanly (non-zero
exit, only what the global hub acknowledged is marked delivered), nothing is lost, and once the
global hub is back the next push completes with exactly one aggregate per (type, day) there: the
payloads fixed before the kill, released once."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
from datetime import date, timedelta

import requests

from statsservice.demo.payloads import Generator
from tests.federation_support import assert_released_exact
from tests.live import BIN, REPO, LiveHub, federated_pair

TYPES = 5
DAYS = 24
END = date(2026, 3, 24)
START = END - timedelta(days=DAYS - 1)
PUSH = ("stats_push", "--date-from", START.isoformat(), "--date-to", END.isoformat())
KILL_AFTER = 12  # aggregates stored on the global hub before it is killed


def rows(db: str, query: str) -> list[tuple]:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute(query).fetchall()


def summary(output: str) -> dict[str, int]:
    line = next(line for line in output.splitlines() if line.startswith("summary:"))
    return {name: int(count) for name, count in re.findall(r"(\w+) (\d+)", line)}


def push(local: LiveHub) -> subprocess.CompletedProcess:
    return local.flask(
        "stats_push", "--date-from", START.isoformat(), "--date-to", END.isoformat(), check=False
    )


def test_global_hub_killed_during_a_push(tmp_path):
    world, local, hub_token = federated_pair(
        tmp_path,
        FEDERATION_TIMEOUT="10",
        FEDERATION_BATCH_SIZE="2",  # many small requests: the kill lands between two
    )
    world_db, local_db = str(world.root / "hub.db"), str(local.root / "hub.db")
    try:
        gen = Generator(seed=31, anrs=3)
        _, admin = local.create_client("local-admin", "--role", "admin")
        for index in range(3):
            _, token = local.create_client(f"FO-{index}")
            batch = [rec for d in range(DAYS) for rec in gen.day_batch(index, END - timedelta(days=d))]
            response = requests.post(
                f"{local.url}/api/v1/stats/", json=batch, headers={"X-API-KEY": token}, timeout=120
            )
            assert response.status_code == 201, response.text
        planned = local.flask(*PUSH, "--dry-run").stdout
        total = sum(1 for line in planned.splitlines() if line.startswith("{"))
        assert total > TYPES * DAYS // 2, planned[-500:]

        running = subprocess.Popen(
            [str(BIN / "flask"), "--app", "statsservice", *PUSH],
            cwd=REPO,
            env=local.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while rows(world_db, "SELECT count(*) FROM stats")[0][0] < KILL_AFTER:
            assert running.poll() is None, "the push ended before the global hub could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        world.kill()
        out, err = running.communicate(timeout=300)

        # a clean failure: non-zero exit, every aggregate accounted for, the rest counted as failed
        assert running.returncode != 0, out + err
        assert "Traceback" not in err
        first = summary(out)
        assert first["sent"] + first["failed"] == total and first["failed"] > 0, first
        assert first["sent"] >= KILL_AFTER - 2  # the last batch stored may have lost its answer
        assert "the next run retries them" in err

        # only what the global hub acknowledged is marked delivered, and it is all there
        delivered = {
            (t, d)
            for t, d in rows(
                local_db, "SELECT type, date FROM federation_delivery WHERE status = 'delivered'"
            )
        }
        assert len(delivered) == first["sent"]
        held = rows(world_db, "SELECT type, date, count(*) FROM stats GROUP BY type, date")
        assert all(count == 1 for _t, _d, count in held)
        assert delivered <= {(t, d) for t, d, _c in held}
        assert len(held) - len(delivered) <= 2  # at most the batch whose answer the kill swallowed

        # the global hub comes back on the same database: the next push completes
        world.start()
        second = push(local)
        assert second.returncode == 0, second.stdout + second.stderr
        report = summary(second.stdout)
        assert (report["sent"], report["released"], report["already"], report["failed"]) == (
            total - first["sent"],
            0,
            total,
            0,
        )
        held = rows(world_db, "SELECT type, date, count(*) FROM stats GROUP BY type, date")
        assert len(held) == total and all(count == 1 for _t, _d, count in held)
        delivered = "SELECT count(*) FROM federation_delivery WHERE status = 'delivered'"
        assert rows(local_db, delivered)[0][0] == total

        # exactly the expected aggregates: every released value equals the raw local mean
        anrs = [anr["uuid"] for anr in gen.anrs]
        days = [START + timedelta(days=d) for d in range(DAYS)]
        assert assert_released_exact(local, admin, world, hub_token, anrs, days) > 0

        # and a third push has nothing left to send
        third = push(local)
        assert third.returncode == 0 and summary(third.stdout)["sent"] == 0
        assert summary(third.stdout)["already"] == total
    finally:
        local.stop()
        world.stop()
