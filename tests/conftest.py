"""Fixtures: one migrated database per session (SQLite file, or TEST_DATABASE_URL for PostgreSQL),
emptied between tests, and apps built with the real factory; the clock pinned for every test
(``tests/frozen_clock.py``: ``STATS_TEST_CLOCK`` moves it)."""

from __future__ import annotations

import os
import time
import uuid as uuid_mod
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from flask_migrate import upgrade
from sqlalchemy import MetaData, create_engine, make_url, text

from statsservice.app import create_app
from statsservice.extensions import db
from tests import frozen_clock

REPO = Path(__file__).resolve().parent.parent
_session_travel: time_machine.travel | None = None

#: tests of PostgreSQL streaming replication belong to the PostgreSQL pass (TEST_DATABASE_URL):
#: elsewhere they are not collected (tests/test_read_replica.py covers a hub without a replica)
collect_ignore = (
    [] if os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql") else ["test_replica_postgres.py"]
)


def pytest_configure(config: pytest.Config) -> None:
    """Pin the clock before test modules are imported (their dated constants see it) and hand
    the same shifted clock to every Python process the suite starts."""
    global _session_travel
    config.addinivalue_line(
        "markers", "live: starts real processes (gunicorn, CLI runs, browsers); not in the frozen-clock pass"
    )
    moment = frozen_clock.instant()
    if moment is None or _session_travel is not None:
        return
    if os.environ.get(frozen_clock.OFFSET_ENV):
        # a process the suite started (a pytest-xdist worker): clock_hook already shifted its
        # clock by the inherited offset, which its own children inherit in turn; measured again
        # here against the shifted clock, the offset would be about zero and put them on today
        return
    os.environ[frozen_clock.OFFSET_ENV] = repr(moment.timestamp() - time.time())
    hook = str(frozen_clock.HOOK_DIR)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (hook, os.environ.get("PYTHONPATH")) if p)
    _session_travel = time_machine.travel(moment, tick=True)
    _session_travel.start()


#: a test module that starts real hubs imports one of these; its tests are marked ``live``, and
#: so are the browser tests (tests/e2e), whose hubs their conftest starts
LIVE_HUBS = ("LiveHub", "ProductionHub")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = getattr(item, "module", None)
        starts_hubs = module is not None and any(name in vars(module) for name in LIVE_HUBS)
        if starts_hubs or "e2e" in item.path.parts:
            item.add_marker(pytest.mark.live)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _session_travel
    if _session_travel is not None:
        _session_travel.stop()
        _session_travel = None


@pytest.fixture(autouse=True)
def pinned_clock(request: pytest.FixtureRequest):
    """Each in-process test starts exactly at the pinned instant (a test frozen at 23:59 runs on
    that day); live tests keep the session's shifted clock, which their processes share."""
    moment = frozen_clock.instant()
    if moment is None or request.node.get_closest_marker("live"):
        yield
        return
    with time_machine.travel(moment, tick=True):
        yield


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """The test database, migrated from empty with ``flask db upgrade``'s code path."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    elif url.startswith("postgresql") and os.environ.get("PYTEST_XDIST_WORKER"):
        url = _worker_database(url, os.environ["PYTEST_XDIST_WORKER"])
    engine = create_engine(url)
    if engine.dialect.name == "postgresql":  # start empty, functions and triggers included
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        meta = MetaData()
        meta.reflect(engine)
        meta.drop_all(engine)
    engine.dispose()
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


def _worker_database(url: str, worker: str) -> str:
    """A database of its own for each pytest-xdist worker (``gw0``, ``gw1``...) on the server of
    ``TEST_DATABASE_URL``: workers empty their tables between tests, so they cannot share one."""
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}) is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def instance_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "instance"
    monkeypatch.setenv("STATS_INSTANCE_PATH", str(path))
    return path


@pytest.fixture
def make_app(database_url, instance_dir):
    """Build an app on the test database; extra config as keyword arguments."""
    apps = []

    def factory(**config):
        app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True, **config})
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        _empty_tables()  # live-server tests may have written to a shared test database
        yield app
        db.session.remove()
        _empty_tables()


def _empty_tables() -> None:
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


@pytest.fixture
def old_database(database_url: str, tmp_path) -> Iterator[str]:
    """An empty database of its own, on the suite's engine (a scratch database on PostgreSQL)."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'carry.db'}"
        return
    name = f"carry_{uuid_mod.uuid4().hex[:8]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
