"""Hostile input, driven through HTTP: whatever a caller sends (any JSON, any bytes, any parameter,
any header), the answer is a 2xx or a 4xx JSON body, never a 5xx, and a refusal leaves the
database exactly as it was. Plus the cases a generator rarely finds: huge and deeply nested bodies,
objects naming a key twice (refused with 400: see ``statsservice.api.v1.params``), control and
other unusual characters in labels (stored and returned intact), SQL-looking text in every string
field (stored literally, with no effect).

Hypothesis picks the inputs, derandomized (the same on every run); ``SECURITY_FUZZ_EXAMPLES`` (default
50) sets the examples per property.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from statsservice.demo.payloads import Generator
from statsservice.domain.registry import PROCESSORS, TYPE_NAMES
from statsservice.extensions import db
from statsservice.storage.models import Client
from tests import frozen_clock
from tests.api_support import auth, new_client, snapshot

EXAMPLES = int(os.environ.get("SECURITY_FUZZ_EXAMPLES", "50"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run (SQLite and PostgreSQL passes): failures reproduce
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
TODAY = frozen_clock.today()
GEN = Generator(seed=23, anrs=2)
BATCH = GEN.day_batch(0, TODAY)  # one valid record of each type
STATS = "/api/v1/stats/"


# --- strategies -----------------------------------------------------------------------------

texts = st.text(max_size=40) | st.sampled_from(
    ["", " ", "risk", "2024-01-01", "0", "true", "[]", "{}", "null"]
)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | texts
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=25,
)


def paths_of(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON value (the value itself included), to mutate one of them."""
    out = [prefix]
    if isinstance(value, dict):
        for key, sub in value.items():
            out += paths_of(sub, (*prefix, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value[:3]):
            out += paths_of(sub, (*prefix, index))
    return out


def replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    value = copy.deepcopy(value)
    target = value
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return value


@st.composite
def mutated_records(draw) -> Any:
    """A valid record with one place (any depth, the record itself included) replaced."""
    record = draw(st.sampled_from(BATCH))
    path = draw(st.sampled_from(paths_of(record)))
    return replaced(record, path, draw(json_values))


record_like = st.fixed_dictionaries(
    {
        "anr": st.uuids().map(str) | texts,
        "type": st.sampled_from(TYPE_NAMES) | texts,
        "date": st.dates(date(1990, 1, 1), TODAY + timedelta(days=3)).map(date.isoformat) | texts,
        "data": json_values,
    },
    optional={"uuid": st.uuids().map(str) | json_values, "n": json_values, "extra": json_values},
)
upload_bodies = json_values | st.lists(record_like | mutated_records(), min_size=1, max_size=4)


# --- the hub under attack -------------------------------------------------------------------


@pytest.fixture
def hub(app, make_app):
    """A hub (limits off: input is the subject here) where a user client stored one day, and an admin."""
    hub = make_app(RATELIMIT_ENABLED=False)
    http = hub.test_client()
    with hub.app_context():
        user, admin = new_client("Hostile FO"), new_client("Hostile admin", admin=True)
        assert http.post(STATS, json=BATCH, headers=auth(user)).status_code == 201
        yield http, user, admin


def clients_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Client))


def assert_answered(response, what: Any) -> dict:
    """No 5xx; every answer with a body is JSON, every error the hub's error shape."""
    assert response.status_code < 500, (what, response.status_code, response.data[:500])
    if response.status_code in (204, 304):
        return {}
    body = response.get_json(silent=True)
    assert body is not None, (what, response.status_code, response.data[:200])
    if response.status_code >= 400:
        assert {"message", "errors"} <= set(body) and isinstance(body["errors"], dict), (what, body)
        assert isinstance(body["message"], str) and body["message"], (what, body)
    return body


def post_upload(http, token: str, data: bytes):
    return http.post(STATS, data=data, headers={**auth(token), "Content-Type": "application/json"})


# --- POST /api/v1/stats/ --------------------------------------------------------------------


@FUZZ
@given(body=upload_bodies)
def test_any_json_upload_is_stored_or_refused_cleanly(hub, body):
    http, user, _admin = hub
    before = snapshot()
    response = post_upload(http, user, json.dumps(body).encode())
    report = assert_answered(response, body)
    if response.status_code in (201, 207):
        assert isinstance(body, list) and report["stored"]
        assert len(report["stored"]) + len(report["refused"]) == len(body)
        assert set(report["refused"]) == {int(path.split(".")[0]) for path in report["errors"]}
    else:
        assert response.status_code in (400, 413, 422), response.status_code
        assert snapshot() == before


