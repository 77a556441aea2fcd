"""Liveness and readiness probes for load balancers and systemd."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from statsservice.extensions import db
from statsservice.storage import replica
from statsservice.version import __version__

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok", "version": __version__})


@bp.get("/readyz")
def readyz():
    """Ready when the database answers and its schema is at the newest migration; with a read
    replica configured, also says whether reads go to it (a replica down does not make the hub
    unready: its reads go to the primary)."""
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
    read_replica = replica.current()
    if read_replica is not None:  # informative only: reads fall back to the primary, still ready
        body["read_replica"] = read_replica.health().as_dict()
    return jsonify(body), 200 if ready else 503
