"""A hub run the way production runs it: gunicorn configured only by ``contrib/gunicorn.conf.py`` and
``GUNICORN_*`` variables (workers from the cores, timeouts, request limits). Used by the slow-client
test and by ``bench/load.py``; ``tests.live.LiveHub`` pins its own workers and timeout instead."""

from __future__ import annotations

from sqlalchemy import Connection, text

from tests.live import LiveHub, production_command


def records_without_rollups(conn: Connection) -> int:
    """Stored records of the types that always explode into rows, yet have none: a half-written
    upload would show here."""
    query = (
        "SELECT count(*) FROM stats s WHERE s.type IN ('risk', 'threat', 'vulnerability')"
        " AND NOT EXISTS (SELECT 1 FROM rollup r WHERE r.stats_id = s.id)"
    )
    return conn.execute(text(query)).scalar_one()


class ProductionHub(LiveHub):
    """``gunicorn`` as settings it (``settings`` holds ``GUNICORN_*`` overrides, e.g. ``{"TIMEOUT": "2"}``)."""

    def __init__(self, *args, settings: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.settings = settings or {}

    def command(self) -> list[str]:
        return production_command()

    def server_env(self) -> dict[str, str]:
        env = {key: value for key, value in self.env.items() if not key.startswith("GUNICORN_")}
        env.update({f"GUNICORN_{key}": value for key, value in self.settings.items()})
        env["GUNICORN_BIND"] = f"127.0.0.1:{self.port}"
        return env