@FUZZ
@given(
    data=st.binary(max_size=300) | st.sampled_from([b"[", b"[{}", b'[{"anr": "\\ud800"}]', b"\xef\xbb\xbf[]"])
)
def test_any_bytes_upload_is_refused_cleanly(hub, data):
    http, user, _admin = hub
    before = snapshot()
    response = post_upload(http, user, data)
    assert_answered(response, data)
    assert response.status_code in (400, 413, 422)
    assert snapshot() == before


# --- GET parameters (query string and JSON body), other routes ------------------------------

STATS_PARAMS = ["type", "date_from", "date_to", "anrs", "get_last", "offset", "limit"]
PROCESSED_PARAMS = [
    "type",
    "processor",
    "processor_params",
    "date_from",
    "date_to",
    "anrs",
    "local_stats_only",
    "aggregation_period",
]
PUBLIC_PARAMS = ["processor", "days", "last_stats", "local_stats_only", "period", "date_from", "date_to"]
PUBLIC_ROUTES = [
    "/stats/threats.json",
    "/stats/vulnerabilities.json",
    "/stats/risks.json",
    "/stats/compliance.json",
    "/stats/cartography.json",
    "/stats/map.json",
    "/stats/community.json",
    "/about.json",
]
query_texts = st.text(st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    [
        "risk",
        "threat",
        "risk_averages",
        "threat_average_on_date",
        "2024-01-01",
        "1",
        "0",
        "true",
        "-1",
        "99999999999",
    ]
)


def queries(names: list[str]):
    return st.dictionaries(st.sampled_from(names) | query_texts, query_texts, max_size=5)


def json_params(names: list[str]):
    return st.dictionaries(st.sampled_from(names) | texts, json_values, max_size=5)


@FUZZ
@given(query=queries(STATS_PARAMS), body=st.none() | json_params(STATS_PARAMS))
def test_stats_read_parameters(hub, query, body):
    http, user, _admin = hub
    before = snapshot()
    kwargs = {"json": body} if body is not None else {}
    response = http.get(STATS, query_string=query, headers=auth(user), **kwargs)
    answer = assert_answered(response, (query, body))
    if response.status_code == 200:
        assert set(answer) == {"metadata", "data"}
    assert snapshot() == before


@FUZZ
@given(
    query=queries(PROCESSED_PARAMS),
    body=st.none()
    | json_params(PROCESSED_PARAMS)
    | st.fixed_dictionaries(
        {"processor": st.sampled_from(sorted(PROCESSORS))},
        optional={
            # an object, or the same as JSON text (the query-string form) in the body, deep or not
            "processor_params": json_values
            | json_values.map(json.dumps)
            | st.integers(1, 5000).map(lambda depth: deep_text(depth, "object")),
            "type": texts,
            "aggregation_period": texts,
            "anrs": json_values,
        },
    ),
)
def test_processed_parameters(hub, query, body):
    http, user, _admin = hub
    before = snapshot()
    kwargs = {"json": body} if body is not None else {}
    response = http.get(f"{STATS}processed/", query_string=query, headers=auth(user), **kwargs)
    answer = assert_answered(response, (query, body))
    if response.status_code == 200:
        assert set(answer) == {"type", "processor", "data"}
    assert snapshot() == before


@FUZZ
@given(route=st.sampled_from(PUBLIC_ROUTES), query=queries(PUBLIC_PARAMS))
def test_public_parameters(hub, route, query):
    http, _user, _admin = hub
    before = snapshot()
    response = http.get(route, query_string=query)
    assert_answered(response, (route, query))
    assert snapshot() == before


@FUZZ
@given(anr=st.text(st.characters(codec="utf-8"), min_size=1, max_size=60))
def test_delete_path(hub, anr):
    http, user, _admin = hub
    before = snapshot()
    response = http.delete(f"{STATS}{quote(anr, safe='')}", headers=auth(user))
    assert_answered(response, anr)
    assert response.status_code in (204, 404, 405), response.status_code
    if response.status_code != 204:
        assert snapshot() == before


