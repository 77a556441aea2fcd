"""Two real hubs on loopback: a local hub pushes de-identified aggregates to a global hub.

Checks the SPEC §7 promises end to end: exact weighted results on the global hub, nothing
identifying in its database, k-threshold, idempotent and incremental delivery, sharing opt-out,
and nothing lost while the global hub is down.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import requests
from sqlalchemy import create_engine, inspect, text

from statsservice.demo.payloads import Generator
from tests.approx import assert_close
from tests.live import LiveHub, federated_pair

TODAY = date.today()
DAYS = [TODAY - timedelta(days=d) for d in (4, 3, 2)]
THIN_DAY = TODAY - timedelta(days=1)  # only two sharing analyses: withheld (k = 3)
PROCESSORS = [
    ("threat", "threat_average_on_date", {}),
    ("vulnerability", "vulnerability_average_on_date", {}),
    ("risk", "risk_averages", {}),
    ("risk", "risk_averages_on_date", {}),
]


def upload(hub: LiveHub, token: str, records: list[dict]) -> None:
    response = requests.post(
        f"{hub.url}/api/v1/stats/", json=records, headers={"X-API-KEY": token}, timeout=60
    )
    assert response.status_code == 201, response.text


def processed(hub: LiveHub, token: str, **params) -> dict:
    response = requests.get(
        f"{hub.url}/api/v1/stats/processed/", json=params, headers={"X-API-KEY": token}, timeout=60
    )
    assert response.status_code == 200, response.text
    return response.json()


def push(hub: LiveHub, *args: str):
    return hub.flask("stats_push", "--date-from", DAYS[0].isoformat(), *args, check=False)


def summary(result) -> dict[str, int]:
    line = next(line for line in result.stdout.splitlines() if line.startswith("summary:"))
    return {part.split()[0]: int(part.split()[1]) for part in line.removeprefix("summary: ").split(", ")}


@pytest.fixture
def hubs(tmp_path):
    world, local, hub_token = federated_pair(tmp_path, FEDERATION_BATCH_SIZE="4")
    yield world, local, hub_token
    local.stop()
    world.stop()


def test_push_aggregates_to_global_hub(hubs):
    world, local, hub_token = hubs
    gen = Generator(seed=11, anrs=7)
    clients = {name: local.create_client(name) for name in ("CERT-A", "Bank-B", "Private-C")}
    _, admin_token = local.create_client("local-admin", "--role", "admin")
    owners = {"CERT-A": [0, 1, 2], "Bank-B": [3, 4], "Private-C": [5, 6]}
    local.flask("client_sharing_deactivate", "--uuid", clients["Private-C"][0])
    record_uuids = []
    for name, indexes in owners.items():
        batch = [rec for i in indexes for day in DAYS for rec in gen.day_batch(i, day)]
        if name != "CERT-A":
            batch += [rec for i in indexes for rec in gen.day_batch(i, THIN_DAY)]
        upload(local, clients[name][1], batch)
        listing = requests.get(
            f"{local.url}/api/v1/stats/",
            params={"type": "risk", "limit": 0},
            headers={"X-API-KEY": clients[name][1]},
            timeout=30,
        ).json()
        record_uuids += [item["uuid"] for item in listing["data"]]
    sharing_anrs = [gen.anrs[i]["uuid"] for i in owners["CERT-A"] + owners["Bank-B"]]

    dry = push(local, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"withheld threat {THIN_DAY}: 2 analyses < 3" in dry.stdout
    sent_by_dry_run = [json.loads(line) for line in dry.stdout.splitlines() if line.startswith("{")]
    assert len(sent_by_dry_run) == 5 * len(DAYS)

    first = push(local)
    assert first.returncode == 0, first.stdout + first.stderr
    assert summary(first) == {"sent": 15, "unchanged": 0, "withheld": 5, "withdrawn": 0, "failed": 0}
    assert "batch 4/4" in first.stdout

    # exact: the global hub's weighted results equal the processors over the raw local records
    window = {"date_from": DAYS[0].isoformat(), "date_to": DAYS[-1].isoformat()}
    for stats_type, name, params in PROCESSORS:
        for period in ("day", "month"):
            expected = processed(
                local,
                admin_token,
                type=stats_type,
                processor=name,
                processor_params=params,
                anrs=sharing_anrs,
                aggregation_period=period,
                **window,
            )
            actual = processed(
                world,
                hub_token,
                type=stats_type,
                processor=name,
                processor_params=params,
                aggregation_period=period,
                **window,
            )
            assert_close(expected["data"], actual["data"])
            assert actual["data"], name

    # the withheld day never reached the global hub
    for stats_type in ("risk", "threat", "vulnerability", "cartography", "compliance"):
        held = requests.get(
            f"{world.url}/api/v1/stats/",
            params={"type": stats_type, "date_from": DAYS[0].isoformat(), "date_to": TODAY.isoformat()},
            headers={"X-API-KEY": hub_token},
            timeout=30,
        ).json()
        assert sorted(item["date"] for item in held["data"]) == [d.isoformat() for d in DAYS]

    # nothing identifying of the local hub anywhere in the global hub's database
    secrets = [name for name in owners] + ["local-admin"] + [u for u, _ in clients.values()]
    secrets += [t for _, t in clients.values()] + [admin_token] + [a["uuid"] for a in gen.anrs] + record_uuids
    engine = create_engine(world.env["STATSSERVICE_SQLALCHEMY_DATABASE_URI"])
    with engine.connect() as conn:
        dump = []
        for table in inspect(conn).get_table_names():
            dump += [str(value) for row in conn.execute(text(f'SELECT * FROM "{table}"')) for value in row]
        keys = conn.execute(
            text("SELECT client_id, anr, type, date, count(*) FROM stats GROUP BY 1, 2, 3, 4")
        ).all()
    engine.dispose()
    blob = "\n".join(dump)
    leaked = [s for s in secrets if s in blob]
    assert leaked == []
    assert len(keys) == 15 and all(row[4] == 1 for row in keys)

    # a second run sends nothing
    second = push(local)
    assert second.returncode == 0
    assert summary(second)["sent"] == 0 and summary(second)["unchanged"] == 15

    # a changed local record re-sends only its (type, day)
    changed = gen.day_batch(0, DAYS[1])[1]  # threat
    changed["data"][0]["count"] = 99
    upload(local, clients["CERT-A"][1], [changed])
    third = push(local)
    assert summary(third)["sent"] == 1 and summary(third)["unchanged"] == 14

    # global hub down: push fails without losing anything; after restart everything arrives
    world.stop()
    changed["data"][0]["count"] = 7
    upload(local, clients["CERT-A"][1], [changed])
    down = push(local)
    assert down.returncode != 0
    assert summary(down)["failed"] == 1 and summary(down)["sent"] == 0
    world.start()
    again = push(local)
    assert again.returncode == 0 and summary(again)["sent"] == 1
    expected = processed(
        local, admin_token, type="threat", processor="threat_average_on_date", anrs=sharing_anrs, **window
    )
    actual = processed(world, hub_token, type="threat", processor="threat_average_on_date", **window)
    assert_close(expected["data"], actual["data"])

    # a client that stops sharing contributes nothing: its analyses drop out of the aggregates
    local.flask("client_sharing_deactivate", "--uuid", clients["Bank-B"][0])
    reshaped = push(local)
    assert reshaped.returncode == 0 and summary(reshaped)["sent"] == 15
    cert_anrs = [gen.anrs[i]["uuid"] for i in owners["CERT-A"]]
    for stats_type, name, params in PROCESSORS:
        expected = processed(
            local,
            admin_token,
            type=stats_type,
            processor=name,
            processor_params=params,
            anrs=cert_anrs,
            **window,
        )
        actual = processed(
            world, hub_token, type=stats_type, processor=name, processor_params=params, **window
        )
        assert_close(expected["data"], actual["data"])

    # below the threshold, days already delivered are withdrawn from the global hub
    local.flask("client_sharing_deactivate", "--uuid", clients["CERT-A"][0])
    withdrawn = push(local)
    assert withdrawn.returncode == 0 and summary(withdrawn)["withdrawn"] == 15
    left = requests.get(
        f"{world.url}/api/v1/stats/",
        params={"type": "risk", "date_from": DAYS[0].isoformat()},
        headers={"X-API-KEY": hub_token},
        timeout=30,
    ).json()
    assert left["metadata"]["count"] == 0
