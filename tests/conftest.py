"""Fixtures: one migrated database per session (SQLite file, or TEST_DATABASE_URL for PostgreSQL),
emptied between tests, and apps built with the real factory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import MetaData, create_engine, text

from statsservice import create_app
from statsservice.extensions import db

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """The test database, migrated from empty with ``flask db upgrade``'s code path."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
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
