"""POST /api/v1/client/ (admin provisioning: 201, existing name 304) and PATCH /client/me."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from statsservice.extensions import db
from statsservice.storage import clients as registry
from statsservice.storage.models import Client
from tests.api_support import Conformance, auth, new_client


def client_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Client))


@pytest.fixture
def admin(app):
    return new_client("Admin", admin=True)


def test_provision_with_a_supplied_token(client, admin):
    token = "provisioned-token-0123456789"
    response = client.post(
        "/api/v1/client/",
        json={"name": "NC3", "token": token, "is_sharing_enabled": False},
        headers=auth(admin),
    )
    Conformance(client).check("post", "/api/v1/client/", response)
    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "NC3" and body["token"] == token and body["role"] == 1
    assert body["is_sharing_enabled"] is False
    me = client.get("/api/v1/client/me", headers=auth(token)).get_json()
    assert me == {"name": "NC3", "token": token, "role": 1, "is_sharing_enabled": False}
    stored = registry.get_by_name("NC3")
    assert stored.uuid == body["uuid"] and token not in (stored.token_hash,)


def test_provision_generates_a_token(client, admin):
    response = client.post("/api/v1/client/", json={"name": "Generated"}, headers=auth(admin))
    assert response.status_code == 201
    token = response.get_json()["token"]
    assert len(token) >= 64 and response.get_json()["is_sharing_enabled"] is True
    assert client.get("/api/v1/client/me", headers=auth(token)).status_code == 200


def test_existing_name_is_304_and_changes_nothing(client, admin):
    first = client.post("/api/v1/client/", json={"name": "Twice", "token": "a" * 20}, headers=auth(admin))
    assert first.status_code == 201
    count = client_count()
    again = client.post("/api/v1/client/", json={"name": "Twice", "token": "b" * 20}, headers=auth(admin))
    assert again.status_code == 304 and again.data == b""
    assert client_count() == count
    assert client.get("/api/v1/client/me", headers=auth("a" * 20)).status_code == 200
    assert client.get("/api/v1/client/me", headers=auth("b" * 20)).status_code == 403


BAD_CREATES = {
    "name missing": ({"token": "t" * 20}, "name"),
    "name blank": ({"name": "   "}, "name"),
    "name too long": ({"name": "n" * 256}, "name"),
    "name a number": ({"name": 12}, "name"),
    "token too short": ({"name": "Short", "token": "abc"}, "token"),
    "token with spaces": ({"name": "Spaces", "token": "has spaces in it here"}, "token"),
    "token not ascii": ({"name": "Accents", "token": "é" * 20}, "token"),
    "token ends with a newline": ({"name": "Newline", "token": "t" * 20 + "\n"}, "token"),
    "sharing a word": ({"name": "Word", "is_sharing_enabled": "yes"}, "is_sharing_enabled"),
    "unknown field": ({"name": "Role", "role": 2}, "role"),
}


@pytest.mark.parametrize("name", sorted(BAD_CREATES))
def test_bad_provisioning(client, admin, name):
    body, field = BAD_CREATES[name]
    count = client_count()
    response = client.post("/api/v1/client/", json=body, headers=auth(admin))
    assert response.status_code == 422 and field in response.get_json()["errors"], response.get_json()
    Conformance(client).check("post", "/api/v1/client/", response)
    assert client_count() == count


def test_token_of_another_client_is_refused(client, admin):
    count = client_count()
    response = client.post("/api/v1/client/", json={"name": "Copycat", "token": admin}, headers=auth(admin))
    assert response.status_code == 409 and "token" in response.get_json()["errors"]
    Conformance(client).check("post", "/api/v1/client/", response)
    assert client_count() == count


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"is_sharing_enabled": "yes"}, 422, "is_sharing_enabled"),
        ({"is_sharing_enabled": 1}, 422, "is_sharing_enabled"),
        ({}, 422, "is_sharing_enabled"),
        ({"is_sharing_enabled": False, "name": "renamed"}, 422, "name"),
        ([False], 422, None),
    ],
)
def test_bad_sharing_patch(client, admin, body, status, field):
    response = client.patch("/api/v1/client/me", json=body, headers=auth(admin))
    assert response.status_code == status, response.get_json()
    if field:
        assert field in response.get_json()["errors"]
    assert client.get("/api/v1/client/me", headers=auth(admin)).get_json()["is_sharing_enabled"] is True


@pytest.mark.parametrize(
    "data, content_type", [(b"{oops", "application/json"), (b"is_sharing_enabled=0", None)]
)
def test_sharing_patch_needs_json(client, admin, data, content_type):
    headers = auth(admin)
    if content_type:
        headers["Content-Type"] = content_type
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    response = client.patch("/api/v1/client/me", data=data, headers=headers)
    assert response.status_code == 400 and set(response.get_json()["errors"]) & {"body", "Content-Type"}
