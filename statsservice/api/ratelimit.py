"""Rate limits with Flask-Limiter: a client is counted by its API key, anyone else by its address.

Three budgets, each a Flask-Limiter limit string in the configuration (an empty string turns it off):

- ``RATELIMIT_PER_IP``: requests no API key vouches for (public pages and JSON, a missing key), per
  address. Checked by Flask-Limiter before the view, as an application-wide limit.
- ``RATELIMIT_PER_CLIENT``: requests authenticated by a client's key, wherever they come from, so a
  hosting provider running many Front Offices behind one address is not throttled as one.
- ``RATELIMIT_AUTH_FAILURES``: refused keys per address. Once spent, that address gets 429 for every
  key, even a right one (or guessing could go on), while clients elsewhere are untouched: a wrong key
  is never counted against the client it tries to be.

The last two are checked by ``statsservice.api.auth`` once the key is known, on the storage and
strategy Flask-Limiter was configured with. Every refusal is a JSON 429 with ``Retry-After``.
``RATELIMIT_STORAGE_URI`` is ``memory://`` (each gunicorn worker counts alone); several workers or
nodes share counters through ``redis://`` or ``memcached://`` (see docs/SECURITY.md).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from flask import Flask, current_app, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded
from limits import RateLimitItem, parse_many

from statsservice.config import ConfigError
from statsservice.errors import ApiError, error_response
from statsservice.storage.models import Client

log = logging.getLogger(__name__)

EXTENSION = "statsservice_ratelimit"
#: set on a view function by ``require_client``: its requests are counted by their API key
AUTHENTICATES = "statsservice_authenticates"
#: probes and the scrape endpoint (protected on its own) are never limited; static files neither
EXEMPT_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "observability.scrape"})
UNMATCHED = "<unmatched>"  # a 404 still counts against its address
LIMIT_KEYS = ("RATELIMIT_PER_IP", "RATELIMIT_PER_CLIENT", "RATELIMIT_AUTH_FAILURES")


@dataclass
class Budgets:
    limiter: Limiter
    per_client: list[RateLimitItem]
    auth_failures: list[RateLimitItem]
    prefix: str
    fail_open: bool


def client_address() -> str:
    """The caller's address (the proxy's client address with ``TRUSTED_PROXIES``)."""
    return request.remote_addr or "unknown"


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


def _not_counted_by_address() -> bool:
    if request.endpoint in EXEMPT_ENDPOINTS:
        return True
    return bool(request.headers.get("X-API-KEY")) and view_authenticates()


def retry_after(reset_at: float) -> int:
    return max(1, math.ceil(reset_at - time.time()))


def _budgets() -> Budgets | None:
    budgets: Budgets | None = current_app.extensions.get(EXTENSION)
    return budgets if budgets is not None and budgets.limiter.enabled else None


def _spend(
    items: list[RateLimitItem], identity: tuple[str, ...], *, hit: bool, message: str, field: str
) -> None:
    """Refuse with 429 when one of ``items`` is spent for ``identity``; else count one (``hit``)."""
    budgets = _budgets()
    if budgets is None or not items:
        return
    keys = (budgets.prefix, *identity) if budgets.prefix else identity
    strategy = budgets.limiter.limiter
    try:
        for item in items:
            if not strategy.test(item, *keys):
                seconds = retry_after(strategy.get_window_stats(item, *keys).reset_time)
                raise ApiError(
                    429,
                    f"{message}: retry in {seconds} s",
                    {field: [f"at most {item}"]},
                    headers={"Retry-After": str(seconds)},
                )
        if hit:
            for item in items:
                strategy.hit(item, *keys)
    except ApiError:
        raise
    except Exception:  # the shared storage (redis, memcached) is unreachable
        if not budgets.fail_open:
            raise
        log.warning("rate limit storage unavailable: request not limited", exc_info=True)


def refuse_locked_out_address() -> None:
    """Before a key is looked at: 429 when this address has spent its refused-key budget."""
    budget = _budgets()
    _spend(
        budget.auth_failures if budget else [],
        ("auth-failures", client_address()),
        hit=False,
        message="too many refused API keys from this address",
        field="X-API-KEY",
    )


def count_auth_failure() -> None:
    """A refused key counts against its address, never against a client."""
    budget = _budgets()
    if budget is None:
        return
    keys = ("auth-failures", client_address())
    keys = (budget.prefix, *keys) if budget.prefix else keys
    try:
        for item in budget.auth_failures:
            budget.limiter.limiter.hit(item, *keys)
    except Exception:
        if not budget.fail_open:
            raise
        log.warning("rate limit storage unavailable: refused key not counted", exc_info=True)


def count_client(client: Client) -> None:
    """An authenticated request counts against its client (429 when the client's budget is spent)."""
    budget = _budgets()
    _spend(
        budget.per_client if budget else [],
        ("client", client.uuid),
        hit=True,
        message="too many requests for this API key",
        field="X-API-KEY",
    )


def _parse(app: Flask, key: str) -> list[RateLimitItem]:
    value = app.config.get(key) or ""
    try:
        return list(parse_many(str(value))) if str(value).strip() else []
    except ValueError as exc:
        raise ConfigError(f'{key} must be a rate limit like "600 per minute", not {value!r}: {exc}') from None


def register(app: Flask) -> None:
    """Bind a Flask-Limiter of its own to ``app`` (so each app, and each test, counts alone)."""
    per_ip, per_client, auth_failures = (_parse(app, key) for key in LIMIT_KEYS)
    limiter = Limiter(
        key_func=client_address,
        application_limits=[
            ApplicationLimit(
                str(app.config.get("RATELIMIT_PER_IP") or ""),
                key_function=client_address,
                scope="address",
                exempt_when=_not_counted_by_address,
            )
        ]
        if per_ip
        else [],
        request_identifier=lambda: request.endpoint or UNMATCHED,
    )
    limiter.init_app(app)
    app.extensions[EXTENSION] = Budgets(
        limiter=limiter,
        per_client=per_client,
        auth_failures=auth_failures,
        prefix=str(app.config.get("RATELIMIT_KEY_PREFIX") or ""),
        fail_open=bool(app.config.get("RATELIMIT_SWALLOW_ERRORS", True)),
    )

    @app.errorhandler(RateLimitExceeded)
    def _too_many(exc: RateLimitExceeded):
        current = limiter.current_limit
        seconds = retry_after(current.reset_at) if current is not None else 60
        return error_response(
            429,
            f"too many requests from this address: retry in {seconds} s",
            {"remote_addr": [f"at most {exc.limit.limit}"]},
            {"Retry-After": str(seconds)},
        )
