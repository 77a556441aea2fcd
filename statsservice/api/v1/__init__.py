"""API v1 (SPEC §3): flask-smorest blueprints under ``/api/v1``, OpenAPI at ``/api/v1/openapi.json``.

Each resource is one module with its own ``Blueprint``; add it to ``BLUEPRINTS``.
"""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from statsservice.api.v1.schemas import ErrorSchema
from statsservice.version import __version__

PREFIX = "/api/v1"


class HubApi(Api):
    """flask-smorest Api whose errors use the hub's JSON shape (see ``statsservice.errors``)."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        """Errors are handled app-wide by ``statsservice.errors``."""


def register(app: Flask) -> None:
    from statsservice.api import docs
    from statsservice.api.v1 import clients, processed, schemas, stats

    app.config.setdefault("API_TITLE", "statsservice")
    app.config.setdefault("API_VERSION", __version__)
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = HubApi(
        app,
        spec_kwargs={
            "components": {
                "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-KEY"}}
            }
        },
    )
    schemas.register_openapi(api)
    for module in (clients, stats, processed):
        api.register_blueprint(module.blp, url_prefix=PREFIX + module.URL_PREFIX)
    docs.register(app, api)
