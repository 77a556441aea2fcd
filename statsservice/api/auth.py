"""``X-API-KEY`` authentication for the API (SPEC §2): 401 missing, 403 unknown or inactive,
426 for a MONARC Front Office older than ``MIN_FO_VERSION``, 429 when a rate limit is spent
(``statsservice.api.ratelimit``: refused keys count per address, accepted ones per client)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from flask import current_app, g, request

from statsservice.api import ratelimit
from statsservice.errors import ApiError
from statsservice.storage import clients as registry
from statsservice.storage.models import Client

API_KEY_HEADER = "X-API-KEY"
FO_AGENT = re.compile(r"^\s*MONARC/v?(\d+(?:\.\d+)*)", re.IGNORECASE)


def current_client() -> Client:
    return g.client


def version_tuple(text: str) -> tuple[int, ...]:
    """``"2.10.2"`` → ``(2, 10, 2)``; trailing zeros dropped so 2.10 == 2.10.0."""
    parts = [int(part) for part in text.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def check_user_agent() -> None:
    """Refuse a Front Office too old to talk to this hub; any other user agent passes."""
    match = FO_AGENT.match(request.headers.get("User-Agent", ""))
    if not match or len(match.group(1)) > 40:
        return
    minimum = str(current_app.config["MIN_FO_VERSION"])
    if version_tuple(match.group(1)) < version_tuple(minimum):
        raise ApiError(
            426,
            f"MONARC {match.group(1)} is too old for this stats service: upgrade to {minimum} or later",
            {"User-Agent": [f"MONARC/{minimum} or later is required"]},
        )


def authenticate_request() -> Client:
    check_user_agent()
    token = request.headers.get(API_KEY_HEADER, "")
    if not token:
        raise ApiError(401, "missing X-API-KEY header", {"X-API-KEY": ["required"]})
    client = registry.authenticate(token)
    if client is None:
        g.refused_key = True  # spent from this address's refused-key budget (api.ratelimit)
        raise ApiError(403, "unknown or inactive API key", {"X-API-KEY": ["not accepted"]})
    g.client, g.token = client, token  # also what spends the client's budget (api.ratelimit)
    g.client_uuid = client.uuid  # for the request's log line: the commit below expires the client
    registry.touch_last_seen(client, current_app.config["LAST_SEEN_INTERVAL_SECONDS"])
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

        setattr(wrapper, ratelimit.AUTHENTICATES, True)  # counted by its key, not by address
        return wrapper

    return decorator
