"""Rate limits with Flask-Limiter: a client is counted by its API key, anyone else by its address.

Three budgets, each a Flask-Limiter limit string in the configuration (an empty string turns it off):

- ``RATELIMIT_PER_IP``: requests no API key vouches for (public pages and JSON, a missing key), per
  address. Checked by Flask-Limiter before the view, as an application-wide limit.
- ``RATELIMIT_PER_CLIENT``: requests authenticated by a client's key, wherever they come from, so a
  hosting provider running many Front Offices behind one address is not throttled as one.
- ``RATELIMIT_AUTH_FAILURES``: refused keys per address. Once spent, that address gets 429 for every
  key, even a right one (or guessing could go on), while clients elsewhere are untouched: a wrong key
  is never counted against the client it tries to be.

All three are Flask-Limiter application limits declared through its public API (``key_function``,
``exempt_when``, ``deduct_when``): each budget is tested before the view runs and the two key budgets
are spent afterwards, only for what ``statsservice.api.auth`` decided (``g.client`` set: an
accepted key; ``g.refused_key``: a refused one). Every refusal is a JSON 429 with ``Retry-After``.
Storage, strategy, key prefix and fail-open are Flask-Limiter's own ``RATELIMIT_*`` settings.
``RATELIMIT_STORAGE_URI`` is ``memory://`` (each gunicorn worker counts alone, in ``SweptMemory``);
several workers or nodes share counters through ``redis://`` or ``memcached://`` (see
docs/SECURITY.md).
"""

from __future__ import annotations

import math
import time
from urllib.parse import urlparse

from flask import Flask, Response, current_app, g, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage

from statsservice.config import ConfigError
from statsservice.domain.tokens import hash_token
from statsservice.errors import error_response

#: set on a view function by ``require_client``: its requests are counted by their API key
AUTHENTICATES = "statsservice_authenticates"
#: probes and the scrape endpoint (protected on its own) are never limited; static files neither
EXEMPT_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "observability.scrape"})
UNMATCHED = "<unmatched>"  # a 404 still counts against its address


class SweptMemory(MemoryStorage):
    """``memory://`` without a thread per request. limits' memory storage drops expired counters
    from a ``threading.Timer`` started 10 ms after a hit whenever the last one has run, so a worker
    whose requests come more than 10 ms apart started a thread for each: 2 ms of a 5-record upload
    on a quiet machine, several on a busy one (docs/PERFORMANCE.md). Here they are dropped in the
    request, at most once a second; counting is limits' own (``get`` ignores an expired counter)."""

    STORAGE_SCHEME = ["statsservice-memory"]
    SWEEP_SECONDS = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # the parent's private hook
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def _storage_uri(app: Flask) -> str:
    """The configured storage, ``memory://`` served by ``SweptMemory``."""
    uri = str(app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
    return f"{SweptMemory.STORAGE_SCHEME[0]}://" if urlparse(uri).scheme == "memory" else uri


#: budget (Flask-Limiter scope) -> its setting, what a 429 says, and the field it blames
BUDGETS = {
    "address": ("RATELIMIT_PER_IP", "too many requests from this address", "remote_addr"),
    "client": ("RATELIMIT_PER_CLIENT", "too many requests for this API key", "X-API-KEY"),
    "auth-failures": ("RATELIMIT_AUTH_FAILURES", "too many refused API keys from this address", "X-API-KEY"),
}


def client_address() -> str:
    """The caller's address (the proxy's client address with ``TRUSTED_PROXIES``)."""
    return request.remote_addr or "unknown"


def client_key() -> str:
    """A client's budget is keyed by its token's hash: no lookup, and never the token in storage."""
    return "key:" + hash_token(request.headers.get("X-API-KEY", ""))


def view_authenticates() -> bool:
    """Whether the view answering this request checks an API key (``require_client``)."""
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        method = request.method.lower()
        view = getattr(view_class, method, None) or (
            getattr(view_class, "get", None) if method == "head" else None
        )
    return bool(getattr(view, AUTHENTICATES, False))


def _counted_by_key() -> bool:
    return bool(request.headers.get("X-API-KEY")) and view_authenticates()


def _not_counted_by_address() -> bool:
    return request.endpoint in EXEMPT_ENDPOINTS or _counted_by_key()


def _not_counted_by_key() -> bool:
    return not _counted_by_key()


def _accepted_key(_response: Response) -> bool:
    return g.get("client") is not None


def _refused_key(_response: Response) -> bool:
    return bool(g.get("refused_key"))


def retry_after(reset_at: float) -> int:
    return max(1, math.ceil(reset_at - time.time()))


def _parse(app: Flask, key: str) -> list[RateLimitItem]:
    value = app.config.get(key) or ""
    try:
        return list(parse_many(str(value))) if str(value).strip() else []
    except ValueError as exc:
        raise ConfigError(f'{key} must be a rate limit like "600 per minute", not {value!r}: {exc}') from None


def _limits(app: Flask) -> list[ApplicationLimit]:
    """The three budgets whose setting is not empty, as Flask-Limiter application limits."""
    how = {
        "address": (client_address, _not_counted_by_address, None),
        "client": (client_key, _not_counted_by_key, _accepted_key),
        "auth-failures": (client_address, _not_counted_by_key, _refused_key),
    }
    limits = []
    for scope, (setting, message, _field) in BUDGETS.items():
        if not _parse(app, setting):
            continue
        key_function, exempt_when, deduct_when = how[scope]
        limits.append(
            ApplicationLimit(
                str(app.config[setting]),
                key_function=key_function,
                scope=scope,
                exempt_when=exempt_when,
                deduct_when=deduct_when,
                error_message=message,
            )
        )
    return limits


def register(app: Flask) -> None:
    """Bind a Flask-Limiter of its own to ``app`` (so each app, and each test, counts alone)."""
    limiter = Limiter(
        key_func=client_address,
        application_limits=_limits(app),
        request_identifier=lambda: request.endpoint or UNMATCHED,
        storage_uri=_storage_uri(app),
    )
    limiter.init_app(app)

    @app.errorhandler(RateLimitExceeded)
    def _too_many(exc: RateLimitExceeded):
        current = limiter.current_limit
        seconds = retry_after(current.window.reset_time) if current is not None else 60
        _setting, message, field = BUDGETS.get(str(exc.limit.scope), BUDGETS["address"])
        return error_response(
            429,
            f"{message}: retry in {seconds} s",
            {field: [f"at most {exc.limit.limit}"]},
            {"Retry-After": str(seconds)},
        )
