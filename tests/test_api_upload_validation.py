"""POST /api/v1/stats/ refuses every bad input with a JSON error naming the field, and the
database is exactly as before (rows of stats, per-day sums and labels, and the stored data)."""

from __future__ import annotations

import copy
import io
import json
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from statsservice.demo.payloads import Generator
from statsservice.extensions import db
from statsservice.storage.models import Stats
from tests import frozen_clock
from tests.api_support import Conformance, auth, counts, new_client, snapshot

TODAY = frozen_clock.today()
GEN = Generator(seed=11, anrs=3, php_quirks=True)


def records(index: int = 0, day: date = TODAY) -> dict[str, dict]:
    """The five records of one analysis for one day, by type."""
    return {r["type"]: r for r in copy.deepcopy(GEN.day_batch(index, day))}


@pytest.fixture
def fo(app, client):
    """A Front Office client with one day already stored (so "unchanged" means something)."""
    token = new_client("FO")
    response = client.post("/api/v1/stats/", json=list(records().values()), headers=auth(token))
    assert response.status_code == 201
    return token


def post_raw(client, token, data: bytes, content_type: str | None = "application/json"):
    headers = auth(token)
    if content_type:
        headers["Content-Type"] = content_type
    return client.post("/api/v1/stats/", data=data, headers=headers)


