"""Processors benchmark (``make bench``): ingest and processed-query figures against gunicorn and
PostgreSQL, at three data sizes.

For each size it starts a private PostgreSQL cluster and a hub (production gunicorn settings,
rate limits off), loads the data set through ``POST /api/v1/stats/`` with the project's payload
generator (``statsservice.demo.payloads``): first one client alone, then eight clients at once,
and measures:

- ingest records/s, one client sequential and eight concurrent (full validation, sums, labels);
- the first whole-hub processed queries after the load (as fast as the next ones when no read
  has anything left to build);
- p50/p95 of every processor over one year and three months, whole hub and over five analyses of
  one client;
- ``GET /api/v1/stats/`` (three months, every type) and ``/stats/threats.json``;
- database and table sizes against the records' JSON as PostgreSQL stores it, peak RSS of a worker;
- ``EXPLAIN (ANALYZE, BUFFERS)`` of the SQL the main processors run.

``--baseline REV`` runs each size first against another revision of the hub (``git archive`` into
the scratch folder, served from there with this checkout's virtualenv), so "before" and "after"
come from one run on one machine.

Usage: ``python -m bench.processors [--sizes S,M] [--repeat 20] [--baseline REV]``; ``--sizes L``
adds the large set (365k records). Results go to ``bench/results/`` (JSON and Markdown).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

from bench.harness import BenchCluster, BenchHub, PeakRss, ensure_postgresql, machine, percentile
from statsservice import clock
from statsservice.demo.payloads import Generator
from statsservice.storage.partitions import is_partition
from tests.live import REPO

RESULTS = Path(__file__).resolve().parent / "results"
CONCURRENT_CLIENTS = 8
PROCESSORS = (
    "threat_average_on_date",
    "vulnerability_average_on_date",
    "risk_averages",
    "risk_averages_on_date",
    "cartography_heatmap",
    "compliance_averages",
    "compliance_averages_on_date",
)
TYPES = ("risk", "threat", "vulnerability", "cartography", "compliance")
WINDOWS = {"1 year": 365, "3 months": 91}
#: the processors whose SQL is explained (one per query shape: objects, record weights, compliance)
EXPLAINED = ("threat_average_on_date", "risk_averages_on_date", "compliance_averages")


@dataclass(frozen=True)
class Size:
    name: str
    analyses: int
    days: int

    @property
    def records(self) -> int:
        return self.analyses * self.days * len(TYPES)


SIZES = {s.name: s for s in (Size("S", 20, 90), Size("M", 100, 100), Size("L", 200, 365))}


def size_of(text: str) -> Size:
    """``S``, ``M``, ``L`` or a custom ``<analyses>x<days>`` (e.g. ``5x3`` for a smoke run)."""
    name = text.strip().upper()
    if name in SIZES:
        return SIZES[name]
    analyses, days = (int(part) for part in name.split("X"))
    return Size(name.lower(), analyses, days)


# --- data set ----------------------------------------------------------------------------------


Bodies = list[tuple[Path, int]]


def write_batches(gen: Generator, analyses: range, days: int, batch: int, folder: Path) -> Bodies:
    """One client's uploads as request bodies on disk (with their record counts), day by day as
    Front Offices send them, ``batch`` records per request. Written before the clock starts:
    generating is not ingesting."""
    folder.mkdir(parents=True)
    today = clock.today()
    files: Bodies = []
    pending: list[dict] = []

    def flush() -> None:
        path = folder / f"{len(files):05d}.json"
        path.write_bytes(json.dumps(pending).encode())
        files.append((path, len(pending)))
        pending.clear()

    for offset in range(days - 1, -1, -1):
        day = today - timedelta(days=offset)
        for index in analyses:
            pending.extend(gen.day_batch(index, day))
            if len(pending) >= batch:
                flush()
    if pending:
        flush()
    return files


def upload(url: str, token: str, files: Bodies) -> int:
    """POST each body in turn; every one must be stored whole. Returns the records sent."""
    sent = 0
    with requests.Session() as http:
        http.headers.update(
            {"X-API-KEY": token, "Content-Type": "application/json", "User-Agent": "MONARC/2.13.1"}
        )
        for path, records in files:
            response = http.post(f"{url}/api/v1/stats/", data=path.read_bytes(), timeout=600)
            if response.status_code != 201:
                raise RuntimeError(f"upload {path.name}: {response.status_code} {response.text[:500]}")
            sent += records
    return sent


# --- timing --------------------------------------------------------------------------------------


def timed(call: Callable[[], requests.Response]) -> float:
    """Milliseconds for one request that must succeed."""
    start = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:500]}")
    return elapsed


def sample(call: Callable[[], requests.Response], repeat: int) -> dict[str, float]:
    """p50/p95 in ms over ``repeat`` runs after one warm-up run."""
    timed(call)
    values = [timed(call) for _ in range(repeat)]
    return {"p50": percentile(values, 50), "p95": percentile(values, 95)}


# --- one size ------------------------------------------------------------------------------------


@dataclass
class Run:
    size: Size
    root: Path
    repeat: int
    batch: int
    workers: int | None
    #: another revision's checkout to serve instead of this one (a baseline), and its name
    source: Path | None = None
    revision: str = ""

    def __post_init__(self) -> None:
        self.cluster = BenchCluster(self.root / "pg")
        self.hub = BenchHub(
            self.root / "hub",
            config={"RATELIMIT_ENABLED": "false"},
            workers=self.workers,
        )
        if self.source is not None:
            self.hub.source = self.source
        self.result: dict[str, Any] = {
            "size": f"{self.size.name} ({self.revision})" if self.revision else self.size.name,
            "analyses": self.size.analyses,
            "days": self.size.days,
        }

    def __call__(self) -> dict[str, Any]:
        self.cluster.start()
        try:
            self.hub.database_url = self.cluster.url
            self.hub.start()
            try:
                with PeakRss(self.hub.process.pid) as rss:
                    self.load()
                    self.queries()
                self.result["worker_peak_rss_mib"] = rss.peak_kib / 1024
                self.result["db"] = self.sizes()
                # the plans are read with this checkout's code: not for another revision's schema
                self.result["explain"] = self.explain() if self.source is None else {}
            finally:
                self.hub.stop()
        finally:
            self.cluster.stop()
        return self.result

    def load(self) -> None:
        size = self.size
        gen = Generator(seed=7, anrs=size.analyses)
        alone = max(1, size.analyses // 5)  # a fifth of the analyses: the one-client figure
        shares = [range(alone + i, size.analyses, CONCURRENT_CLIENTS) for i in range(CONCURRENT_CLIENTS)]
        started = time.perf_counter()
        data = self.root / "data"
        solo_files = write_batches(gen, range(alone), size.days, self.batch, data / "solo")
        crowd_files = [
            write_batches(gen, s, size.days, self.batch, data / f"c{i}") for i, s in enumerate(shares)
        ]
        self.result["generate_s"] = time.perf_counter() - started

        _, solo_token = self.hub.create_client("bench-solo")
        tokens = [self.hub.create_client(f"bench-{i}")[1] for i in range(CONCURRENT_CLIENTS)]
        self.reader, self.reader_anrs = tokens[0], [gen.anrs[i]["uuid"] for i in shares[0]][:5]

        started = time.perf_counter()
        sent = upload(self.hub.url, solo_token, solo_files)
        elapsed = time.perf_counter() - started
        self.result["ingest_one_client"] = {
            "records": sent,
            "seconds": elapsed,
            "records_per_s": sent / elapsed,
        }

        started = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENT_CLIENTS) as pool:
            sent = sum(
                pool.map(lambda pair: upload(self.hub.url, *pair), zip(tokens, crowd_files, strict=True))
            )
        elapsed = time.perf_counter() - started
        self.result["ingest_8_clients"] = {
            "records": sent,
            "seconds": elapsed,
            "records_per_s": sent / elapsed,
        }
        shutil.rmtree(data)
        # whole-hub answers read the nightly release (issue 27); revisions before it read live sums
        source = self.source or REPO
        if (source / "statsservice" / "cli" / "release.py").exists():
            started = time.perf_counter()
            self.hub.flask("stats_release", timeout=3600)
            self.result["release_s"] = time.perf_counter() - started

    def processed(
        self, processor: str, days: int, anrs: list[str] | None = None, period: str = "day"
    ) -> requests.Response:
        today = clock.today()
        body: dict[str, Any] = {
            "processor": processor,
            "date_from": (today - timedelta(days=days - 1)).isoformat(),
            "date_to": today.isoformat(),
            "aggregation_period": period,
        }
        if anrs:
            body["anrs"] = anrs
        return self.http.get(f"{self.hub.url}/api/v1/stats/processed/", json=body, timeout=600)

    def queries(self) -> None:
        self.http = requests.Session()
        self.http.headers.update({"X-API-KEY": self.reader, "User-Agent": "MONARC/2.13.1"})
        # the first whole-hub query of each type after the load (the former design rebuilt the
        # per-day sums of the days just loaded here)
        started = time.perf_counter()
        for processor in ("risk_averages", *PROCESSORS):
            timed(lambda p=processor: self.processed(p, WINDOWS["1 year"]))
        self.result["first_queries_after_load_s"] = time.perf_counter() - started

        table: dict[str, dict[str, dict[str, float]]] = {}
        for processor in PROCESSORS:
            row = table.setdefault(processor, {})
            for window, days in WINDOWS.items():
                row[f"hub, {window}"] = sample(lambda p=processor, d=days: self.processed(p, d), self.repeat)
            row["hub, 1 year by month"] = sample(
                lambda p=processor: self.processed(p, WINDOWS["1 year"], period="month"), self.repeat
            )
            row["5 analyses, 1 year"] = sample(
                lambda p=processor: self.processed(p, WINDOWS["1 year"], self.reader_anrs), self.repeat
            )
        self.result["processed_ms"] = table

        other: dict[str, dict[str, float]] = {}
        for stats_type in TYPES:  # default window: the last three months, the caller's records
            other[f"GET /api/v1/stats/?type={stats_type}"] = sample(
                lambda t=stats_type: self.http.get(f"{self.hub.url}/api/v1/stats/", params={"type": t}),
                self.repeat,
            )
        public = requests.Session()
        other["GET /stats/threats.json"] = sample(
            lambda: public.get(f"{self.hub.url}/stats/threats.json"), self.repeat
        )
        self.result["other_ms"] = other

    def engine(self) -> Any:
        from sqlalchemy import create_engine

        return create_engine(self.cluster.url)

    def sizes(self) -> dict[str, Any]:
        """Database and table sizes, and how often each index was used (which ones earn their keep)."""
        from sqlalchemy import text

        engine = self.engine()
        with engine.connect() as conn:
            out = {"database_mib": conn.scalar(text("SELECT pg_database_size(current_database())")) / 2**20}
            # the records' JSON as PostgreSQL stores it (compressed, out of line when large)
            out["stats_json_mib"] = conn.scalar(text("SELECT sum(pg_column_size(data)) FROM stats")) / 2**20
            tables = conn.scalars(
                text(
                    "SELECT relname FROM pg_class WHERE relkind = 'r' "
                    "AND relnamespace = 'public'::regnamespace ORDER BY relname"
                )
            ).all()
            out["tables"] = {}
            for name in tables:
                size = conn.scalar(text("SELECT pg_total_relation_size(:t)"), {"t": name})
                rows = conn.scalar(text(f'SELECT count(*) FROM "{name}"'))
                # the month partitions of stats are reported together, as the one table they make
                table = out["tables"].setdefault(
                    "stats" if is_partition(name) else name, {"mib": 0, "rows": 0}
                )
                table["mib"] += size / 2**20
                table["rows"] += rows
            scans = text(
                "SELECT relname || '.' || indexrelname, idx_scan FROM pg_stat_user_indexes ORDER BY 1"
            )
            out["index_scans"] = dict(conn.execute(scans).all())
        engine.dispose()
        return out

    def explain(self) -> dict[str, list[str]]:
        """The plans of the SQL the main processors run, whole hub and per analysis, over a year."""
        from sqlalchemy import event, select

        from statsservice.app import create_app
        from statsservice.extensions import db
        from statsservice.storage.models import Client
        from statsservice.storage.processed import run_processor
        from statsservice.storage.stats import StatsFilter

        os.environ["STATS_INSTANCE_PATH"] = str(self.hub.root / "instance")
        app = create_app({"SQLALCHEMY_DATABASE_URI": self.cluster.url})
        today = clock.today()
        window = {"date_from": today - timedelta(days=364), "date_to": today}
        plans: dict[str, list[str]] = {}
        with app.app_context():
            statements: list[tuple[str, Any]] = []

            def capture(conn, cursor, statement, parameters, context, executemany):
                if statement.lstrip().upper().startswith("SELECT") and "GROUP BY" in statement:
                    statements.append((statement, parameters))

            event.listen(db.engine, "before_cursor_execute", capture)
            reader = db.session.scalar(select(Client.id).where(Client.name == "bench-0"))
            scopes = {
                "hub": StatsFilter(**window),
                "5 analyses": StatsFilter(client_id=reader, anrs=tuple(self.reader_anrs), **window),
            }
            for processor in EXPLAINED:
                for scope, selection in scopes.items():
                    statements.clear()
                    run_processor(processor, selection=selection, period="day")
                    for i, (statement, parameters) in enumerate(list(statements)):
                        rows = db.session.connection().exec_driver_sql(
                            f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters
                        )
                        plans[f"{processor} ({scope}) #{i + 1}"] = [statement, *(r[0] for r in rows)]
                    db.session.rollback()
            event.remove(db.engine, "before_cursor_execute", capture)
            db.engine.dispose()
        return plans


# --- report --------------------------------------------------------------------------------------


def table(results: list[dict[str, Any]]) -> Iterator[str]:
    """The figures as Markdown tables: one column per size."""
    names = [r["size"] for r in results]
    head = "| | " + " | ".join(names) + " |"
    rule = "|---" * (len(names) + 1) + "|"

    def row(label: str, values: list[str]) -> str:
        return f"| {label} | " + " | ".join(values) + " |"

    yield head
    yield rule
    yield row(
        "analyses × days (records)",
        [f"{r['analyses']} × {r['days']} ({r['analyses'] * r['days'] * 5:,})" for r in results],
    )
    yield row(
        "ingest, 1 client (records/s)", [f"{r['ingest_one_client']['records_per_s']:,.0f}" for r in results]
    )
    yield row(
        "ingest, 8 clients (records/s)", [f"{r['ingest_8_clients']['records_per_s']:,.0f}" for r in results]
    )
    yield row("first queries after load (s)", [f"{r['first_queries_after_load_s']:.1f}" for r in results])
    yield row("database (MiB)", [f"{r['db']['database_mib']:,.0f}" for r in results])
    yield row("records' JSON as stored (MiB)", [f"{r['db']['stats_json_mib']:,.0f}" for r in results])
    yield row(
        "database / records' JSON",
        [f"{r['db']['database_mib'] / r['db']['stats_json_mib']:.2f}" for r in results],
    )

    def largest(r: dict[str, Any]) -> str:
        tables = sorted(r["db"]["tables"].items(), key=lambda item: -item[1]["mib"])[:4]
        return ", ".join(f"`{name}` {t['mib']:,.0f} ({t['rows']:,} rows)" for name, t in tables)

    yield row("largest tables, MiB (rows)", [largest(r) for r in results])
    yield row("worker peak RSS (MiB)", [f"{r['worker_peak_rss_mib']:.0f}" for r in results])
    yield ""
    yield "Processed queries, p50 / p95 in ms (`aggregation_period=day` unless stated):"
    yield ""
    scopes = list(results[0]["processed_ms"][PROCESSORS[0]])
    yield "| processor | scope | " + " | ".join(names) + " |"
    yield "|---|---" + "|---" * len(names) + "|"
    for processor in PROCESSORS:
        for scope in scopes:
            cells = ["{p50:.0f} / {p95:.0f}".format(**r["processed_ms"][processor][scope]) for r in results]
            yield f"| {processor} | {scope} | " + " | ".join(cells) + " |"
    for name in results[0]["other_ms"]:
        cells = ["{p50:.0f} / {p95:.0f}".format(**r["other_ms"][name]) for r in results]
        yield f"| `{name}` | | " + " | ".join(cells) + " |"


def checkout(revision: str, folder: Path) -> Path:
    """The files of ``revision`` (``git archive``) in ``folder``: the baseline's code."""
    folder.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(RESULTS.parent.parent), "archive", revision], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def timed_run(run: Run) -> dict[str, Any]:
    started = time.perf_counter()
    result = run()
    result["wall_s"] = time.perf_counter() - started
    print(f"   {result['size']}: done in {result['wall_s']:.0f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="S,M", help="comma-separated: S, M, L or AxD (default S,M)")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per query (after one warm-up)")
    parser.add_argument("--batch", type=int, default=500, help="records per upload request")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: production's)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (cluster, logs)")
    parser.add_argument("--baseline", default="", help="a git revision to measure first at each size")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="where the results go (default: bench/results)"
    )
    args = parser.parse_args()
    sizes = [size_of(name) for name in args.sizes.split(",") if name.strip()]

    ensure_postgresql()
    common = (args.repeat, args.batch, args.workers)
    results = []
    for size in sizes:
        root = Path(tempfile.mkdtemp(prefix=f"statsservice-bench-{size.name}-"))
        print(
            f"== size {size.name}: {size.analyses} analyses × {size.days} days = {size.records:,} records ({root})"
        )
        try:
            if args.baseline:
                source = checkout(args.baseline, root / "baseline")
                results.append(timed_run(Run(size, root / "before", *common, source, args.baseline)))
            results.append(timed_run(Run(size, root / "after", *common)))
        finally:
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)

    report = {
        "date": clock.utcnow().isoformat(timespec="seconds"),
        "machine": {**machine(), "python": platform.python_version()},
        "args": vars(args),
        "results": results,
    }
    lines = list(table(results))
    print()
    print("\n".join(lines))
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = clock.utcnow().strftime("%Y%m%d-%H%M%S")
    (args.results / f"processors-{stamp}.json").write_text(json.dumps(report, indent=2, default=str))
    last = results[-1]
    explain = [f"### {name}\n\n```\n" + "\n".join(plan) + "\n```\n" for name, plan in last["explain"].items()]
    (args.results / f"processors-{stamp}.md").write_text(
        f"# Processors benchmark {report['date']}\n\nMachine: {report['machine']}\n\n"
        + "\n".join(lines)
        + f"\n\n## EXPLAIN (ANALYZE, BUFFERS), size {last['size']}\n\n"
        + "\n".join(explain)
    )
    print(f"\nresults: {args.results / f'processors-{stamp}.md'} (and .json)")


if __name__ == "__main__":
    main()
