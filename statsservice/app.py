"""The application factory: ``statsservice``, ``flask --app statsservice`` and gunicorn
``statsservice:create_app()`` all come here (the package re-exports it).

Flask and the layers are imported inside ``create_app``: importing the package imports no web
framework, so ``statsservice.domain`` (and anything else that needs no HTTP) can be used without it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

_PACKAGE = Path(__file__).resolve().parent


def migrations_dir() -> Path:
    """The Alembic scripts: ``migrations/`` at the top of a checkout (Flask-Migrate's layout), or
    ``statsservice/migrations`` inside an installed wheel (``pyproject.toml`` maps one to the other)."""
    shipped = _PACKAGE / "migrations"
    return shipped if shipped.is_dir() else _PACKAGE.parent / "migrations"


def create_app(config: dict | None = None) -> Flask:
    """Application factory: ``statsservice``, ``flask --app statsservice`` and gunicorn
    ``statsservice:create_app()``.

    The instance folder is Flask's ``instance_path`` (``instance/`` next to a source checkout,
    ``<venv>/var/statsservice-instance`` for an installed wheel) unless ``STATS_INSTANCE_PATH`` names one.
    """
    from flask import Flask

    from statsservice import api, cli, errors, observability, web
    from statsservice.config import load_config
    from statsservice.extensions import db, migrate
    from statsservice.storage import replica
    from statsservice.storage.pool import ping_when_idle

    instance_path = os.environ.get("STATS_INSTANCE_PATH")
    # no app-wide /static/: each blueprint serves its own files (a route serving nothing is noise)
    # named after the package, not this module: the instance folder is ``statsservice-instance``
    app = Flask(
        "statsservice",
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
        static_folder=None,
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    load_config(app, config)

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            ping_when_idle(engine, float(app.config["DATABASE_PING_IDLE_SECONDS"]))
    replica.init_app(app)
    migrate.init_app(app, db, directory=app.config.get("MIGRATIONS_DIR") or str(migrations_dir()))

    errors.register(app)
    observability.register(app)
    api.register(app)
    web.register(app)
    cli.register(app)
    return app
