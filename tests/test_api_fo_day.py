"""A MONARC Front Office day against the hub, every step through HTTP as the FO makes it:
provisioning, the token check, the daily upload, the dashboard reads, a forced re-collection,
the sharing toggle and the deletion of an analysis."""

from __future__ import annotations

import copy
from datetime import date, timedelta

from sqlalchemy import func, select

from statsservice.demo.payloads import TYPES, Generator
from statsservice.extensions import db
from statsservice.storage.models import Stats
from tests import frozen_clock
from tests.api_support import Conformance, assert_sums_consistent, auth, counts

TODAY = frozen_clock.today()
YESTERDAY = TODAY - timedelta(days=1)
LAST_MONTH = TODAY - timedelta(days=40)
ANRS = 4
FO_TOKEN = "fo-token-" + "x" * 70


def provision(http, cli) -> str:
    """An operator creates an admin with the CLI; the admin provisions the FO over HTTP."""
    result = cli.invoke(args=["client_create", "--name", "operator", "--role", "admin"])
    assert result.exit_code == 0, result.output
    admin_token = dict(line.split(": ", 1) for line in result.output.splitlines())["Token"]
    body = {"name": "Front Office", "token": FO_TOKEN, "is_sharing_enabled": True}
    created = http.post("/api/v1/client/", json=body, headers=auth(admin_token))
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["token"] == FO_TOKEN and created.get_json()["role"] == 1
    again = http.post("/api/v1/client/", json=body, headers=auth(admin_token))
    assert again.status_code == 304 and again.data == b""
    return admin_token


def day_upload(gen: Generator, day: date) -> list[dict]:
    return [record for index in range(ANRS) for record in gen.day_batch(index, day)]


