"""``/api/v1/client``: the caller's own record (what the Front Office checks) and admin provisioning."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from statsservice.api.auth import current_client, require_client
from statsservice.api.errors import ApiError
from statsservice.api.v1.params import HubBlueprint
from statsservice.extensions import db

URL_PREFIX = "/client"
blp = HubBlueprint("clients", __name__, description="Clients of the hub")


class ClientMeSchema(ma.Schema):
    name = ma.fields.String(required=True)
    token = ma.fields.String(required=True, metadata={"description": "echo of the X-API-KEY used"})
    role = ma.fields.Integer(required=True)
    is_sharing_enabled = ma.fields.Boolean(required=True)


class SharingPatchSchema(ma.Schema):
    is_sharing_enabled = ma.fields.Boolean(required=True)


@blp.route("/me")
class ClientMe(MethodView):
    decorators = [require_client()]

    @blp.response(200, ClientMeSchema)
    @blp.doc(security=[{"ApiKey": []}])
    def get(self):
        """The calling client; ``token`` echoes the key used (the Front Office compares it)."""
        return _me()

    @blp.arguments(SharingPatchSchema)
    @blp.response(200, ClientMeSchema)
    @blp.doc(security=[{"ApiKey": []}])
    def patch(self, body: dict):
        """Turn federation sharing on or off for the calling client."""
        client = current_client()
        client.is_sharing_enabled = body["is_sharing_enabled"]
        db.session.commit()
        return _me()


def _me() -> dict:
    from flask import g

    client = current_client()
    if client is None:  # pragma: no cover - require_client guarantees it
        raise ApiError(401, "not authenticated")
    return {
        "name": client.name,
        "token": g.token,
        "role": client.role,
        "is_sharing_enabled": client.is_sharing_enabled,
    }
