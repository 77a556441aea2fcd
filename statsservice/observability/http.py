"""Per-request observability: a request id, one log line and the request metrics for every
response, and the protected ``/metrics`` endpoint."""

from __future__ import annotations

import hmac
import ipaddress
import re
import time
import uuid

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from statsservice.config import ConfigError
from statsservice.errors import ApiError
from statsservice.observability import logs, metrics
from statsservice.storage import replica

bp = Blueprint("observability", __name__)

#: an incoming X-Request-ID is kept (so a proxy's id follows the request) only if it looks like one
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"


def _start() -> None:
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _client_uuid() -> str | None:
    """The authenticated client's uuid, without a query when the object is still loaded."""
    client = g.get("client")
    if client is None:
        return None
    value = g.get("client_uuid") or inspect(client).dict.get("uuid")
    if value is None:
        try:
            value = client.uuid  # expired by a commit: one primary-key read
        except SQLAlchemyError:
            return None
    return value


def _finish(response: Response) -> Response:
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    method = request.method if request.method in METHODS else "OTHER"
    metrics.record_request(route, method, response.status_code, seconds)
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers["X-Request-ID"] = request_id
    if current_app.config.get("LOG_REQUESTS", True):
        logs.event(
            "request",
            f"{method} {route} {response.status_code}",
            method=method,
            route=route,
            status=response.status_code,
            duration_ms=round(seconds * 1000, 3),
            client=_client_uuid(),
            request_id=request_id,
        )
    return response


def _networks(value: object) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return [ipaddress.ip_network(str(item).strip(), strict=False) for item in items if str(item).strip()]


def _check_access() -> None:
    cfg = current_app.config
    if not cfg.get("METRICS_ENABLED", True):
        raise ApiError(404, "metrics are disabled on this hub", {"path": ["METRICS_ENABLED is off"]})
    allowed = _networks(cfg.get("METRICS_ALLOWED_NETWORKS"))
    if allowed:
        try:
            address = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            address = None
        if address is None or not any(address in network for network in allowed):
            raise ApiError(403, "this address may not read the metrics", {"remote_addr": ["not allowed"]})
    token = str(cfg.get("METRICS_TOKEN") or "")
    if token:
        scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(supplied.strip().encode(), token.encode()):
            raise ApiError(
                401,
                "the metrics need a bearer token",
                {"Authorization": ["Bearer <METRICS_TOKEN> required"]},
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )


@bp.get("/metrics")
def scrape() -> Response:
    """Prometheus exposition format (text)."""
    _check_access()
    snap = metrics.database_snapshot(float(current_app.config.get("METRICS_DB_CACHE_SECONDS", 30)))
    read_replica = replica.current()
    health = read_replica.health().as_dict() if read_replica is not None else None
    return Response(metrics.render(snap, health), content_type=CONTENT_TYPE_LATEST)


def register(app: Flask) -> None:
    try:  # a bad network fails at start-up, not on every scrape
        _networks(app.config.get("METRICS_ALLOWED_NETWORKS"))
    except ValueError as exc:
        raise ConfigError(f"METRICS_ALLOWED_NETWORKS: {exc}") from None
    app.before_request(_start)
    app.after_request(_finish)
    app.register_blueprint(bp)