def read(http, **params) -> dict:
    response = http.get("/api/v1/stats/", json=params, headers=auth(FO_TOKEN))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_front_office_day(app, client, cli):
    http = client
    api = Conformance(http)
    provision(http, cli)

    # the FO checks its key: GET /client/me echoes the token it sent
    me = api.check("get", "/api/v1/client/me", http.get("/api/v1/client/me", headers=auth(FO_TOKEN)))
    assert me.status_code == 200
    assert me.get_json() == {"name": "Front Office", "token": FO_TOKEN, "role": 1, "is_sharing_enabled": True}

    # uploads: today, yesterday and forty days ago, 5 types x 4 analyses, PHP quirks included
    gen = Generator(seed=3, anrs=ANRS, php_quirks=True)
    for day in (LAST_MONTH, YESTERDAY, TODAY):
        batch = day_upload(gen, day)
        response = api.check(
            "post", "/api/v1/stats/", http.post("/api/v1/stats/", json=batch, headers=auth(FO_TOKEN))
        )
        assert response.status_code == 201, response.get_json()
        report = response.get_json()
        assert len(report["stored"]) == len(batch) == 5 * ANRS and report["refused"] == []
    assert counts()["stats"] == 3 * 5 * ANRS
    anrs = [a["uuid"] for a in gen.anrs]

    # reads, as the dashboard makes them: every type, default window (last 3 months)
    for stats_type in TYPES:
        body = read(http, type=stats_type)
        assert body["metadata"] == {"count": 3 * ANRS, "offset": 0, "limit": 0}
        assert {item["type"] for item in body["data"]} == {stats_type}
        assert [item["date"] for item in body["data"]] == sorted(
            (item["date"] for item in body["data"]), reverse=True
        )
    response = http.get("/api/v1/stats/", json={"type": "cartography"}, headers=auth(FO_TOKEN))
    api.check("get", "/api/v1/stats/", response)

    # normalised on the way in: decimal strings are numbers, list-encoded maps are objects
    threats = read(http, type="threat", date_from=TODAY.isoformat(), date_to=TODAY.isoformat())["data"]
    sent = {r["anr"]: r["data"] for r in day_upload(gen, TODAY) if r["type"] == "threat"}
    for item in threats:
        by_uuid = {t["uuid"]: t for t in sent[item["anr"]]}
        for threat in item["data"]:
            assert threat["averageRate"] == float(by_uuid[threat["uuid"]]["averageRate"])
            assert threat["label2"] == by_uuid[threat["uuid"]]["label2"]
    for item in read(http, type="cartography")["data"]:
        for kinds in item["data"]["risks"].values():
            assert all(isinstance(cells, dict) for cells in kinds.values())

    # date window, analyses filter, latest only, paging
    one_day = read(http, type="risk", date_from=YESTERDAY.isoformat(), date_to=YESTERDAY.isoformat())
    assert one_day["metadata"]["count"] == ANRS and {i["date"] for i in one_day["data"]} == {
        YESTERDAY.isoformat()
    }
    two = read(http, type="risk", anrs=anrs[:2])
    assert two["metadata"]["count"] == 6 and {i["anr"] for i in two["data"]} == set(anrs[:2])
    last = read(http, type="vulnerability", get_last=True)
    assert last["metadata"]["count"] == ANRS
    assert {i["date"] for i in last["data"]} == {TODAY.isoformat()} and {
        i["anr"] for i in last["data"]
    } == set(anrs)
    everything = read(http, type="compliance")["data"]
    pages = [read(http, type="compliance", offset=offset, limit=5) for offset in range(0, 3 * ANRS, 5)]
    assert [p["metadata"] for p in pages] == [
        {"count": 3 * ANRS, "offset": offset, "limit": 5} for offset in range(0, 3 * ANRS, 5)
    ]
    assert [item for page in pages for item in page["data"]] == everything

    # the same parameters in the query string give the same answer
    query = http.get(
        "/api/v1/stats/",
        query_string=[("type", "risk"), ("anrs", f"{anrs[0]},{anrs[1]}"), ("limit", "0")],
        headers=auth(FO_TOKEN),
    )
    assert query.get_json() == two

    # a forced re-collection of today: still one record per key, the latest data wins
    before = {(i["anr"], i["date"]): i["uuid"] for i in read(http, type="risk")["data"]}
    recollected = copy.deepcopy(day_upload(gen, TODAY))
    for record in recollected:
        if record["type"] == "risk":
            record["data"]["risks"]["current"]["informational"] = [{"level": "High risks", "value": 99}]
    response = http.post("/api/v1/stats/", json=recollected, headers=auth(FO_TOKEN))
    assert response.status_code == 201
    assert counts()["stats"] == 3 * 5 * ANRS
    keys = db.session.execute(
        select(Stats.anr, Stats.type, Stats.date, func.count()).group_by(Stats.anr, Stats.type, Stats.date)
    ).all()
    assert len(keys) == 3 * 5 * ANRS and {row[3] for row in keys} == {1}
    today = read(http, type="risk", date_from=TODAY.isoformat(), date_to=TODAY.isoformat())["data"]
    assert all(
        i["data"]["risks"]["current"]["informational"] == [{"level": "High risks", "value": 99}]
        for i in today
    )
    assert {
        (i["anr"], i["date"]): i["uuid"] for i in read(http, type="risk")["data"]
    } == before  # same records

    # the sharing toggle
    patched = http.patch("/api/v1/client/me", json={"is_sharing_enabled": False}, headers=auth(FO_TOKEN))
    api.check("patch", "/api/v1/client/me", patched)
    assert patched.status_code == 200 and patched.get_json()["is_sharing_enabled"] is False
    assert http.get("/api/v1/client/me", headers=auth(FO_TOKEN)).get_json()["is_sharing_enabled"] is False

    # deleting an analysis: 204, its records and their sums are gone, the others stay
    gone = anrs[0]
    deleted = http.delete(f"/api/v1/stats/{gone}", headers=auth(FO_TOKEN))
    api.check("delete", "/api/v1/stats/{anr}", deleted)
    assert deleted.status_code == 204 and deleted.data == b""
    for stats_type in TYPES:
        assert read(http, type=stats_type, anrs=[gone])["metadata"]["count"] == 0
        assert read(http, type=stats_type)["metadata"]["count"] == 3 * (ANRS - 1)
    assert_sums_consistent()  # the per-day sums no longer hold the deleted analysis
    again = http.delete(f"/api/v1/stats/{gone}", headers=auth(FO_TOKEN))
    api.check("delete", "/api/v1/stats/{anr}", again)
    assert again.status_code == 404 and again.get_json()["errors"] == {"anr": ["not found"]}


def test_collect_check_before_upload(client, cli):
    """The FO asks for today's risk records before collecting; a first run finds none."""
    provision(client, cli)
    body = read(client, type="risk", date_from=TODAY.isoformat(), date_to=TODAY.isoformat())
    assert body == {"metadata": {"count": 0, "offset": 0, "limit": 0}, "data": []}
