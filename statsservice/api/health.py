"""Liveness and readiness probes for load balancers and systemd."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from statsservice.extensions import db
from statsservice.version import __version__

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok", "version": __version__})


@bp.get("/readyz")
def readyz():
    """Ready when the database answers and its schema is at the newest migration."""
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
    except Exception as exc:  # any database failure means "not ready", with the reason
        return jsonify({"status": "unavailable", "database": False, "error": exc.__class__.__name__}), 503
    script = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())
    head = set(script.get_heads())
    ready = current == head
    body = {
        "status": "ready" if ready else "migrations pending",
        "database": True,
        "revision": sorted(current),
        "head": sorted(head),
    }
    return jsonify(body), 200 if ready else 503
