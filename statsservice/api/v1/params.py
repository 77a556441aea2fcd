"""Request parsing shared by the v1 blueprints.

The MONARC Front Office sends the parameters of its GET requests in a JSON body; SPEC §3 also
wants them in the query string. ``HubParser`` makes the "query" location read both (JSON body
keys win), so the OpenAPI document describes them as ordinary query parameters.
Use ``HubBlueprint`` instead of flask-smorest's ``Blueprint`` for every v1 resource.
"""

from __future__ import annotations

import json
from typing import Any

import flask
import marshmallow as ma
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser

from statsservice.api.errors import ApiError


class HubParser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 422

    def load_querystring(self, req: flask.Request, schema: ma.Schema) -> Any:
        args = super().load_querystring(req, schema)
        if req.method not in ("GET", "DELETE", "HEAD") or not req.get_data(cache=True):
            return args
        try:
            body = json.loads(req.get_data(cache=True))
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "the request body must be JSON", {"body": ["not valid JSON"]}) from None
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object", {"body": ["not an object"]})
        merged = {key: args[key] for key in req.args}
        merged.update(body)
        return merged


class HubBlueprint(Blueprint):
    ARGUMENTS_PARSER = HubParser()
