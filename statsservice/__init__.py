"""statsservice: a federated stats hub for MONARC risk-analysis platforms."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

__version__ = "0.1.0"

REPO_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Application factory: ``flask --app statsservice`` and gunicorn ``statsservice:create_app()``."""
    from statsservice import api, cli, observability, web
    from statsservice.config import load_config
    from statsservice.extensions import db, migrate

    instance_path = os.environ.get("STATS_INSTANCE_PATH") or str(REPO_ROOT / "instance")
    # no app-wide /static/: each blueprint serves its own files (a route serving nothing is noise)
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path).resolve()),
        instance_relative_config=True,
        static_folder=None,
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    load_config(app, config)

    db.init_app(app)
    migrate.init_app(app, db, directory=app.config.get("MIGRATIONS_DIR") or str(REPO_ROOT / "migrations"))

    observability.register(app)
    api.register(app)
    web.register(app)
    cli.register(app)
    observability.register_cli(app)
    return app
