"""HTTP caching of what anyone may read: the public JSON, the feed and the pages change only when
a day is released (or, on a global hub, when a hub pushes, a pull or the weather runs), so a
browser, nginx or a CDN may keep them for a few minutes and revalidate them for free: a strong
``ETag`` over the bytes, ``Last-Modified`` at the last change of released data, ``304`` on
``If-None-Match`` / ``If-Modified-Since``."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

from flask import Response, request

from statsservice.storage import dashboard

#: browsers and shared caches keep a public answer this long before revalidating it
CACHE_CONTROL = "public, max-age=300"
#: how long a worker reuses its reading of the last change (one query set per request otherwise)
LAST_CHANGE_SECONDS = 5.0
_last_change: tuple[float, datetime | None] = (0.0, None)


def last_change() -> datetime | None:
    """When released data last changed (UTC), read at most every ``LAST_CHANGE_SECONDS``."""
    global _last_change
    now = time.monotonic()
    if now - _last_change[0] > LAST_CHANGE_SECONDS:
        found = dashboard.last_change()
        _last_change = (now, found.replace(tzinfo=UTC) if found else None)
    return _last_change[1]


def forget() -> None:
    """Read the last change again at the next request (tests, and a command that just released)."""
    global _last_change
    _last_change = (0.0, None)


def conditional(response: Response) -> Response:
    """A public answer made cacheable and revalidated against the request's conditions."""
    if response.status_code != 200:
        return response
    if not response.get_etag()[0]:
        response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    response.headers["Cache-Control"] = CACHE_CONTROL
    changed = last_change()
    if changed is not None:
        response.last_modified = changed
    return response.make_conditional(request)
