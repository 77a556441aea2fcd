"""``X-API-KEY`` authentication for the API (SPEC §2): 401 missing, 403 unknown or inactive."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import current_app, g, request

from statsservice.api.errors import ApiError
from statsservice.storage import clients as registry
from statsservice.storage.models import Client


def current_client() -> Client:
    return g.client


def authenticate_request() -> Client:
    token = request.headers.get("X-API-KEY", "")
    if not token:
        raise ApiError(401, "missing X-API-KEY header", {"X-API-KEY": ["required"]})
    client = registry.authenticate(token)
    if client is None:
        raise ApiError(403, "unknown or inactive API key", {"X-API-KEY": ["not accepted"]})
    registry.touch_last_seen(client, current_app.config["LAST_SEEN_INTERVAL_SECONDS"])
    g.client, g.token = client, token
    return client


def require_client(admin: bool = False) -> Callable:
    """Decorator: the view runs only for an authenticated (and, if asked, admin) client."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            client = authenticate_request()
            if admin and not client.is_admin:
                raise ApiError(403, "this route is for admin clients", {"X-API-KEY": ["not an admin"]})
            return view(*args, **kwargs)

        return wrapper

    return decorator