@FUZZ
@given(
    body=json_values
    | st.fixed_dictionaries(
        {}, optional={"name": json_values, "token": json_values, "is_sharing_enabled": json_values}
    )
)
def test_client_bodies(hub, body):
    http, user, admin = hub
    before = clients_count()
    patched = http.patch("/api/v1/client/me", json=body, headers=auth(user))
    assert_answered(patched, body)
    created = http.post("/api/v1/client/", json=body, headers=auth(admin))
    assert_answered(created, body)
    assert clients_count() == before + (created.status_code == 201)


latin1 = st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=120)


@FUZZ
@given(key=latin1, agent=latin1 | st.from_regex(r"\AMONARC/v?[0-9.]{0,60}\Z"))
def test_any_api_key_and_user_agent(hub, key, agent):
    http, _user, _admin = hub
    response = http.get("/api/v1/client/me", headers={"X-API-KEY": key, "User-Agent": agent})
    assert_answered(response, (key, agent))
    assert response.status_code in (401, 403, 426)


# --- size and nesting ----------------------------------------------------------------------


def test_oversize_bodies_are_413_on_every_json_route(app, make_app):
    hub = make_app(RATELIMIT_ENABLED=False, MAX_CONTENT_LENGTH=4096)
    http = hub.test_client()
    with hub.app_context():
        user, admin = new_client("Big FO"), new_client("Big admin", admin=True)
        before = (snapshot(), clients_count())
        big = json.dumps([{"anr": "x" * 5000}]).encode()
        calls = [
            http.post(STATS, data=big, headers={**auth(user), "Content-Type": "application/json"}),
            http.get(STATS, data=big, headers={**auth(user), "Content-Type": "application/json"}),
            http.get(
                f"{STATS}processed/", data=big, headers={**auth(user), "Content-Type": "application/json"}
            ),
            http.patch(
                "/api/v1/client/me", data=big, headers={**auth(user), "Content-Type": "application/json"}
            ),
            http.post(
                "/api/v1/client/", data=big, headers={**auth(admin), "Content-Type": "application/json"}
            ),
        ]
        for response in calls:
            body = assert_answered(response, response.request.path)
            assert response.status_code == 413 and body["errors"] == {"body": ["at most 4096 bytes"]}
        assert (snapshot(), clients_count()) == before


def test_default_size_limit(hub):
    """16 MiB by default (SPEC §3): one byte more is refused before it is parsed."""
    http, user, _admin = hub
    before = snapshot()
    limit = 16 * 1024 * 1024
    body = b"[" + b" " * (limit - 1) + b"]"
    response = post_upload(http, user, body)
    assert response.status_code == 413 and assert_answered(response, "16 MiB + 1")
    assert snapshot() == before


def deep_text(depth: int, kind: str) -> str:
    opening, closing = ("[", "]") if kind == "list" else ('{"a":', "}")
    return opening * depth + "1" + closing * depth


DEPTHS = [50, 400, 900, 990, 2000, 100_000]


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("kind", ["list", "object"])
def test_deeply_nested_json(hub, depth, kind):
    http, user, admin = hub
    before = (snapshot(), clients_count())
    inner = deep_text(depth, kind)
    threat = next(r for r in BATCH if r["type"] == "threat")
    record_with = json.dumps({"anr": threat["anr"], "type": "threat", "date": str(TODAY), "data": "@"})
    label_with = json.dumps(threat).replace('"label1": ', '"label1": "@", "x": ', 1)
    templates = {
        "upload body": (STATS, "post", user, '"@"'),
        "record data": (STATS, "post", user, f"[{record_with}]"),
        "label": (STATS, "post", user, f"[{label_with}]"),
        "read parameter": (STATS, "get", user, '{"type": "risk", "anrs": "@"}'),
        "processor_params": (
            f"{STATS}processed/",
            "get",
            user,
            '{"processor": "risk_averages_on_date", "processor_params": {"x": "@"}}',
        ),
        "patch": ("/api/v1/client/me", "patch", user, '{"is_sharing_enabled": "@"}'),
        "create": ("/api/v1/client/", "post", admin, '{"name": "@"}'),
    }
    calls = {
        what: http.open(
            path,
            method=method.upper(),
            data=template.replace('"@"', inner),
            headers={**auth(token), "Content-Type": "application/json"},
        )
        for what, (path, method, token, template) in templates.items()
    }
    for what, response in calls.items():
        assert_answered(response, what)
        assert 400 <= response.status_code < 500, (what, response.status_code)
    assert (snapshot(), clients_count()) == before


# --- duplicate keys: refused with 400 -------------------------------------------------------


