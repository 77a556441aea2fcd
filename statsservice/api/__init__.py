"""HTTP layer: blueprints, request/response schemas, authentication and JSON errors."""

from flask import Flask


def register(app: Flask) -> None:
    from statsservice.api import errors, health, proxy, ratelimit, security, v1

    errors.register(app)
    proxy.register(app)
    security.register(app)
    ratelimit.register(app)
    app.register_blueprint(health.bp)
    v1.register(app)
