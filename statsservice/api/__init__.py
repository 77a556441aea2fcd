"""HTTP layer: blueprints, request/response schemas and authentication (JSON errors, shared with
the dashboard, live in ``statsservice.errors``)."""

from flask import Flask


def register(app: Flask) -> None:
    from statsservice.api import health, proxy, ratelimit, security, v1

    proxy.register(app)
    security.register(app)
    ratelimit.register(app)
    app.register_blueprint(health.bp)
    v1.register(app)
