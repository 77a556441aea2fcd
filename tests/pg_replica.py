"""A PostgreSQL primary and a streaming hot standby of it on loopback, for the read-replica tests.

The standby is made as an operator makes one: ``pg_basebackup -R`` (``standby.signal`` and
``primary_conninfo`` written for it) from a primary running with ``wal_level=replica``, then
started with ``hot_standby`` on. Both are ``tests.pg_cluster.PrivateCluster``s (run as the
``postgres`` user when the tests run as root).
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.pg_cluster import PrivateCluster


class Primary(PrivateCluster):
    settings = "-c fsync=off -c wal_level=replica -c max_wal_senders=4"


class Standby(PrivateCluster):
    """A hot standby: read-only, replaying what the primary streams."""

    settings = "-c fsync=off -c hot_standby=on"

    def clone(self, primary: PrivateCluster) -> Standby:
        """Copy the primary with ``pg_basebackup -R`` and start replaying."""
        self.own_root()
        self._run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(self.data), "-R", "-X", "stream", "-c", "fast"),
        )
        return self.start()


class StreamingPair:
    """``primary`` and its ``standby`` under ``root``; ``engine(...)`` opens raw connections to either."""

    def __init__(self, root: Path):
        self.primary = Primary(root / "primary")
        self.standby = Standby(root / "standby")
        self._engines: dict[str, Engine] = {}

    def start(self) -> StreamingPair:
        self.primary.start()
        self.standby.clone(self.primary)
        return self

    def stop(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        for cluster in (self.standby, self.primary):
            if (cluster.data / "postmaster.pid").exists():
                cluster.stop()

    def engine(self, cluster: PrivateCluster) -> Engine:
        if cluster.url not in self._engines:
            self._engines[cluster.url] = create_engine(
                cluster.url, isolation_level="AUTOCOMMIT", pool_pre_ping=True
            )
        return self._engines[cluster.url]

    def scalar(self, cluster: PrivateCluster, sql: str) -> object:
        with self.engine(cluster).connect() as conn:
            return conn.execute(text(sql)).scalar()

    def caught_up(self, timeout: float = 60) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        target = self.scalar(self.primary, "SELECT pg_current_wal_lsn()::text")
        query = f"SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '{target}') >= 0"
        wait_for(lambda: self.scalar(self.standby, query) is True, timeout, "the standby to catch up")

    def pause_replay(self) -> None:
        self.scalar(self.standby, "SELECT pg_wal_replay_pause()::text")

    def resume_replay(self) -> None:
        self.scalar(self.standby, "SELECT pg_wal_replay_resume()::text")


def wait_for(condition, timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds (a wait for a state, never a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
