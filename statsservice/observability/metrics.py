"""Prometheus metrics (prometheus-client).

Counters live in the process that serves the request. Under gunicorn, ``contrib/gunicorn.conf.py``
sets ``PROMETHEUS_MULTIPROC_DIR`` before any worker imports this module, so every worker writes
its samples to files there and ``/metrics`` adds them up, whichever worker answers the scrape.
Values that belong to the database (stored records, clients, the last push/pull/purge) are read
from it at scrape time, so every app node reports the same numbers.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.exc import SQLAlchemyError

from statsservice.domain.registry import TYPE_NAMES

log = logging.getLogger(__name__)

REQUESTS = Counter(
    "statsservice_http_requests",
    "HTTP requests answered, by route (URL rule, not the raw path), method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "statsservice_http_request_duration_seconds",
    "Time to answer an HTTP request, by route and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
UPLOADED = Counter(
    "statsservice_upload_records",
    "Records received by POST /api/v1/stats/, by result (accepted: stored; refused: invalid).",
    ["result"],
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def record_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, method, str(status)).inc()
    LATENCY.labels(route, method).observe(seconds)


def record_upload(accepted: int, refused: int) -> None:
    """Count the records of one upload request (called by the upload view)."""
    if accepted:
        UPLOADED.labels("accepted").inc(accepted)
    if refused:
        UPLOADED.labels("refused").inc(refused)


def record_job(name: str, ok: bool) -> None:
    """Store the outcome of a scheduled command; never fails the command itself."""
    from statsservice.storage.jobs import record_run

    try:
        record_run(name, ok)
    except SQLAlchemyError as exc:
        log.warning("could not record the outcome of %s: %s", name, exc.__class__.__name__)


@dataclass
class DatabaseSnapshot:
    """What /metrics reads from the database (needs an app context)."""

    up: bool = False
    records: dict[str, int] = field(default_factory=dict)
    clients: dict[tuple[bool, bool], int] = field(default_factory=dict)  # (local, active) -> count
    jobs: list[tuple[str, datetime, bool, datetime | None, int]] = field(default_factory=list)


_cache: dict[str, tuple[float, DatabaseSnapshot]] = {}


def database_snapshot(max_age: float) -> DatabaseSnapshot:
    """Read the database's numbers, reusing this worker's last reading for ``max_age`` seconds
    (counting a large table on every scrape of every Prometheus would be wasteful)."""
    from statsservice.extensions import db
    from statsservice.storage.overview import client_counts, count_by_type, statuses

    key = str(db.engine.url)
    cached = _cache.get(key)
    if cached and max_age > 0 and time.monotonic() - cached[0] < max_age:
        return cached[1]
    snap = DatabaseSnapshot()
    try:
        snap.records = count_by_type()
        snap.clients = client_counts()
        snap.jobs = [(j.name, j.last_run_at, j.last_ok, j.last_success_at, j.failures) for j in statuses()]
        snap.up = True
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("metrics: database unavailable: %s", exc.__class__.__name__)
        return snap  # not cached: the next scrape tries again
    _cache[key] = (time.monotonic(), snap)
    return snap


def _timestamp(value: datetime) -> float:
    return value.replace(tzinfo=UTC).timestamp()  # stored naive, in UTC


class DatabaseCollector:
    """Gauges of one snapshot, for a registry built per scrape."""

    def __init__(self, snap: DatabaseSnapshot):
        self.snap = snap

    def collect(self):
        snap = self.snap
        up = GaugeMetricFamily("statsservice_database_up", "1 when /metrics could read the database.")
        up.add_metric([], 1 if snap.up else 0)
        yield up
        if not snap.up:
            return
        records = GaugeMetricFamily(
            "statsservice_stats_records", "Stored stats records, by type.", labels=["type"]
        )
        for name in sorted(set(TYPE_NAMES) | set(snap.records)):
            records.add_metric([name], snap.records.get(name, 0))
        yield records
        clients = GaugeMetricFamily(
            "statsservice_clients", "Registered clients, by locality and state.", labels=["local", "active"]
        )
        for (local, active), count in sorted(snap.clients.items()):
            clients.add_metric([str(local).lower(), str(active).lower()], count)
        yield clients
        last_run = GaugeMetricFamily(
            "statsservice_job_last_run_timestamp_seconds",
            "When a scheduled command last ran.",
            labels=["job"],
        )
        last_ok = GaugeMetricFamily(
            "statsservice_job_last_run_ok",
            "1 when the last run of a scheduled command succeeded.",
            labels=["job"],
        )
        last_success = GaugeMetricFamily(
            "statsservice_job_last_success_timestamp_seconds",
            "When a scheduled command last succeeded.",
            labels=["job"],
        )
        failures = GaugeMetricFamily(
            "statsservice_job_consecutive_failures", "Failed runs since the last success.", labels=["job"]
        )
        for name, run_at, ok, success_at, failed in snap.jobs:
            last_run.add_metric([name], _timestamp(run_at))
            last_ok.add_metric([name], 1 if ok else 0)
            if success_at is not None:
                last_success.add_metric([name], _timestamp(success_at))
            failures.add_metric([name], failed)
        yield from (last_run, last_ok, last_success, failures)


class ReplicaCollector:
    """Gauges of the read replica as the scraping process last checked it (``health`` is the
    ``as_dict`` of ``storage.replica.Health``)."""

    def __init__(self, health: dict):
        self.health = health

    def collect(self):
        up = GaugeMetricFamily(
            "statsservice_read_replica_usable",
            "1 when reads go to the read replica (it answers and lags no more than allowed).",
        )
        up.add_metric([], 1 if self.health["usable"] else 0)
        yield up
        if self.health["lag_seconds"] is not None:
            lag = GaugeMetricFamily(
                "statsservice_read_replica_lag_seconds",
                "How far the read replica's replay is behind the primary, at the last check.",
            )
            lag.add_metric([], self.health["lag_seconds"])
            yield lag


def render(snap: DatabaseSnapshot, replica: dict | None = None) -> bytes:
    """The exposition text: this process's (or every worker's) samples, then the database's (and
    the read replica's, when one is configured)."""
    database = CollectorRegistry()
    database.register(DatabaseCollector(snap))
    if replica is not None:
        database.register(ReplicaCollector(replica))
    if multiprocess_dir():
        workers = CollectorRegistry()
        MultiProcessCollector(workers)
        return generate_latest(workers) + generate_latest(database)
    return generate_latest(REGISTRY) + generate_latest(database)
