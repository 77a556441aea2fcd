"""Pooled connections checked only when they may have gone stale.

SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` at every checkout: one round trip more for
every request, a fifth of a small upload's database time (docs/PERFORMANCE.md, "Where a small
upload's time goes"). A connection handed back a moment ago is alive unless the server went away
in that moment, and then the request fails like any other request during a restart: the hub
answers 503 with Retry-After (``statsservice.errors``) and SQLAlchemy replaces the pool's
connections. So a connection is pinged only when it has been idle ``DATABASE_PING_IDLE_SECONDS``
(default 1) or more: never within a burst (the midnight uploads reuse a connection every few
milliseconds), always after a pause, and so after a server restart, which takes longer than that;
0 pings at every checkout.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

_CHECKED_IN = "statsservice_checked_in"


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping ``engine``'s connections at checkout once idle ``idle_seconds`` or more; a failed
    ping raises ``DisconnectionError``, on which the pool connects anew (up to three times)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN)  # absent on a connection just made: alive
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        except Exception as exc:  # any failure of the driver: this connection is gone
            raise DisconnectionError("a pooled connection did not answer its ping") from exc
