"""``/api/v1/client``: the caller's own record (what the Front Office checks) and admin provisioning."""

from __future__ import annotations

import http

from flask import Response, g
from flask.views import MethodView
from sqlalchemy.exc import IntegrityError

from statsservice.api.auth import current_client
from statsservice.api.v1.params import HubBlueprint
from statsservice.api.v1.schemas import (
    ClientCreatedSchema,
    ClientCreateSchema,
    ClientMeSchema,
    SharingPatchSchema,
)
from statsservice.errors import ApiError
from statsservice.extensions import db
from statsservice.storage import clients as registry
from statsservice.storage.clients import ClientError

URL_PREFIX = "/client"
blp = HubBlueprint("clients", __name__, description="Clients of the hub")


@blp.route("/")
class Clients(MethodView):
    @blp.authenticated(admin=True)
    @blp.arguments(ClientCreateSchema)
    @blp.response(201, ClientCreatedSchema, description="The client is created; its token is shown once.")
    @blp.alt_response(304, description="A client with this name exists already: nothing changed.")
    @blp.alt_response(400, response=http.HTTPStatus(400).name)
    @blp.alt_response(409, response=http.HTTPStatus(409).name)
    def post(self, body: dict):
        """Provision a client (admins only). Provisioning tools treat 201 and 304 as success."""
        if registry.get_by_name(body["name"].strip()) is not None:
            return Response(status=304)
        try:
            client, token = registry.create_client(
                body["name"], token=body.get("token"), is_sharing_enabled=body["is_sharing_enabled"]
            )
        except (ClientError, IntegrityError) as exc:
            # the schema checked name and token: left are a concurrent creation of the same name
            # (success for provisioning) and a token another client already uses
            db.session.rollback()
            if registry.get_by_name(body["name"].strip()) is not None:
                return Response(status=304)
            reason = str(exc) if isinstance(exc, ClientError) else "this token is already used"
            raise ApiError(409, reason, {"token": [reason]}) from None
        return {
            "uuid": client.uuid,
            "name": client.name,
            "role": client.role,
            "token": token,
            "is_sharing_enabled": client.is_sharing_enabled,
        }


@blp.route("/me")
class ClientMe(MethodView):
    @blp.authenticated()
    @blp.response(200, ClientMeSchema)
    def get(self):
        """The calling client; `token` echoes the key used (the Front Office compares it)."""
        return _me()

    @blp.authenticated()
    @blp.arguments(SharingPatchSchema)
    @blp.response(200, ClientMeSchema)
    @blp.alt_response(400, response=http.HTTPStatus(400).name)
    def patch(self, body: dict):
        """Turn federation sharing on or off for the calling client."""
        client = current_client()
        client.is_sharing_enabled = body["is_sharing_enabled"]
        db.session.commit()
        return _me()


def _me() -> dict:
    client = current_client()
    return {
        "name": client.name,
        "token": g.token,
        "role": client.role,
        "is_sharing_enabled": client.is_sharing_enabled,
    }