DUPLICATES = {
    "record key": '[{"anr": "%(anr)s", "anr": "%(anr)s", "type": "risk", "date": "%(day)s", "data": %(data)s}]',
    "nested in data": '[{"anr": "%(anr)s", "type": "risk", "date": "%(day)s", "data": {"total": {}, "total": {}}}]',
    "type given twice": '[{"anr": "%(anr)s", "type": "threat", "type": "risk", "date": "%(day)s", "data": %(data)s}]',
}


@pytest.mark.parametrize("name", sorted(DUPLICATES))
def test_duplicate_keys_in_an_upload_are_refused(hub, name):
    http, user, _admin = hub
    risk = next(r for r in BATCH if r["type"] == "risk")
    before = snapshot()
    text = DUPLICATES[name] % {"anr": risk["anr"], "day": TODAY, "data": json.dumps(risk["data"])}
    response = post_upload(http, user, text.encode())
    body = assert_answered(response, name)
    assert response.status_code == 400
    assert body["message"] == "the request body names a key twice in one object"
    assert body["errors"]["body"][0].startswith("duplicate key ")
    assert snapshot() == before


def test_duplicate_keys_elsewhere_are_refused(hub):
    http, user, admin = hub
    before = (snapshot(), clients_count())
    json_headers = {**auth(user), "Content-Type": "application/json"}
    calls = [
        http.get(STATS, data='{"type": "risk", "type": "threat"}', headers=json_headers),
        http.get(
            f"{STATS}processed/",
            data='{"processor": "risk_averages", "processor": "x"}',
            headers=json_headers,
        ),
        http.patch(
            "/api/v1/client/me",
            data='{"is_sharing_enabled": true, "is_sharing_enabled": false}',
            headers=json_headers,
        ),
        http.post(
            "/api/v1/client/",
            data='{"name": "A", "name": "B"}',
            headers={**auth(admin), "Content-Type": "application/json"},
        ),
    ]
    for response in calls:
        body = assert_answered(response, response.request.path)
        assert response.status_code == 400 and body["errors"]["body"][0].startswith("duplicate key ")
    assert (snapshot(), clients_count()) == before
    # keys that differ only in case are different keys
    same_but_case = http.patch(
        "/api/v1/client/me",
        data='{"is_sharing_enabled": true, "Is_sharing_enabled": true}',
        headers=json_headers,
    )
    assert same_but_case.status_code == 422


# --- labels: any character a label can hold comes back intact -------------------------------

label_texts = st.text(st.characters(codec="utf-8"), min_size=1, max_size=80) | st.sampled_from(
    [
        "\u202eevil\u202c",  # right-to-left override
        "a\u0301\u0308",  # combining marks
        "\ufeffBOM",
        "line\u2028separator\u2029",
        "zero\u200bwidth\u200djoiner",
        "\x01\x07\x1b[31mred\x7f\x9f",
        "tab\there\r\nnew line",
        "🔥🏳️‍🌈👩🏽‍💻",
        "𝕳𝖊𝖑𝖑𝖔",
        "\\u0000 is six characters",
        "😀" * 40,
    ]
)


@FUZZ
@given(label=label_texts)
def test_labels_round_trip_or_are_refused_cleanly(hub, label):
    http, user, _admin = hub
    threat = copy.deepcopy(next(r for r in BATCH if r["type"] == "threat"))
    threat["data"][0]["label1"] = label
    before = snapshot()
    response = http.post(STATS, json=[threat], headers=auth(user))
    report = assert_answered(response, label)
    if "\x00" in label:
        assert response.status_code == 422 and "0.data.0.label1" in report["errors"]
        assert snapshot() == before
        return
    assert response.status_code == 201, report
    read = http.get(STATS, json={"type": "threat", "anrs": [threat["anr"]]}, headers=auth(user)).get_json()
    assert read["data"][0]["data"][0]["label1"] == label
    # the client's own processed answer shows its own label (labels are per client)
    own = http.get(
        "/api/v1/stats/processed/",
        json={
            "processor": "threat_average_on_date",
            "anrs": [threat["anr"]],
            "date_from": threat["date"],
            "date_to": threat["date"],
        },
        headers=auth(user),
    ).get_json()
    item = next(i for i in own["data"] if i["object"] == threat["data"][0]["uuid"])
    assert item["labels"]["label1"] == label
    # one organisation's element (and so its text) is not on the public routes (k = 3)
    public = http.get("/stats/threats.json", query_string={"days": 30}).get_json()
    assert all(i["object"] != threat["data"][0]["uuid"] for i in public["data"])


