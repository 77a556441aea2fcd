"""API keys (401/403), the Front Office version gate (426), last_seen throttling, and JSON
answers for routing errors."""

from __future__ import annotations

import pytest

from statsservice.extensions import db
from statsservice.storage import clients as registry
from tests.api_support import auth, new_client

ROUTES = [
    ("get", "/api/v1/client/me", None),
    ("patch", "/api/v1/client/me", {"is_sharing_enabled": False}),
    ("post", "/api/v1/client/", {"name": "x"}),
    ("get", "/api/v1/stats/?type=risk", None),
    ("post", "/api/v1/stats/", []),
    ("delete", "/api/v1/stats/6c1d3b0e-3a7f-4a39-9d9e-0a4f5d1f2b11", None),
]


@pytest.mark.parametrize("method, path, body", ROUTES)
def test_missing_key_is_401(client, method, path, body):
    response = getattr(client, method)(path, json=body)
    assert response.status_code == 401
    assert response.get_json() == {
        "message": "missing X-API-KEY header",
        "errors": {"X-API-KEY": ["required"]},
    }


@pytest.mark.parametrize("method, path, body", ROUTES)
def test_unknown_key_is_403(client, method, path, body):
    response = getattr(client, method)(path, json=body, headers={"X-API-KEY": "nobody-has-this-key"})
    assert response.status_code == 403 and "X-API-KEY" in response.get_json()["errors"]


def test_key_is_checked_before_parameters(client):
    """A caller without a valid key learns nothing about the parameters it sent."""
    response = client.get("/api/v1/stats/", query_string={"type": "malware"}, headers={"X-API-KEY": "wrong"})
    assert response.status_code == 403


def test_inactive_client_is_403(app, client):
    token = new_client("Retired")
    registry.get_by_name("Retired").is_active = False
    db.session.commit()
    assert client.get("/api/v1/client/me", headers=auth(token)).status_code == 403


def test_admin_route_refuses_users(app, client):
    token = new_client("Plain user")
    response = client.post("/api/v1/client/", json={"name": "New"}, headers=auth(token))
    assert response.status_code == 403 and response.get_json()["errors"] == {"X-API-KEY": ["not an admin"]}
    assert registry.get_by_name("New") is None


@pytest.mark.parametrize("agent", ["MONARC/2.10.1", "MONARC/2.9.12", "MONARC/1.0", "monarc/2.10.1-beta"])
def test_old_front_office_gets_426(app, client, agent):
    token = new_client("Old FO")
    response = client.get("/api/v1/client/me", headers=auth(token, agent=agent))
    assert response.status_code == 426
    body = response.get_json()
    assert "2.10.2" in body["message"] and "User-Agent" in body["errors"]


@pytest.mark.parametrize(
    "agent",
    ["MONARC/2.10.2", "MONARC/2.10.2.1", "MONARC/2.11", "MONARC/10.0.0", "Mozilla/5.0", "", "MONARC/x"],
)
def test_other_agents_pass(app, client, agent):
    token = new_client("Any agent")
    assert client.get("/api/v1/client/me", headers=auth(token, agent=agent)).status_code == 200


def test_minimum_version_is_configurable(app, make_app):  # app: empties the tables afterwards
    configured = make_app(MIN_FO_VERSION="2.12.0")
    with configured.app_context():
        token = new_client("Configured FO")
        http = configured.test_client()
        assert http.get("/api/v1/client/me", headers=auth(token, agent="MONARC/2.11.9")).status_code == 426
        assert http.get("/api/v1/client/me", headers=auth(token, agent="MONARC/2.12")).status_code == 200


def test_last_seen_is_written_at_most_once_per_interval(app, make_app):
    configured = make_app(LAST_SEEN_INTERVAL_SECONDS=3600)
    with configured.app_context():
        token = new_client("Busy FO")
        http = configured.test_client()
        assert registry.get_by_name("Busy FO").last_seen is None
        http.get("/api/v1/client/me", headers=auth(token))
        db.session.expire_all()
        first = registry.get_by_name("Busy FO").last_seen
        assert first is not None
        for _ in range(5):
            http.get("/api/v1/client/me", headers=auth(token))
        db.session.expire_all()
        assert registry.get_by_name("Busy FO").last_seen == first


def test_routing_errors_are_json(client):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and set(missing.get_json()) == {"message", "errors"}
    wrong_method = client.put("/api/v1/stats/")
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["Allow"]
    assert set(wrong_method.get_json()) == {"message", "errors"}