# --- the body as a whole: 400, nothing stored ----------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000
BODIES = {
    "not json": (b'[{"anr": ', "application/json"),
    "text/plain": (json.dumps([records(1)["risk"]]).encode(), "text/plain"),
    "no content type": (json.dumps([records(1)["risk"]]).encode(), None),
    "form encoded": (b"anr=1&type=risk", "application/x-www-form-urlencoded"),
    "empty": (b"", "application/json"),
    "object, not list": (json.dumps(records(1)["risk"]).encode(), "application/json"),
    "empty list": (b"[]", "application/json"),
    "string": (b'"risk"', "application/json"),
    "NaN": (
        json.dumps([records(1)["risk"]]).replace('"value": 0', '"value": NaN').encode() + b"",
        "application/json",
    ),
    "bare NaN": (b"[NaN]", "application/json"),
    "Infinity": (b'[{"n": Infinity}]', "application/json"),
    "nested too deep": (DEEP, "application/json"),
    "huge integer": (b'[{"n": ' + b"9" * 5000 + b"}]", "application/json"),
    "not utf-8": (b'[{"anr": "\xff\xfe"}]', "application/json"),
    "trailing garbage": (b"[] []", "application/json"),
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_bad_body(client, fo, name):
    data, content_type = BODIES[name]
    before = snapshot()
    response = post_raw(client, fo, data, content_type)
    assert response.status_code == 400, response.data[:300]
    body = response.get_json()
    assert set(body) == {"message", "errors"} and body["message"]
    assert set(body["errors"]) & {"body", "Content-Type"}, body
    Conformance(client).check("post", "/api/v1/stats/", response)
    assert snapshot() == before


# --- one bad record: 422, named by index and field, nothing stored ---------------------------


def _set(path: list, value):
    def mutate(record: dict) -> dict:
        target = record
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return record

    return mutate


def _drop(key: str):
    def mutate(record: dict) -> dict:
        record.pop(key)
        return record

    return mutate


far_future = (TODAY + timedelta(days=30)).isoformat()
CASES = {
    # name: (type of record, mutation, expected error path)
    "unknown type": ("risk", _set(["type"], "malware"), "0.type"),
    "type missing": ("risk", _drop("type"), "0.type"),
    "anr missing": ("risk", _drop("anr"), "0.anr"),
    "anr not a uuid": ("risk", _set(["anr"], "not-a-uuid"), "0.anr"),
    "anr without dashes": ("risk", _set(["anr"], "a" * 32), "0.anr"),
    "anr with a trailing newline": ("risk", lambda r: dict(r, anr=r["anr"] + "\n"), "0.anr"),
    "date with a trailing newline": ("risk", lambda r: dict(r, date=r["date"] + "\n"), "0.date"),
    "anr a number": ("risk", _set(["anr"], 12), "0.anr"),
    "date missing": ("risk", _drop("date"), "0.date"),
    "date slashes": ("risk", _set(["date"], "2024/01/05"), "0.date"),
    "date week form": ("risk", _set(["date"], "2024-W01-1"), "0.date"),
    "date impossible": ("risk", _set(["date"], "2024-02-30"), "0.date"),
    "date before 2000": ("risk", _set(["date"], "1999-12-31"), "0.date"),
    "date in the future": ("risk", _set(["date"], far_future), "0.date"),
    "date empty": ("risk", _set(["date"], ""), "0.date"),
    "data missing": ("risk", _drop("data"), "0.data"),
    "data null": ("risk", _set(["data"], None), "0.data"),
    "unknown field": ("risk", _set(["client"], "me"), "0.client"),
    "uuid not a uuid": ("risk", _set(["uuid"], "x"), "0.uuid"),
    "risk wrong nesting": (
        "risk",
        _set(["data", "risks", "current"], [{"level": "Low risks", "value": 1}]),
        "0.data.risks.current",
    ),
    "risk unknown state": ("risk", _set(["data", "risks", "future"], {}), "0.data.risks.future"),
    "risk unknown level": (
        "risk",
        _set(["data", "risks", "current", "informational"], [{"level": "Extreme risks", "value": 1}]),
        "0.data.risks.current.informational.0.level",
    ),
    "risk negative count": (
        "risk",
        _set(["data", "risks", "current", "informational"], [{"level": "Low risks", "value": -1}]),
        "0.data.risks.current.informational.0.value",
    ),
    "risk count a word": (
        "risk",
        _set(["data", "risks", "current", "informational"], [{"level": "Low risks", "value": "many"}]),
        "0.data.risks.current.informational.0.value",
    ),
    "risk count huge": (
        "risk",
        _set(["data", "risks", "current", "informational"], [{"level": "Low risks", "value": 10**30}]),
        "0.data.risks.current.informational.0.value",
    ),
    "risk count infinite string": (
        "risk",
        _set(["data", "risks", "current", "informational"], [{"level": "Low risks", "value": "1e999"}]),
        "0.data.risks.current.informational.0.value",
    ),
    "risks missing": ("risk", _set(["data"], {"total": {}}), "0.data.risks"),
    "threat data an object": ("threat", _set(["data"], {"uuid": "x"}), "0.data"),
    "threat item not an object": ("threat", _set(["data", 0], "fire"), "0.data.0"),
    "threat count negative": ("threat", _set(["data", 0, "count"], -3), "0.data.0.count"),
    "threat count a boolean": ("threat", _set(["data", 0, "count"], True), "0.data.0.count"),
    "threat rate not decimal": ("threat", _set(["data", 0, "averageRate"], "2,50"), "0.data.0.averageRate"),
    "threat uuid missing": ("threat", lambda r: (r["data"][0].pop("uuid"), r)[1], "0.data.0.uuid"),
    "threat label too long": ("threat", _set(["data", 0, "label1"], "x" * 5000), "0.data.0.label1"),
    "vulnerability maxRisk nested": (
        "vulnerability",
        _set(["data", 0, "maxRisk"], {"v": 1}),
        "0.data.0.maxRisk",
    ),
    "cartography key not a number": (
        "cartography",
        _set(["data", "risks", "current", "informational"], {"high": {"1": 2}}),
        "0.data.risks.current.informational.high",
    ),
    "cartography negative cell": (
        "cartography",
        _set(["data", "risks", "current", "informational"], {"1": {"2": -2}}),
        "0.data.risks.current.informational.1.2",
    ),
    "cartography scale not a list": (
        "cartography",
        _set(["data", "scales", "impact"], 5),
        "0.data.scales.impact",
    ),
    "compliance referential not a uuid": (
        "compliance",
        _set(["data", 0, "referential"], "iso"),
        "0.data.0.referential",
    ),
    "compliance control without code": (
        "compliance",
        lambda r: (r["data"][0]["current"][0]["controls"][0].pop("code"), r)[1],
        "0.data.0.current.0.controls.0.code",
    ),
    "compliance category name too long to key it": (
        "compliance",
        lambda r: (r["data"][0]["current"][0].update(label1="c" * 300), r)[1],
        "0.data.0.current.0.label1",
    ),
    "NUL in a label": ("threat", _set(["data", 0, "label1"], "fire\x00"), "0.data.0.label1"),
    "lone surrogate in a label": ("threat", _set(["data", 0, "label2"], "feu\ud800"), "0.data.0.label2"),
    "record weight from a local client": ("risk", _set(["n"], 5), "0.n"),
    "element weight from a local client": ("threat", _set(["data", 0, "n"], 5), "0.data.0.n"),
}


def _case_record(kind: str, mutate) -> dict:
    if kind == "compliance":
        record = next(
            r["compliance"] for r in (records(i) for i in range(3)) if r["compliance"]["data"]
        )  # an analysis with at least one referential
    else:
        record = records(1)[kind]
    return mutate(record)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_record(client, fo, name):
    kind, mutate, path = CASES[name]
    record = _case_record(kind, mutate)
    before = snapshot()
    response = client.post(
        "/api/v1/stats/", data=json.dumps([record]), headers={**auth(fo), "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert path in body["errors"], body["errors"]
    assert all(
        isinstance(reason, str) and reason for reasons in body["errors"].values() for reason in reasons
    )
    assert body["stored"] == [] and body["refused"] == [0]
    Conformance(client).check("post", "/api/v1/stats/", response)
    assert snapshot() == before


def test_refused_replacement_keeps_the_stored_record(client, fo):
    """Re-sending a stored key with bad data changes nothing: the old record stays whole."""
    record = records(0)["risk"]
    record["data"]["risks"]["current"]["informational"] = [{"level": "Low risks", "value": -1}]
    before = snapshot()
    response = client.post("/api/v1/stats/", json=[record], headers=auth(fo))
    assert response.status_code == 422
    assert snapshot() == before


def test_not_a_record(client, fo):
    before = snapshot()
    response = client.post("/api/v1/stats/", json=[5, None, ["risk"]], headers=auth(fo))
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"0", "1", "2"}
    assert snapshot() == before


# --- size limits: 413 ---------------------------------------------------------------------


def test_body_over_the_size_limit(app, make_app):  # app: empties the tables afterwards
    limited = make_app(MAX_CONTENT_LENGTH=2048)
    with limited.app_context():
        token = new_client("FO small")
        http = limited.test_client()
        batch = list(records().values())
        response = http.post("/api/v1/stats/", json=batch, headers=auth(token))
        assert response.status_code == 413
        assert response.get_json()["errors"] == {"body": ["at most 2048 bytes"]}
        assert counts() == {"stats": 0, "client_day": 0, "rollup_day": 0, "client_label": 0}
        # the same without a Content-Length (chunked): the limit holds while reading
        chunked = http.post(
            "/api/v1/stats/",
            input_stream=io.BytesIO(json.dumps(batch).encode()),
            headers={**auth(token), "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )
        assert chunked.status_code == 413 and chunked.get_json()["message"]
        assert counts() == {"stats": 0, "client_day": 0, "rollup_day": 0, "client_label": 0}


def test_too_many_records(app, make_app):
    limited = make_app(MAX_BATCH_RECORDS=3)
    with limited.app_context():
        token = new_client("FO many")
        response = limited.test_client().post(
            "/api/v1/stats/", json=list(records().values()), headers=auth(token)
        )
        assert response.status_code == 413
        assert response.get_json()["errors"] == {"body": ["at most 3 records"]}
        assert counts() == {"stats": 0, "client_day": 0, "rollup_day": 0, "client_label": 0}


# --- partial batches: 207 -----------------------------------------------------------------


def test_partial_batch_stores_the_valid_records(client, fo):
    batch = list(records(1).values())
    batch[1]["date"] = "2024-13-01"
    batch[3]["data"] = "cartography"
    before = counts()
    response = client.post("/api/v1/stats/", json=batch, headers=auth(fo))
    Conformance(client).check("post", "/api/v1/stats/", response)
    assert response.status_code == 207
    report = response.get_json()
    assert report["refused"] == [1, 3]
    assert set(report["errors"]) == {"1.date", "3.data"}
    assert len(report["stored"]) == 3
    assert counts()["stats"] == before["stats"] + 3
    stored = {
        row.uuid: row.type
        for row in db.session.scalars(select(Stats).where(Stats.uuid.in_(report["stored"])))
    }
    assert sorted(stored.values()) == sorted(batch[i]["type"] for i in (0, 2, 4))


def test_unicode_labels_round_trip(client, fo):
    record = records(2)["threat"]
    record["data"][0]["label1"] = "Incendie 🔥 火災 — «feu»"
    response = client.post("/api/v1/stats/", json=[record], headers=auth(fo))
    assert response.status_code == 201
    body = client.get(
        "/api/v1/stats/", json={"type": "threat", "anrs": [record["anr"]]}, headers=auth(fo)
    ).get_json()
    assert body["data"][0]["data"][0]["label1"] == "Incendie 🔥 火災 — «feu»"


def test_same_key_twice_in_a_batch_last_wins(client, fo):
    first, second = records(2)["risk"], records(2)["risk"]
    second["data"]["risks"]["residual"]["operational"] = [{"level": "Low risks", "value": 7}]
    response = client.post("/api/v1/stats/", json=[first, second], headers=auth(fo))
    assert response.status_code == 201
    stored = response.get_json()["stored"]
    assert stored[0] == stored[1]
    row = db.session.scalar(select(Stats).where(Stats.uuid == stored[0]))
    assert row.data["risks"]["residual"]["operational"] == [{"level": "Low risks", "value": 7}]


def test_supplied_uuid_is_kept_and_cannot_be_stolen(client, fo):
    record = records(2)["risk"]
    record["uuid"] = "6c1d3b0e-3a7f-4a39-9d9e-0a4f5d1f2b11"
    response = client.post("/api/v1/stats/", json=[record], headers=auth(fo))
    assert response.status_code == 201 and response.get_json()["stored"] == [record["uuid"]]
    other = new_client("Other FO")
    stolen = records(1, TODAY - timedelta(days=1))["threat"]
    stolen["uuid"] = record["uuid"]
    before = snapshot()
    refused = client.post("/api/v1/stats/", json=[stolen], headers=auth(other))
    assert refused.status_code == 422 and "0.uuid" in refused.get_json()["errors"]
    assert snapshot() == before
    twice = [records(2, TODAY - timedelta(days=2))["risk"], records(2, TODAY - timedelta(days=3))["risk"]]
    twice[0]["uuid"] = twice[1]["uuid"] = "0d7e9c52-61c1-4ad8-8a51-2f0f7f0c9a10"
    response = client.post("/api/v1/stats/", json=twice, headers=auth(fo))
    assert response.status_code == 207 and response.get_json()["refused"] == [1]


def test_hub_clients_may_send_weights(client, fo):
    """Federation aggregates come from hub clients: record and element weights are kept."""
    hub = new_client("hub-lu", local=False)
    record = records(0)["threat"]
    record["n"] = 12
    record["data"][0]["n"] = 7
    response = client.post("/api/v1/stats/", json=[record], headers=auth(hub))
    assert response.status_code == 201, response.get_json()
    row = db.session.scalar(select(Stats).where(Stats.uuid == response.get_json()["stored"][0]))
    assert row.n == 12 and row.data[0]["n"] == 7


def test_a_batch_larger_than_one_statement_is_stored_whole(client, fo):
    """The upsert runs in slices (bind-parameter limits) inside one transaction: every record is
    stored, a key repeated in a later slice still wins, and a re-upload replaces."""
    days = [(TODAY - timedelta(days=d)).isoformat() for d in range(3)]
    anrs = [str(uuid.UUID(int=i + 1, version=4)) for i in range(1500)]
    batch = [{"anr": anr, "type": "vulnerability", "date": day, "data": []} for anr in anrs for day in days]
    last = dict(
        batch[0],
        data=[{"uuid": str(uuid.UUID(int=7, version=4)), "count": 1, "maxRisk": 2, "averageRate": "0.5"}],
    )
    batch.append(last)
    before = counts()["stats"]
    response = client.post("/api/v1/stats/", json=batch, headers=auth(fo))
    assert response.status_code == 201, response.get_json()
    stored = response.get_json()["stored"]
    assert len(set(stored)) == 4500 and stored[0] == stored[-1]
    assert counts()["stats"] == before + 4500
    row = db.session.scalar(select(Stats).where(Stats.uuid == stored[0]))
    assert row.data[0]["averageRate"] == 0.5
    again = client.post("/api/v1/stats/", json=batch, headers=auth(fo))
    assert again.status_code == 201 and again.get_json()["stored"] == stored
    assert counts()["stats"] == before + 4500
