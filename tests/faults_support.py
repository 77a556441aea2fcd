"""A hub run the way production runs it: gunicorn configured only by ``contrib/gunicorn.conf.py`` and
``GUNICORN_*`` variables (workers from the cores, timeouts, request limits). Used by the slow-client
test and by ``bench/load.py``; ``tests.live.LiveHub`` pins its own workers and timeout instead."""

from __future__ import annotations

from sqlalchemy import Connection, text

from tests.live import LiveHub, production_command


def unsynced_days(conn: Connection, client_id: int | None = None) -> int:
    """(client, type, day) groups whose per-day sums do not count exactly the records stored, either
    way: a half-written upload (records without sums, or sums without records) would show here."""
    scope = "" if client_id is None else f" AND client_id = {int(client_id)}"
    query = f"""
        WITH records AS (
            SELECT client_id, type, date, count(*) AS n FROM stats WHERE 1 = 1{scope}
            GROUP BY client_id, type, date
        ), sums AS (
            SELECT c.client_id, k.type, c.date, c.entries AS n FROM client_day c
            JOIN rollup_key k ON k.id = c.key_id
            WHERE k.k1 = '' AND k.k2 = '' AND k.k3 = '' AND k.k4 = ''{scope.replace("client_id", "c.client_id")}
        )
        SELECT (SELECT count(*) FROM records r LEFT JOIN sums s
                    ON s.client_id = r.client_id AND s.type = r.type AND s.date = r.date
                    WHERE s.n IS NULL OR s.n <> r.n)
             + (SELECT count(*) FROM sums s LEFT JOIN records r
                    ON s.client_id = r.client_id AND s.type = r.type AND s.date = r.date
                    WHERE r.n IS NULL)
    """
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
