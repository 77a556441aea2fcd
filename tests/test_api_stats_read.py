"""GET /api/v1/stats/ parameters (JSON body or query string), their validation, and who sees or
deletes what: a user client only its own records, an admin all of them (but deletes only its own)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from statsservice.demo.payloads import Generator
from tests import frozen_clock
from tests.api_support import Conformance, auth, new_client, snapshot

TODAY = frozen_clock.today()
OLD = TODAY - timedelta(days=100)  # outside the default window of three months


@pytest.fixture
def world(app, client):
    """Two Front Offices with two analyses each (today and 100 days ago), and an admin."""
    tokens = {"a": new_client("Org A"), "b": new_client("Org B"), "admin": new_client("Admin", admin=True)}
    gen = Generator(seed=21, anrs=4)
    anrs = {"a": [gen.anrs[0]["uuid"], gen.anrs[1]["uuid"]], "b": [gen.anrs[2]["uuid"], gen.anrs[3]["uuid"]]}
    for owner, indexes in (("a", (0, 1)), ("b", (2, 3))):
        batch = [r for i in indexes for day in (OLD, TODAY) for r in gen.day_batch(i, day)]
        response = client.post("/api/v1/stats/", json=batch, headers=auth(tokens[owner]))
        assert response.status_code == 201
    return tokens, anrs


def get(client, token, **params):
    return client.get("/api/v1/stats/", json=params, headers=auth(token))


def anrs_of(response) -> set[str]:
    return {item["anr"] for item in response.get_json()["data"]}


def test_users_see_only_their_own_records(client, world):
    tokens, anrs = world
    assert anrs_of(get(client, tokens["a"], type="risk")) == set(anrs["a"])
    assert anrs_of(get(client, tokens["b"], type="risk")) == set(anrs["b"])
    # asking for the other client's analyses by name gives nothing
    stolen = get(client, tokens["b"], type="risk", anrs=anrs["a"], get_last=True)
    assert stolen.status_code == 200 and stolen.get_json()["metadata"]["count"] == 0


def test_admin_sees_every_client(client, world):
    tokens, anrs = world
    everyone = get(client, tokens["admin"], type="threat", date_from=OLD.isoformat())
    assert anrs_of(everyone) == set(anrs["a"]) | set(anrs["b"])
    assert everyone.get_json()["metadata"]["count"] == 8


def test_nobody_deletes_another_clients_records(client, world):
    tokens, anrs = world
    before = snapshot()
    for token in (tokens["b"], tokens["admin"]):
        response = client.delete(f"/api/v1/stats/{anrs['a'][0]}", headers=auth(token))
        assert response.status_code == 404 and response.get_json()["errors"] == {"anr": ["not found"]}
    assert snapshot() == before
    assert client.delete(f"/api/v1/stats/{anrs['a'][0]}", headers=auth(tokens["a"])).status_code == 204
    assert anrs_of(get(client, tokens["a"], type="risk")) == {anrs["a"][1]}
    assert anrs_of(get(client, tokens["b"], type="risk")) == set(anrs["b"])


def test_uppercase_anr_in_path_deletes(client, world):
    tokens, anrs = world
    assert (
        client.delete(f"/api/v1/stats/{anrs['b'][1].upper()}", headers=auth(tokens["b"])).status_code == 204
    )


@pytest.mark.parametrize("path", ["not-a-uuid", "1234", "6c1d3b0e3a7f4a399d9e0a4f5d1f2b11", "%00"])
def test_delete_with_a_malformed_anr(client, world, path):
    tokens, _ = world
    before = snapshot()
    response = client.delete(f"/api/v1/stats/{path}", headers=auth(tokens["a"]))
    assert response.status_code == 404 and set(response.get_json()) == {"message", "errors"}
    assert snapshot() == before


def test_default_window_is_three_months(client, world):
    tokens, _ = world
    recent = get(client, tokens["a"], type="risk").get_json()
    assert {item["date"] for item in recent["data"]} == {TODAY.isoformat()}
    older = get(client, tokens["a"], type="risk", date_from=OLD.isoformat()).get_json()
    assert {item["date"] for item in older["data"]} == {TODAY.isoformat(), OLD.isoformat()}
    only_old = get(client, tokens["a"], type="risk", date_to=(OLD + timedelta(days=1)).isoformat()).get_json()
    assert {item["date"] for item in only_old["data"]} == {OLD.isoformat()}


def test_get_last_ignores_dates(client, world):
    tokens, anrs = world
    body = get(
        client, tokens["a"], type="risk", get_last=True, date_from="2001-01-01", date_to="2001-01-02"
    ).get_json()
    assert {(i["anr"], i["date"]) for i in body["data"]} == {(a, TODAY.isoformat()) for a in anrs["a"]}


def test_query_string_forms(client, world):
    tokens, anrs = world
    base = {"type": "risk", "date_from": OLD.isoformat()}
    repeated = client.get(
        "/api/v1/stats/", query_string={**base, "anrs": anrs["a"]}, headers=auth(tokens["a"])
    ).get_json()
    comma = client.get(
        "/api/v1/stats/", query_string={**base, "anrs": ",".join(anrs["a"])}, headers=auth(tokens["a"])
    ).get_json()
    body = get(client, tokens["a"], **base, anrs=anrs["a"]).get_json()
    assert repeated == comma == body and body["metadata"]["count"] == 4
    one = client.get(
        "/api/v1/stats/",
        query_string={**base, "anrs": anrs["a"][0], "get_last": "true", "limit": "1"},
        headers=auth(tokens["a"]),
    ).get_json()
    assert one["metadata"] == {"count": 1, "offset": 0, "limit": 1} and anrs_of_body(one) == {anrs["a"][0]}


def anrs_of_body(body: dict) -> set[str]:
    return {item["anr"] for item in body["data"]}


def test_json_body_wins_over_the_query_string(client, world):
    tokens, _ = world
    response = client.get(
        "/api/v1/stats/",
        query_string={"type": "nonsense"},
        json={"type": "threat"},
        headers=auth(tokens["a"]),
    )
    assert response.status_code == 200 and {i["type"] for i in response.get_json()["data"]} == {"threat"}


BAD_PARAMS = {
    "type missing": ({}, "type"),
    "type unknown": ({"type": "malware"}, "type"),
    "type a list": ({"type": ["risk"]}, "type"),
    "date_from malformed": ({"type": "risk", "date_from": "01/02/2024"}, "date_from"),
    "date_to impossible": ({"type": "risk", "date_to": "2024-02-31"}, "date_to"),
    "anrs not uuids": ({"type": "risk", "anrs": ["abc"]}, "anrs.0"),
    "anrs a number": ({"type": "risk", "anrs": 5}, "anrs"),
    "anrs too many": ({"type": "risk", "anrs": ["6c1d3b0e-3a7f-4a39-9d9e-0a4f5d1f2b11"] * 10_001}, "anrs"),
    "get_last a word": ({"type": "risk", "get_last": "maybe"}, "get_last"),
    "offset negative": ({"type": "risk", "offset": -1}, "offset"),
    "offset huge": ({"type": "risk", "offset": 10**20}, "offset"),
    "limit above the cap": ({"type": "risk", "limit": 10_001}, "limit"),
    "limit fractional": ({"type": "risk", "limit": 2.5}, "limit"),
    "limit a word": ({"type": "risk", "limit": "ten"}, "limit"),
}


@pytest.mark.parametrize("name", sorted(BAD_PARAMS))
def test_bad_parameters(client, world, name):
    params, field = BAD_PARAMS[name]
    tokens, _ = world
    response = get(client, tokens["a"], **params)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"], response.get_json()
    Conformance(client).check("get", "/api/v1/stats/", response)


@pytest.mark.parametrize(
    "query, field",
    [
        ({"type": "risk", "offset": "99999999999999999999999"}, "offset"),
        ({"type": "risk", "anrs": "a,b"}, "anrs.0"),
        ({"type": "risk", "anrs": ""}, "anrs.0"),
        ({"type": "risk", "get_last": "yes please"}, "get_last"),
        ({"type": "risk", "date_from": "2024-1-5"}, "date_from"),
    ],
)
def test_bad_query_strings(client, world, query, field):
    tokens, _ = world
    response = client.get("/api/v1/stats/", query_string=query, headers=auth(tokens["a"]))
    assert response.status_code == 422 and field in response.get_json()["errors"], response.get_json()


@pytest.mark.parametrize(
    "data",
    [b"{type: risk}", b"[1, 2]", b'"risk"', b'{"type": "risk", "limit": NaN}', b"\xff", b"{" * 50_000],
)
def test_bad_json_bodies(client, world, data):
    tokens, _ = world
    response = client.get(
        "/api/v1/stats/", data=data, headers={**auth(tokens["a"]), "Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.get_json()["errors"] == {
        "body": response.get_json()["errors"]["body"]
    }


def test_empty_window_is_an_empty_answer(client, world):
    tokens, _ = world
    after_today = (TODAY + timedelta(days=5)).isoformat()
    for params in ({"date_from": after_today}, {"date_from": TODAY.isoformat(), "date_to": OLD.isoformat()}):
        body = get(client, tokens["a"], type="risk", **params).get_json()
        assert body == {"metadata": {"count": 0, "offset": 0, "limit": 0}, "data": []}


def test_large_offset_is_an_empty_page(client, world):
    tokens, _ = world
    body = get(client, tokens["a"], type="risk", offset=2**31 - 1).get_json()
    assert body["metadata"] == {"count": 2, "offset": 2**31 - 1, "limit": 0} and body["data"] == []
