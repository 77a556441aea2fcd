"""The optional read replica (``READ_DATABASE_URI``): where the hub's pure reads go.

Routes that only read (a client's records and processed answers, the public JSON and pages) are
marked with ``reads``; inside them every query of ``db.session`` goes to the replica
(``extensions.HubSession.get_bind``), so the storage functions stay the same for both databases.
Everything else stays on the primary: uploads, deletes, client management, CLI commands,
authentication (a client created a moment ago must be able to sign in) and its ``last_seen``.

A replica is used only while it is fresh: each process checks it at most every
``READ_REPLICA_CHECK_SECONDS`` (not per query) and sends reads to the primary while it is down or
its replay is more than ``READ_REPLICA_MAX_LAG_SECONDS`` behind. A read that fails on the replica
between two checks is run again on the primary, and the replica is left alone until the next
check. Why a key of its own rather than a ``SQLALCHEMY_BINDS`` entry: binds route by model (every
table lives on one bind), where a replica holds every table and is chosen per route; a bind would
also be migrated and ``create_all``-ed, which a read-only standby refuses.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from flask import Flask, current_app, g, has_app_context
from prometheus_client import Counter
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from statsservice.extensions import ENGINE_OPTIONS, READ_ENGINE, db
from statsservice.storage.pool import ping_when_idle

log = logging.getLogger(__name__)

EXTENSION = "statsservice.read_replica"

#: here rather than in ``observability.metrics``, which reads storage: no import circle
READS = Counter(
    "statsservice_read_replica_reads",
    "Read-only requests when a read replica is configured, by the database that served them and why "
    "(replica/ok; primary/down, lagging, or error: the read failed on the replica and ran again).",
    ["database", "reason"],
)


def record_read(database: str, reason: str) -> None:
    """Count one read-only request served with a replica configured."""
    READS.labels(database, reason).inc()


#: the replica's state in one round trip: in recovery (a standby), a WAL receiver running, every
#: received WAL record replayed, and seconds since the last replayed transaction committed on the
#: primary. ``pg_stat_wal_receiver``'s pid is visible to any role (its other columns are not).
LAG_SQL = text(
    "SELECT pg_is_in_recovery(),"
    " EXISTS (SELECT 1 FROM pg_stat_wal_receiver),"
    " pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn(),"
    " EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8"
)


@dataclass(frozen=True, slots=True)
class Health:
    """The replica as the last check saw it."""

    usable: bool
    #: ``ok``, ``down`` (no connection), ``lagging`` (replay too far behind), ``error`` (a read failed)
    reason: str
    lag_seconds: float | None
    checked: float  # time.monotonic() of the check

    def as_dict(self) -> dict[str, Any]:
        lag = None if self.lag_seconds is None or math.isinf(self.lag_seconds) else round(self.lag_seconds, 3)
        return {"usable": self.usable, "reason": self.reason, "lag_seconds": lag}


def lag_of(in_recovery: bool, receiving: bool, caught_up: bool, since_replay: float | None) -> float:
    """Seconds the replica is behind: none when it is not a standby, or when it receives WAL and has
    replayed all of it (a quiet primary sends nothing, however long ago its last commit); else the
    age of the last transaction it replayed (never replayed: infinitely behind)."""
    if not in_recovery or (receiving and caught_up):
        return 0.0
    if since_replay is None:
        return math.inf
    return max(0.0, float(since_replay))


class Replica:
    """One process's handle on the replica: its engine (opened on first use, so a forked gunicorn
    worker never shares the master's connections) and the last check's result."""

    def __init__(
        self,
        uri: str,
        *,
        max_lag: float,
        interval: float,
        connect_timeout: float,
        options: dict,
        ping_idle: float = 1.0,
    ):
        self.uri, self.max_lag, self.interval, self.ping_idle = uri, max_lag, interval, ping_idle
        self.connect_timeout, self.options = connect_timeout, options
        self._engine: Engine | None = None
        self._health: Health | None = None
        self._opening, self._checking = threading.Lock(), threading.Lock()

    @classmethod
    def from_config(cls, config: Any) -> Replica:
        options = {**ENGINE_OPTIONS, **config.get("SQLALCHEMY_ENGINE_OPTIONS", {})}
        options.update(config.get("READ_DATABASE_ENGINE_OPTIONS") or {})
        return cls(
            str(config["READ_DATABASE_URI"]),
            max_lag=float(config["READ_REPLICA_MAX_LAG_SECONDS"]),
            interval=float(config["READ_REPLICA_CHECK_SECONDS"]),
            connect_timeout=float(config["READ_REPLICA_CONNECT_TIMEOUT"]),
            options=options,
            ping_idle=float(config["DATABASE_PING_IDLE_SECONDS"]),
        )

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._opening:
                if self._engine is None:
                    options = dict(self.options)
                    if self.uri.startswith("postgresql"):  # a replica that does not answer is skipped
                        connect_args = {"connect_timeout": max(1, math.ceil(self.connect_timeout))}
                        options["connect_args"] = {**connect_args, **options.get("connect_args", {})}
                    engine = create_engine(self.uri, **options)
                    ping_when_idle(engine, self.ping_idle)
                    self._engine = engine
        return self._engine

    def health(self) -> Health:
        """The last check's result, checked again once it is ``interval`` seconds old."""
        current = self._health
        if current is not None and time.monotonic() - current.checked < self.interval:
            return current
        with self._checking:  # one thread checks; the others wait for its answer
            current = self._health
            if current is None or time.monotonic() - current.checked >= self.interval:
                self._set(self.check())
            return self._health  # type: ignore[return-value]

    def check(self) -> Health:
        """Connect and measure the replay lag (PostgreSQL; another database is taken as current)."""
        try:
            with self.engine.connect() as conn:
                if conn.dialect.name == "postgresql":
                    lag = lag_of(*conn.execute(LAG_SQL).one())
                else:
                    conn.execute(text("SELECT 1"))
                    lag = 0.0
        except DBAPIError as exc:
            log.debug("read replica check failed: %s", exc.__class__.__name__)
            return Health(False, "down", None, time.monotonic())
        usable = lag <= self.max_lag
        return Health(usable, "ok" if usable else "lagging", lag, time.monotonic())

    def failed(self) -> None:
        """A read failed on the replica: leave it alone until the next check."""
        self._set(Health(False, "error", None, time.monotonic()))

    def _set(self, health: Health) -> None:
        before = self._health
        self._health = health
        if before is None or before.usable != health.usable:
            if health.usable:
                log.info("read replica in use (lag %.1f s)", health.lag_seconds or 0.0)
            else:
                lag = "" if health.lag_seconds is None else f", lag {health.lag_seconds:.1f} s"
                log.warning("read replica unusable (%s%s): reads go to the primary", health.reason, lag)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def init_app(app: Flask) -> None:
    """Set up the replica when ``READ_DATABASE_URI`` names one (nothing is opened yet)."""
    if app.config.get("READ_DATABASE_URI"):
        app.extensions[EXTENSION] = Replica.from_config(app.config)


