"""Client registry queries, shared by the CLI and the API."""

from __future__ import annotations

import uuid as uuid_mod

from sqlalchemy import bindparam, select

from statsservice.clock import utcnow
from statsservice.domain.tokens import check_supplied_token, generate_token, hash_token, token_matches
from statsservice.extensions import db
from statsservice.storage import sums
from statsservice.storage.models import ROLE_ADMIN, ROLE_USER, Client, Stats

ROLES = {"user": ROLE_USER, "admin": ROLE_ADMIN}


class ClientError(ValueError):
    """An operator or API input that cannot be applied to the registry (message is user-facing)."""


def create_client(
    name: str,
    *,
    token: str | None = None,
    uuid: str | None = None,
    role: int = ROLE_USER,
    is_sharing_enabled: bool = True,
    local: bool = True,
    is_demo: bool = False,
) -> tuple[Client, str]:
    """Create a client and return it with its clear-text token (shown once, never stored)."""
    name = (name or "").strip()
    if not name or len(name) > 255:
        raise ClientError("name must be 1 to 255 characters")
    if role not in ROLES.values():
        raise ClientError("role must be 1 (user) or 2 (admin)")
    if uuid is not None:
        try:
            uuid = str(uuid_mod.UUID(uuid))
        except ValueError:
            raise ClientError(f"not a valid UUID: {uuid}") from None
        if get_by_uuid(uuid) is not None:
            raise ClientError(f"a client with uuid {uuid} already exists")
    if get_by_name(name) is not None:
        raise ClientError(f"a client named {name!r} already exists")
    token = _new_token(token)
    client = Client(
        name=name,
        role=role,
        token_hash=hash_token(token),
        is_sharing_enabled=is_sharing_enabled,
        local=local,
        is_demo=is_demo,
    )
    if uuid is not None:
        client.uuid = uuid
    db.session.add(client)
    db.session.commit()
    return client, token


def _new_token(token: str | None) -> str:
    """A generated token, or the supplied one once checked: well formed and used by no client."""
    if token is None:
        return generate_token()
    problem = check_supplied_token(token)
    if problem:
        raise ClientError(problem)
    if db.session.scalar(select(Client.id).where(Client.token_hash == hash_token(token))):
        raise ClientError("this token is already used by another client")
    return token


def get_by_name(name: str) -> Client | None:
    return db.session.scalar(select(Client).where(Client.name == name))


def get_by_uuid(uuid: str) -> Client | None:
    return db.session.scalar(select(Client).where(Client.uuid == uuid))


def require_by_uuid(uuid: str) -> Client:
    client = get_by_uuid(uuid)
    if client is None:
        raise ClientError(f"no client with uuid {uuid}")
    return client


#: built once: every authenticated request runs it (building and keying a new one each time cost
#: a small upload a tenth of its Python time)
_BY_TOKEN = select(Client).where(Client.token_hash == bindparam("token_hash"))


def authenticate(token: str) -> Client | None:
    """The active client owning ``token``, or None."""
    client = db.session.scalar(_BY_TOKEN, {"token_hash": hash_token(token)})
    if client is None or not token_matches(token, client.token_hash) or not client.is_active:
        return None
    return client


def rotate_token(uuid: str, token: str | None = None) -> tuple[Client, str]:
    """Give a client a new token (generated, or supplied by a provisioning tool); the old one stops
    working at once, since only the new hash is kept. Return the client and the clear token."""
    client = require_by_uuid(uuid)
    if token is not None and hash_token(token) == client.token_hash:
        raise ClientError("the new token must differ from the current one")
    token = _new_token(token)
    client.token_hash = hash_token(token)
    db.session.commit()
    return client, token


def list_clients() -> list[Client]:
    return list(db.session.scalars(select(Client).order_by(Client.created_at, Client.id)))


def delete_client(uuid: str) -> int:
    """Delete a client and all its stats; return the number of stats removed."""
    client = require_by_uuid(uuid)
    removed = sums.delete_records(Stats.client_id == client.id)
    sums.forget_client(client.id)
    db.session.delete(client)
    db.session.commit()
    return removed


def set_sharing(uuid: str, enabled: bool) -> Client:
    client = require_by_uuid(uuid)
    client.is_sharing_enabled = enabled
    db.session.commit()
    return client


def set_coordinates(uuid: str, latitude: float | None, longitude: float | None) -> Client:
    client = require_by_uuid(uuid)
    if latitude is not None and not -90 <= latitude <= 90:
        raise ClientError(f"latitude must be between -90 and 90, not {latitude}")
    if longitude is not None and not -180 <= longitude <= 180:
        raise ClientError(f"longitude must be between -180 and 180, not {longitude}")
    client.latitude, client.longitude = latitude, longitude
    db.session.commit()
    return client


def touch_last_seen(client: Client, interval_seconds: int) -> None:
    """Record activity at most once per interval, so a request storm is not a write storm."""
    now = utcnow()
    if client.last_seen is None or (now - client.last_seen).total_seconds() >= interval_seconds:
        client.last_seen = now
        db.session.commit()
