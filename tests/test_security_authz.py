"""Authorization matrix: every route of the app (read from ``app.url_map``, so a new route without
an entry in ``tests/security_support.ACCESS`` fails) × every role (anonymous, user client, admin
client, inactive client). docs/SECURITY.md shows the same table; a test checks it lists every route.
A refused call leaves the database as it was.
"""

from __future__ import annotations

import re

import pytest

from tests.api_support import snapshot
from tests.security_support import (
    ACCESS,
    ADMIN,
    CLIENT,
    EXPECTED,
    REPO,
    ROLES,
    SAMPLES,
    call,
    routes,
    seed_records,
    setup_callers,
)


def test_every_route_has_an_access_rule(app):
    assert routes(app) == set(ACCESS), "add the new route to ACCESS (and docs/SECURITY.md)"
    assert set(SAMPLES) <= set(ACCESS)


def test_security_md_lists_every_route(app):
    text = (REPO / "docs" / "SECURITY.md").read_text()
    rows = set(re.findall(r"^\| `(GET|POST|PATCH|DELETE|PUT) ([^`]+)` \|", text, re.MULTILINE))
    assert {(path, method) for method, path in rows} == set(ACCESS)
    assert "tests/test_security_authz.py" in text


@pytest.mark.parametrize("role", ROLES)
def test_route_by_role(app, make_app, role):
    hub = make_app(RATELIMIT_ENABLED=False)
    http = hub.test_client()
    with hub.app_context():
        callers = setup_callers()
        failures = []
        for rule, method in sorted(ACCESS):
            seed_records(http, callers)
            before = snapshot()
            response = call(http, callers[role], rule, method)
            expected = EXPECTED[ACCESS[(rule, method)]][role]
            status = response.status_code
            if expected == "2xx":
                if not 200 <= status < 300:
                    failures.append(f"{method} {rule} as {role}: {status}, expected 2xx")
                continue
            if status != expected:
                failures.append(f"{method} {rule} as {role}: {status}, expected {expected}")
                continue
            body = response.get_json()
            if set(body or {}) != {"message", "errors"} or "X-API-KEY" not in body["errors"]:
                failures.append(f"{method} {rule} as {role}: error body {body}")
            if snapshot() != before:
                failures.append(f"{method} {rule} as {role}: refused, yet the database changed")
        assert not failures, "\n".join(failures)


def test_an_admin_deletes_only_its_own_records(app, make_app):
    """Admins read every client's records, but DELETE stays scoped to the caller."""
    hub = make_app(RATELIMIT_ENABLED=False)
    http = hub.test_client()
    with hub.app_context():
        callers = setup_callers()
        seed_records(http, callers)
        before = snapshot()
        response = http.delete(f"/api/v1/stats/{callers['user'].anr}", headers=callers["admin"].headers)
        assert response.status_code == 404 and response.get_json()["errors"] == {"anr": ["not found"]}
        assert snapshot() == before
        everything = http.get("/api/v1/stats/?type=risk", headers=callers["admin"].headers).get_json()
        assert {r["anr"] for r in everything["data"]} == {callers["user"].anr, callers["admin"].anr}
        own = http.get("/api/v1/stats/?type=risk", headers=callers["user"].headers).get_json()
        assert {r["anr"] for r in own["data"]} == {callers["user"].anr}


def test_api_keys_never_open_the_metrics(app, make_app):
    """/metrics is the operator's: with METRICS_TOKEN set, no client key (admin or not) opens it."""
    hub = make_app(METRICS_TOKEN="scrape-only-" + "s" * 20, RATELIMIT_ENABLED=False)
    http = hub.test_client()
    with hub.app_context():
        callers = setup_callers()
    for caller in callers.values():
        response = http.get("/metrics", headers=caller.headers)
        assert response.status_code == 401 and response.get_json()["errors"] == {
            "Authorization": ["Bearer <METRICS_TOKEN> required"]
        }
    assert (
        http.get("/metrics", headers={"Authorization": "Bearer scrape-only-" + "s" * 20}).status_code == 200
    )


def test_automatic_methods_leak_nothing(app, make_app):
    """OPTIONS answers every route without a key, but only with the allowed methods."""
    hub = make_app(RATELIMIT_ENABLED=False)
    http = hub.test_client()
    for rule, method in ACCESS:
        if ACCESS[(rule, method)] in (CLIENT, ADMIN) and "<" not in rule:
            response = http.options(rule)
            assert response.status_code == 200 and response.data == b"", rule
            assert method in response.headers["Allow"]
            head = http.head(rule) if method == "GET" else None
            if head is not None:
                assert head.status_code == 401 and head.data == b""