def current() -> Replica | None:
    """This app's replica, or None when none is configured."""
    return current_app.extensions.get(EXTENSION) if has_app_context() else None


P = ParamSpec("P")
R = TypeVar("R")


def reads(view: Callable[P, R]) -> Callable[P, R]:
    """Decorator for a view that only reads: its queries go to the replica while it is usable, to
    the primary otherwise, and again to the primary when they fail on the replica."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        replica = current()
        if replica is None:
            return view(*args, **kwargs)
        health = replica.health()
        if not health.usable:
            record_read("primary", health.reason)
            return view(*args, **kwargs)
        _load_caller()
        token = READ_ENGINE.set(replica.engine)
        try:
            result = view(*args, **kwargs)
        except DBAPIError as exc:
            if not _connection_lost(exc):
                raise
            log.warning("a read failed on the replica (%s): run again on the primary", exc.__class__.__name__)
            replica.failed()
            READ_ENGINE.reset(token)
            token = None
            _discard_replica_work()
            record_read("primary", "error")
            return view(*args, **kwargs)
        finally:
            if token is not None:
                READ_ENGINE.reset(token)
        record_read("replica", "ok")
        return result

    return wrapper


def route_reads(app: Flask, blueprints: tuple[str, ...]) -> None:
    """Mark every view of these blueprints as a read (their static files excepted)."""
    for endpoint, view in list(app.view_functions.items()):
        name, _, rest = endpoint.partition(".")
        if name in blueprints and rest != "static":
            app.view_functions[endpoint] = reads(view)


def engine_for_reads() -> Engine:
    """The engine a read that opens its own connection should use (a streamed answer): the
    replica's inside a read block, the primary's otherwise."""
    return READ_ENGINE.get() or db.engine


def connect_for_reads(engine: Engine) -> Connection:
    """A connection of ``engine``, or of the primary when the replica does not answer."""
    try:
        return engine.connect()
    except DBAPIError:
        replica = current()
        if replica is None or engine is db.engine:
            raise
        replica.failed()
        record_read("primary", "error")
        return db.engine.connect()


def _load_caller() -> None:
    """The authenticated client's row comes from the primary: authentication's ``last_seen``
    commit expired it, and a client created a moment ago may not be on the replica yet."""
    client = g.get("client") if has_app_context() else None
    if client is not None and inspect(client).expired_attributes:
        db.session.refresh(client)


def _connection_lost(exc: DBAPIError) -> bool:
    """A failure of the replica itself (refused, dropped, or a query cancelled by a conflict with
    recovery) rather than of the query: worth running again on the primary."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated


def _discard_replica_work() -> None:
    """Roll the session back (its replica connection with it) before the primary runs the read;
    a rollback the dead connection refuses closes the session, and the caller is loaded again."""
    try:
        db.session.rollback()
    except DBAPIError:
        db.session.close()
        client = g.get("client")
        if client is not None:
            g.client = db.session.merge(client)
    _load_caller()
