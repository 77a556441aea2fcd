"""What a benchmark runs against: a private PostgreSQL cluster (installed with apt-get when the
machine has none, as CI does) and a hub served by gunicorn with the production settings
(``contrib/gunicorn.conf.py``), both on loopback under one scratch folder, plus a sampler of the
workers' peak memory.

The cluster keeps PostgreSQL's durability defaults (``fsync`` on, unlike the test clusters):
ingest figures must be those of a real server.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.live import REPO, LiveHub, production_command
from tests.pg_cluster import PrivateCluster


def ensure_postgresql() -> None:
    """Install the server binaries when missing (needs root, like ``.ci/setup.d``)."""
    try:
        from tests.pg_cluster import pg_bin

        pg_bin()
    except RuntimeError:
        subprocess.run(["bash", str(REPO / ".ci/setup.d/postgresql.sh")], check=True)


class BenchCluster(PrivateCluster):
    """A ``PrivateCluster`` with durable writes and room for a few hundred MB of hot data."""

    settings = "-c shared_buffers=256MB -c max_connections=100"


@dataclass
class BenchHub(LiveHub):
    """A ``LiveHub`` started with ``contrib/gunicorn.conf.py`` (production worker count, recycling)."""

    workers: int | None = None

    def server_env(self) -> dict[str, str]:
        env = super().server_env()
        env.update(
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            GUNICORN_ERRORLOG=str(self.root / "gunicorn-errors.log"),
            GUNICORN_LOGLEVEL="warning",
            PROMETHEUS_MULTIPROC_DIR=str(self.root / "metrics"),
        )
        if self.workers:
            env["GUNICORN_WORKERS"] = str(self.workers)
        return env

    def command(self) -> list[str]:
        return production_command()


def _stats() -> dict[int, list[str]]:
    """Every process's ``/proc/<pid>/stat`` fields after its name (state, ppid, ...), by pid."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            out[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
    return out


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (gunicorn's workers), from /proc."""
    return [child for child, fields in _stats().items() if int(fields[1]) == pid]


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and every process under it, the reaped
    ones included (their time is in their parent's ``cutime``/``cstime``): a gunicorn master's
    workers, a postmaster's backends. 0 for a process that is gone. One pass over /proc."""
    stats = _stats()
    under: dict[int, list[int]] = {}
    for child, fields in stats.items():
        under.setdefault(int(fields[1]), []).append(child)
    total, todo = 0, [pid] if pid in stats else []
    while todo:
        current = todo.pop()
        total += sum(int(value) for value in stats[current][11:15])  # utime, stime, cutime, cstime
        todo.extend(under.get(current, ()))
    return total / os.sysconf("SC_CLK_TCK")


def status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class PeakRss:
    """Samples the workers of a gunicorn master (recycled ones included) and keeps the highest
    peak resident set (``VmHWM``) any of them reached."""

    master: int
    interval: float = 0.25
    peak_kib: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        for pid in children(self.master):
            self.peak_kib = max(self.peak_kib, status_kib(pid, "VmHWM"))

    def __enter__(self) -> PeakRss:
        def run() -> None:
            while not self._stop.wait(self.interval):
                self.sample()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.sample()


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..100)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q) - 1]


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        "unknown",
    )
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    pg = subprocess.run(
        [str(_pg_bin() / "postgres"), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram_gib": f"{mem_kib / 2**20:.1f}",
        "postgresql": pg,
        "kernel": os.uname().release,
    }


def _pg_bin() -> Path:
    from tests.pg_cluster import pg_bin

    return pg_bin()


@contextmanager
def scratch_hub(folder: Path) -> Iterator[Any]:
    """A migrated SQLite hub in ``folder`` (its database and instance folder) with its app context
    pushed: where a benchmark makes demo data and releases it, with no request logs or limits."""
    from flask_migrate import upgrade

    from statsservice import create_app

    previous = os.environ.get("STATS_INSTANCE_PATH")
    os.environ["STATS_INSTANCE_PATH"] = str(folder / "instance")
    try:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'hub.db'}",
                "LOG_REQUESTS": False,
                "RATELIMIT_ENABLED": False,
            }
        )
        with app.app_context():
            upgrade()
            yield app
    finally:
        if previous is None:
            os.environ.pop("STATS_INSTANCE_PATH", None)
        else:
            os.environ["STATS_INSTANCE_PATH"] = previous
