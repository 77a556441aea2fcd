"""Two real hubs on loopback: a local hub releases de-identified aggregates to a global hub.

Checks the SPEC §7 promises end to end: released values exact on the global hub, nothing
identifying in its database, k by organisations, each final day released once (a change, an
opt-out or a retry after an outage sends nothing new), an explicit withdrawal, and nothing lost
while the global hub is down.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
import requests
from sqlalchemy import create_engine, inspect, text

from statsservice.demo.payloads import Generator
from tests.federation_support import assert_released_exact, processed, summary, upload
from tests.live import LiveHub, federated_pair

DAYS = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]
THIN_DAY = date(2026, 3, 5)  # only two sharing organisations: withheld (k = 3)
LATE_DAY = date(2026, 3, 6)  # released while the global hub is down
OWNERS = {
    "CERT-A": [0, 1, 2],
    "Bank-B": [3, 4],
    "Agency-C": [5, 6],
    "Hospital-D": [7, 8],
    "Private-E": [9, 10],
}


def push(hub: LiveHub, *args: str):
    return hub.flask("stats_push", "--date-from", DAYS[0].isoformat(), *args, check=False)


def held(world: LiveHub, hub_token: str, stats_type: str) -> list[dict]:
    response = requests.get(
        f"{world.url}/api/v1/stats/",
        params={"type": stats_type, "date_from": DAYS[0].isoformat(), "date_to": LATE_DAY.isoformat()},
        headers={"X-API-KEY": hub_token},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


@pytest.fixture
def hubs(tmp_path):
    world, local, hub_token = federated_pair(tmp_path, FEDERATION_BATCH_SIZE="4")
    yield world, local, hub_token
    local.stop()
    world.stop()


def test_push_releases_each_day_once(hubs):
    world, local, hub_token = hubs
    gen = Generator(seed=11, anrs=11)
    clients = {name: local.create_client(name) for name in OWNERS}
    _, admin_token = local.create_client("local-admin", "--role", "admin")
    local.flask("client_sharing_deactivate", "--uuid", clients["Private-E"][0])
    record_uuids = []
    for name, indexes in OWNERS.items():
        batch = [rec for i in indexes for day in DAYS for rec in gen.day_batch(i, day)]
        if name in ("Bank-B", "Agency-C", "Private-E"):
            batch += [rec for i in indexes for rec in gen.day_batch(i, THIN_DAY)]
        upload(local, clients[name][1], batch)
        listing = requests.get(
            f"{local.url}/api/v1/stats/",
            params={"type": "risk", "limit": 0},
            headers={"X-API-KEY": clients[name][1]},
            timeout=30,
        ).json()
        record_uuids += [item["uuid"] for item in listing["data"]]
    sharing_anrs = [gen.anrs[i]["uuid"] for name, ids in OWNERS.items() if name != "Private-E" for i in ids]

    dry = push(local, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"withheld threat {THIN_DAY}: 2 organisations, 4 analyses" in dry.stdout
    planned = [json.loads(line) for line in dry.stdout.splitlines() if line.startswith("{")]
    assert len(planned) == 5 * len(DAYS)
    assert all(p["n"] == 9 for p in planned)  # the private organisation's analyses are not in

    first = push(local)
    assert first.returncode == 0, first.stdout + first.stderr
    report = summary(first.stdout)
    assert (report["sent"], report["released"], report["withheld"], report["failed"]) == (15, 15, 5, 0)
    assert "batch 4/4" in first.stdout

    # exact: every value the global hub serves is the raw mean over the contributing analyses
    assert assert_released_exact(local, admin_token, world, hub_token, sharing_anrs, DAYS) > 100

    # the withheld day never reached the global hub
    for stats_type in ("risk", "threat", "vulnerability", "cartography", "compliance"):
        assert sorted(item["date"] for item in held(world, hub_token, stats_type)) == [
            d.isoformat() for d in DAYS
        ]

    # nothing identifying of the local hub anywhere in the global hub's database
    secrets = [*OWNERS, "local-admin"] + [u for u, _ in clients.values()]
    secrets += [t for _, t in clients.values()] + [admin_token] + [a["uuid"] for a in gen.anrs] + record_uuids
    engine = create_engine(world.env["STATSSERVICE_SQLALCHEMY_DATABASE_URI"])
    with engine.connect() as conn:
        dump = []
        for table in inspect(conn).get_table_names():
            dump += [str(value) for row in conn.execute(text(f'SELECT * FROM "{table}"')) for value in row]
        keys = conn.execute(text("SELECT client_id, type, date, count(*) FROM stats GROUP BY 1, 2, 3")).all()
    engine.dispose()
    blob = "\n".join(dump)
    assert [s for s in secrets if s in blob] == []
    assert len(keys) == 15 and all(row[3] == 1 for row in keys)

    window = {"date_from": DAYS[0].isoformat(), "date_to": DAYS[-1].isoformat(), "aggregation_period": "day"}
    before = processed(world, hub_token, type="threat", processor="threat_average_on_date", **window)

    # a second run sends nothing; neither does a change of a released day, nor an opt-out
    second = push(local)
    assert second.returncode == 0 and summary(second.stdout)["sent"] == 0
    assert summary(second.stdout)["already"] == 15
    changed = gen.day_batch(0, DAYS[1])[1]  # threat
    changed["data"][0]["count"] = 99
    upload(local, clients["CERT-A"][1], [changed])
    local.flask("client_sharing_deactivate", "--uuid", clients["Bank-B"][0])
    third = push(local)
    assert third.returncode == 0 and summary(third.stdout)["sent"] == 0
    assert processed(world, hub_token, type="threat", processor="threat_average_on_date", **window) == before

    # global hub down: a new final day is fixed in the outbox, and that very payload arrives later
    local.flask("client_sharing_activate", "--uuid", clients["Bank-B"][0])
    for name in ("CERT-A", "Bank-B", "Agency-C", "Hospital-D"):
        upload(local, clients[name][1], [rec for i in OWNERS[name] for rec in gen.day_batch(i, LATE_DAY)])
    world.stop()
    down = push(local)
    assert down.returncode != 0
    assert summary(down.stdout)["failed"] == 5 and summary(down.stdout)["sent"] == 0
    late = gen.day_batch(0, LATE_DAY)[1]
    late["data"][0]["count"] = 1000  # changed after the release was fixed: not sent
    upload(local, clients["CERT-A"][1], [late])
    world.start()
    again = push(local)
    assert again.returncode == 0 and summary(again.stdout) == {
        "sent": 5,
        "released": 0,
        "already": 20,
        "withheld": 5,
        "suppressed_k": 0,
        "suppressed_dominance": 0,
        "failed": 0,
    }
    late_threats = processed(
        world,
        hub_token,
        type="threat",
        processor="threat_average_on_date",
        date_from=LATE_DAY.isoformat(),
        date_to=LATE_DAY.isoformat(),
    )
    assert late_threats and all(item["averages"]["count"] < 1000 / 9 for item in late_threats)

    # an operator withdraws a released day: deleted on the global hub, never sent again
    withdrawn = local.flask("stats_push", "--withdraw", DAYS[0].isoformat(), check=False)
    assert withdrawn.returncode == 0, withdrawn.stdout + withdrawn.stderr
    assert DAYS[0].isoformat() not in {item["date"] for item in held(world, hub_token, "risk")}
    after = push(local)
    assert after.returncode == 0 and summary(after.stdout)["sent"] == 0
    assert DAYS[0].isoformat() not in {item["date"] for item in held(world, hub_token, "risk")}