def test_nul_and_lone_surrogates_are_refused_by_name(hub):
    http, user, _admin = hub
    threat = next(r for r in BATCH if r["type"] == "threat")
    before = snapshot()
    for escaped in ("\\u0000", "\\ud800", "x\\udfffy"):
        text = json.dumps([threat]).replace(json.dumps(threat["data"][0]["label1"]), f'"{escaped}"', 1)
        response = post_upload(http, user, text.encode())
        report = assert_answered(response, escaped)
        assert response.status_code == 422 and list(report["errors"]) == ["0.data.0.label1"], report
    assert snapshot() == before


# --- SQL-looking text: stored literally, no effect ------------------------------------------

SQL = [
    "'; DROP TABLE stats; --",
    '" OR 1=1 --',
    "1' UNION SELECT token_hash, name FROM client --",
    "%' OR label1 LIKE '%",
    "'); DELETE FROM client WHERE ('a'='a",
    "\\'; SELECT pg_sleep(0); --",
    "$$; TRUNCATE rollup; $$",
    "Robert'); DROP TABLE label;--",
]


def string_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every string leaf (first item of each list only)."""
    if isinstance(value, str):
        return [prefix]
    if isinstance(value, dict):
        return [p for key, sub in value.items() for p in string_paths(sub, (*prefix, key))]
    if isinstance(value, list) and value:
        return string_paths(value[0], (*prefix, 0))
    return []


def get_path(value: Any, path: tuple) -> Any:
    for key in path:
        value = value[key]
    return value


def test_sql_looking_strings_in_every_string_field(hub):
    """Each string of each record type (labels, uuids, levels, decimals, codes, the record's own
    fields) set to SQL: a free-text field stores it as is; a constrained one refuses it by name."""
    http, user, _admin = hub
    clients = clients_count()
    stored_literally, refused = 0, 0
    payloads = itertools.cycle(SQL)  # two per field, every payload in turn
    for record in BATCH:
        for path in string_paths(record):
            for payload in (next(payloads), next(payloads)):
                attempt = replaced(record, path, payload)
                before = snapshot()
                response = http.post(STATS, json=[attempt], headers=auth(user))
                report = assert_answered(response, (record["type"], path, payload))
                if response.status_code == 201:
                    read = http.get(
                        STATS, json={"type": record["type"], "anrs": [record["anr"]]}, headers=auth(user)
                    ).get_json()
                    assert get_path(read["data"][0]["data"], path[1:]) == payload, path
                    stored_literally += 1
                else:
                    assert response.status_code == 422, report
                    assert snapshot() == before
                    refused += 1
    assert stored_literally and refused  # both kinds of field were met
    assert clients_count() == clients
    assert snapshot()["counts"]["stats"] == len(BATCH)  # every table still there, nothing extra


def test_sql_looking_strings_in_parameters_headers_and_names(hub):
    http, user, admin = hub
    before = (snapshot(), clients_count())
    for payload in SQL:
        answers = [
            http.get(STATS, query_string={"type": payload}, headers=auth(user)),
            http.get(STATS, json={"type": "risk", "anrs": [payload]}, headers=auth(user)),
            http.get(STATS, query_string={"type": "risk", "date_from": payload}, headers=auth(user)),
            http.get(f"{STATS}processed/", query_string={"processor": payload}, headers=auth(user)),
            http.get(
                f"{STATS}processed/",
                json={"processor": "risk_averages_on_date", "processor_params": {"risks_type": payload}},
                headers=auth(user),
            ),
            http.get("/stats/risks.json", query_string={"processor": payload}),
            http.get("/stats/community.json", query_string={"processor": payload}),
            http.get("/api/v1/client/me", headers=auth(payload)),
            http.delete(f"{STATS}{quote(payload, safe='')}", headers=auth(user)),
        ]
        for response in answers:
            assert_answered(response, (payload, response.request.url))
            assert 400 <= response.status_code < 500, (payload, response.request.url, response.status_code)
    assert (snapshot(), clients_count()) == before
    # a client name is free text: stored as is, and the registry is otherwise untouched
    for payload in SQL:
        created = http.post("/api/v1/client/", json={"name": payload}, headers=auth(admin))
        assert created.status_code == 201 and created.get_json()["name"] == payload
    assert clients_count() == before[1] + len(SQL)
    assert snapshot() == before[0]


# --- JSON text inside parameters, one cell named twice, answers no cache may keep -----------


@pytest.mark.parametrize("where", ["body", "query"])
@pytest.mark.parametrize(
    ("depth", "kind", "reason"),
    [
        (3000, "list", "nested too deeply"),  # 6 KiB of brackets
        (3000, "object", "longer than 8192 characters"),
        (100_000, "list", "longer than 8192 characters"),
    ],
)
def test_processor_params_as_deeply_nested_json_text_is_400(hub, where, depth, kind, reason):
    """``processor_params`` as JSON *text* (the query-string form), here nested thousands deep,
    sent in a JSON body or in the query string: 400 naming the parameter, never a 500."""
    http, user, _admin = hub
    params = {"processor": "risk_averages_on_date", "processor_params": deep_text(depth, kind)}
    kwargs = {"json": params} if where == "body" else {"query_string": params}
    response = http.get(f"{STATS}processed/", headers=auth(user), **kwargs)
    answer = assert_answered(response, where)
    assert response.status_code == 400
    assert answer["errors"] == {"processor_params": [reason]}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"risks_type": ', "not valid JSON"),
        ('{"risks_type": NaN}', "NaN is not valid JSON"),
        ('{"a": 1, "a": 2}', 'duplicate key "a" in an object'),
        ('{"a": "' + "x" * 9000 + '"}', "longer than 8192 characters"),
    ],
)
def test_processor_params_text_problems_are_400(hub, text, reason):
    http, user, _admin = hub
    body = {"processor": "risk_averages_on_date", "processor_params": text}
    for kwargs in ({"json": body}, {"query_string": body}):
        response = http.get(f"{STATS}processed/", headers=auth(user), **kwargs)
        answer = assert_answered(response, text)
        assert response.status_code == 400
        (message,) = answer["errors"]["processor_params"]
        assert message.startswith(reason), message


def test_processor_params_as_valid_text_still_work(hub):
    http, user, _admin = hub
    body = {"processor": "risk_averages_on_date", "processor_params": '{"risks_type": "informational"}'}
    for kwargs in ({"json": body}, {"query_string": body}):
        response = http.get(f"{STATS}processed/", headers=auth(user), **kwargs)
        assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize(
    "cells",
    [
        {"01": {"1": 5}, "1": {"1": 7}},  # two impact keys name impact 1
        {"1": {"2": 5, "02": 7}},  # two likelihood keys name likelihood 2
        {"1": {" 3": 5, "3": 7}},
    ],
)
def test_a_cell_named_twice_is_refused_with_its_path(hub, cells):
    """``"01"`` and ``"1"`` are one cell: storing either value would silently lose the other."""
    http, user, _admin = hub
    record = copy.deepcopy(next(r for r in BATCH if r["type"] == "cartography"))
    record["date"] = str(TODAY - timedelta(days=1))
    record["data"]["risks"]["current"]["informational"] = cells
    before = snapshot()
    response = http.post(STATS, json=[record], headers=auth(user))
    answer = assert_answered(response, cells)
    assert response.status_code == 422, answer
    paths = [path for path in answer["errors"] if "informational" in path]
    assert paths and all(path.startswith("0.data.risks.current.informational") for path in paths), answer
    assert any("names the same cell" in reason for path in paths for reason in answer["errors"][path])
    assert snapshot() == before


def test_answers_with_a_token_or_client_data_are_not_cached(hub):
    http, user, admin = hub
    answers = {
        "client/me": http.get("/api/v1/client/me", headers=auth(user)),
        "client create": http.post("/api/v1/client/", json={"name": "Cached?"}, headers=auth(admin)),
        "stats": http.get(STATS, query_string={"type": "risk"}, headers=auth(user)),
        "processed": http.get(
            f"{STATS}processed/", json={"processor": "threat_average_on_date"}, headers=auth(user)
        ),
        "refused key": http.get("/api/v1/client/me", headers=auth("not-a-token")),
    }
    for what, response in answers.items():
        assert response.status_code in (200, 201, 403), (what, response.status_code)
        assert response.headers["Cache-Control"] == "no-store", what
        assert "X-API-KEY" in response.headers["Vary"], what
    assert http.get("/stats/threats.json").headers["Cache-Control"] != "no-store"  # public: cacheable
