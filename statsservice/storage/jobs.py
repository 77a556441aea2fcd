"""Outcome of scheduled commands (push, pull, purge), stored so that /metrics on any app node
can tell when each last succeeded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from statsservice.clock import utcnow
from statsservice.extensions import db
from statsservice.storage.models import JobStatus


def record_run(name: str, ok: bool, when: datetime | None = None) -> None:
    """Upsert the job's last outcome on its own connection: the caller's session may hold
    uncommitted work or be failed, and recording must not commit or lose either."""
    now = when or utcnow()
    insert_fn = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    statement = insert_fn(JobStatus).values(
        name=name, last_run_at=now, last_ok=ok, last_success_at=now if ok else None, failures=0 if ok else 1
    )
    statement = statement.on_conflict_do_update(
        index_elements=[JobStatus.name],
        set_={
            "last_run_at": now,
            "last_ok": ok,
            "last_success_at": now if ok else JobStatus.last_success_at,
            "failures": 0 if ok else JobStatus.failures + 1,
        },
    )
    with db.engine.begin() as conn:
        conn.execute(statement)


def statuses() -> list[JobStatus]:
    """Every job's last outcome."""
    return list(db.session.scalars(select(JobStatus).order_by(JobStatus.name)))
