"""Flask extension singletons, bound to the app in ``create_app``."""

import logging
from contextvars import ContextVar
from typing import Any

import orjson
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase

log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    pass


#: the engine that the session's reads go to inside a read block (``storage.replica.reads``): the
#: read replica's, or None for the primary. Per context, so one request's choice never leaks into
#: another thread's.
READ_ENGINE: ContextVar[Engine | None] = ContextVar("statsservice_read_engine", default=None)


class HubSession(Session):
    """The session, whose statements go to the read replica inside a read block.

    One switch for every storage function: they all query ``db.session``, and a route marked as
    a read (``storage.replica.reads``) sends them all to the replica without each taking an
    engine. A flush always goes to the primary (a standby refuses writes).
    """

    def get_bind(
        self,
        mapper: Any | None = None,
        clause: Any | None = None,
        bind: Engine | Connection | None = None,
        **kwargs: Any,
    ) -> Engine | Connection:
        engine = READ_ENGINE.get()
        if engine is not None and bind is None and not self._flushing:
            return engine
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


class HubSQLAlchemy(SQLAlchemy):
    """Flask-SQLAlchemy whose end-of-request cleanup survives a database that went away.

    The session's closing ROLLBACK fails when PostgreSQL restarts between the answer and the
    teardown; the answer is already decided, so the broken connection is dropped, not turned into
    a 500 by the WSGI server.
    """

    def _teardown_session(self, exc: BaseException | None) -> None:
        try:
            self.session.remove()
        except DBAPIError as error:
            log.warning("dropping a broken database connection: %s", error.__class__.__name__)
            self.session.registry.clear()


def _json_text(value: Any) -> str:
    """JSON columns written by orjson: five times json.dumps's speed on a record's data (an
    upload spent a quarter of its storage time there), compact text on SQLite."""
    return orjson.dumps(value).decode()


#: engine options of every engine the hub opens (the primary's and the read replica's)
ENGINE_OPTIONS: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}

db = HubSQLAlchemy(
    model_class=Base,
    engine_options=ENGINE_OPTIONS,
    session_options={"class_": HubSession},
)
migrate = Migrate()


def _enable_sqlite_foreign_keys() -> None:
    """SQLite ignores ON DELETE CASCADE unless each connection turns foreign keys on."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no branch
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()


_enable_sqlite_foreign_keys()
