"""statsservice: a federated stats hub for MONARC risk-analysis platforms.

Importing the package imports no web framework: Flask comes in only when ``create_app`` runs, so
``statsservice.domain`` (and anything else that needs no HTTP) can be used without it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

__version__ = "0.1.0"

#: the Alembic scripts ship inside the package (``flask db upgrade`` / ``statsservice db upgrade``)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


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

    instance_path = os.environ.get("STATS_INSTANCE_PATH")
    # no app-wide /static/: each blueprint serves its own files (a route serving nothing is noise)
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
        static_folder=None,
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    load_config(app, config)

    db.init_app(app)
    replica.init_app(app)
    migrate.init_app(app, db, directory=app.config.get("MIGRATIONS_DIR") or str(MIGRATIONS_DIR))

    errors.register(app)
    observability.register(app)
    api.register(app)
    web.register(app)
    cli.register(app)
    return app
