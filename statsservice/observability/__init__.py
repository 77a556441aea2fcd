"""Observability: Prometheus metrics at ``/metrics`` and structured JSON logs (one line per
request and per CLI run), configured by the ``METRICS_*`` and ``LOG_*`` settings."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Logging and the request hooks; call before other blueprints so every request is timed."""
    from statsservice.observability import http, logs

    logs.configure(app)
    http.register(app)
