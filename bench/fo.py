"""The Front Office's real traffic (``make bench-fo``), against gunicorn and PostgreSQL.

A MONARC Front Office sends one request a night with all its analyses (5 records each), and its
Global dashboard asks four processed series with ``anrs``, the analyses its user sees. This
benchmark measures exactly that, for this checkout and optionally for other revisions in the
same run (``--baseline REV[,REV]``: the old service's rate, or the code before a change):

- **the floor** of a request, one client: ``/healthz`` and the authenticated ``/client/me`` (p50,
  and the CPU of every part per request);
- **small uploads**: 1, 4 and 8 Front Offices of one analysis at once, each posting its nightly
  request (5 records) for successive days: records/s, request p50 and the CPU per request of the
  hub, PostgreSQL and this client (the bound on a machine of few cores); then instances of 1, 5,
  20 and 100 analyses posting one request each with all their analyses (5 × analyses records);
- **the dashboard's requests** (``risk_averages``, ``risk_averages_on_date``,
  ``threat_average_on_date``, ``vulnerability_average_on_date`` over 100 days, by day) with the
  ``anrs`` of instances of 5, 20 and 100 analyses (all their analyses: what a CEO sees) and of 5 of
  the largest instance's analyses (a user who sees some), every other processor for those 5 too,
  and the same four over the whole hub once its days are released; on a data set of ``M`` (100
  analyses × 100 days, 50,000 records) or ``L`` (200 × 365) loaded in 500-record requests;
- the database against the records' JSON.

``--profile DIR`` profiles the 8-client small-upload phase of this checkout: ``pg_stat_statements``
(statements by total time), backends' waits (``pg_stat_activity`` sampled), and, with ``--py-spy
PATH``, the workers' Python stacks split by what they were doing (auth, rate limit, validation,
partition check, upserts, sums, labels, metrics, logs, commit...).

Usage: ``python -m bench.fo [--sizes M] [--repeat 20] [--baseline f03d1e4] [--smoke]``; ``--smoke``
is a tiny run for CI (a few analyses and days, 3 repeats). Results: ``bench/results/fo-*.json``
and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

from bench.harness import (
    BenchCluster,
    BenchHub,
    children,
    ensure_postgresql,
    machine,
    percentile,
    tree_cpu_s,
)
from bench.processors import RESULTS, checkout, size_of, upload, write_batches
from statsservice import clock
from statsservice.demo.payloads import Generator
from statsservice.storage.partitions import is_partition

AGENT = "MONARC/2.13.1"
#: what the FO's Global dashboard asks (``processor_params`` as it sends them)
DASHBOARD = (
    ("risk_averages", {}),
    ("risk_averages_on_date", {"risks_type": "informational,operational", "risks_state": "current"}),
    ("threat_average_on_date", {}),
    ("vulnerability_average_on_date", {}),
)
OTHERS = ("cartography_heatmap", "compliance_averages", "compliance_averages_on_date")
WINDOW_DAYS = 100
CONCURRENCY = (1, 4, 8)
INSTANCES = (1, 5, 20, 100)
#: cluster settings of a profiled run
PROFILE_PG = (
    " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c track_io_timing=on"
)


@dataclass(frozen=True)
class Plan:
    """How much of everything: the data set, small-upload requests per client, repeats."""

    size: Any  # bench.processors.Size
    small_requests: int
    repeat: int
    instances: tuple[int, ...] = INSTANCES
    #: timed requests of each kind in the floor phase
    floor_requests: int = 200

    @property
    def layout(self) -> list[int]:
        """Analyses per Front Office of the data set: instances of 1, 5, 20 (and 100 when there
        are enough analyses), the rest in one more."""
        sizes, left = [], self.size.analyses
        for wanted in (1, 5, 20, 100):
            if left - wanted >= 5 or (wanted == 1 and left > 1):
                sizes.append(wanted)
                left -= wanted
        return [*sizes, left] if left else sizes


# --- requests ---------------------------------------------------------------------------------


def session(token: str) -> requests.Session:
    http = requests.Session()
    http.headers.update({"X-API-KEY": token, "User-Agent": AGENT, "Content-Type": "application/json"})
    return http


def post(http: requests.Session, url: str, body: bytes) -> float:
    """Milliseconds of one upload that must be stored whole."""
    started = time.perf_counter()
    response = http.post(f"{url}/api/v1/stats/", data=body, timeout=600)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 201:
        raise RuntimeError(f"upload: {response.status_code} {response.text[:300]}")
    return elapsed


def create_clients(hub: BenchHub, names: list[str]) -> list[str]:
    """Tokens of new clients, made through the admin API (one CLI run for the admin: a CLI run per
    client costs seconds on a busy machine)."""
    if not hasattr(hub, "admin_token"):
        hub.admin_token = hub.create_client("bench-admin", "--role", "admin")[1]
    http = session(hub.admin_token)
    tokens = []
    for name in names:
        token = secrets.token_urlsafe(48)
        response = http.post(
            f"{hub.url}/api/v1/client/", json={"name": name, "token": token, "is_sharing_enabled": True}
        )
        if response.status_code != 201:
            raise RuntimeError(f"client {name}: {response.status_code} {response.text[:300]}")
        tokens.append(token)
    return tokens


def stats_of(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95)}


# --- one revision ------------------------------------------------------------------------------


@dataclass
class Run:
    plan: Plan
    root: Path
    workers: int | None
    source: Path | None = None
    revision: str = ""
    profile: Path | None = None
    py_spy: str = ""
    reads: bool = True
    result: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cluster = BenchCluster(self.root / "pg")
        if self.profile is not None:
            self.cluster.settings = BenchCluster.settings + PROFILE_PG
        # rate limits on, as in production, with budgets no benchmark client reaches (their cost
        # is part of every request)
        limits = {"RATELIMIT_PER_CLIENT": "1000000 per minute", "RATELIMIT_PER_IP": "1000000 per minute"}
        self.hub = BenchHub(self.root / "hub", config=limits, workers=self.workers)
        if self.source is not None:
            self.hub.source = self.source
        self.result = {"revision": self.revision or "this checkout", "size": self.plan.size.name}

    def __call__(self) -> dict[str, Any]:
        self.cluster.start()
        try:
            self.hub.database_url = self.cluster.url
            self.hub.start()
            try:
                self.floor()
                self.small_uploads()
                self.instance_uploads()
                if self.reads:
                    self.load()
                    self.dashboard()
                    self.result["db"] = self.sizes()
            finally:
                self.hub.stop()
        finally:
            self.cluster.stop()
        return self.result

    # uploads ----------------------------------------------------------------------------------

    def floor(self) -> None:
        """What a request costs before any stats work, one client at a time: the unauthenticated
        ``/healthz`` (HTTP, gunicorn, Flask) and the authenticated ``/client/me`` (auth, rate
        limit, request log, metrics; one query). A 5-record upload's own work is its p50 less the
        second."""
        http = session(create_clients(self.hub, ["floor"])[0])
        out = {}
        for name, path in (("healthz", "/healthz"), ("client_me", "/api/v1/client/me")):
            for _ in range(5):  # warm-up: every worker's first request
                http.get(f"{self.hub.url}{path}", timeout=60)
            latencies, cpu = [], self.cpu_s()
            for _ in range(self.plan.floor_requests):
                started = time.perf_counter()
                response = http.get(f"{self.hub.url}{path}", timeout=60)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
            used = sum(after - cpu[part] for part, after in self.cpu_s().items())
            out[name] = stats_of(latencies) | {"cpu_ms": used * 1000 / self.plan.floor_requests}
        self.result["floor_ms"] = out

    def small_uploads(self) -> None:
        """C Front Offices of one analysis each posting their nightly 5 records, day after day."""
        self.result["small_uploads"] = {str(c): self.small_phase(c) for c in CONCURRENCY}

    def small_phase(self, concurrency: int) -> dict[str, Any]:
        plan = self.plan
        first_day = clock.today() - timedelta(days=plan.small_requests + 30)
        gen = Generator(seed=100 + concurrency, anrs=concurrency)
        tokens = create_clients(self.hub, [f"small-{concurrency}-{i}" for i in range(concurrency)])
        days = [first_day + timedelta(days=d) for d in range(plan.small_requests)]
        bodies = [[json.dumps(gen.day_batch(i, day)).encode() for day in days] for i in range(concurrency)]
        # the first night of each month first, untimed: a new month's partition is made once
        firsts = sorted(
            {day.replace(day=1): index for index, day in reversed(list(enumerate(days)))}.values()
        )
        for i, token in enumerate(tokens):
            http = session(token)
            for index in firsts:
                post(http, self.hub.url, bodies[i][index])
            bodies[i] = [body for index, body in enumerate(bodies[i]) if index not in firsts]
        latencies: list[float] = []
        lock = threading.Lock()

        def client(index: int) -> int:
            http, mine = session(tokens[index]), []
            for body in bodies[index]:
                mine.append(post(http, self.hub.url, body))
            with lock:
                latencies.extend(mine)
            return 5 * len(bodies[index])

        sampler = Profiler(self) if self.profile is not None and concurrency == max(CONCURRENCY) else None
        if sampler:
            sampler.start()
        cpu = self.cpu_s()
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            records = sum(pool.map(client, range(concurrency)))
        elapsed = time.perf_counter() - started
        used = {part: (after - cpu[part]) * 1000 / len(latencies) for part, after in self.cpu_s().items()}
        if sampler:
            sampler.stop(records, elapsed)
        print(f"   {self.result['revision']}: {concurrency} clients, {records / elapsed:,.0f} records/s")
        return {
            "records": records,
            "seconds": elapsed,
            "records_per_s": records / elapsed,
            "request_ms": stats_of(latencies),
            "cpu_ms_per_request": used,
        }

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds used so far by the hub (gunicorn and its workers), PostgreSQL (the
        postmaster and its backends) and this benchmark's client threads: on a machine of few
        cores their sum per request bounds how many requests a second it can take at all."""
        assert self.hub.process is not None
        postmaster = int((self.cluster.data / "postmaster.pid").read_text().split()[0])
        return {
            "hub": tree_cpu_s(self.hub.process.pid),
            "postgresql": tree_cpu_s(postmaster),
            "benchmark client": time.process_time(),
        }

    def instance_uploads(self) -> None:
        """Instances of 1, 5, 20, 100 analyses: each posts one request a night with all its
        analyses (a night per timed request, after one warm-up night)."""
        out = {}
        for analyses in self.plan.instances:
            gen = Generator(seed=200 + analyses, anrs=analyses)
            http = session(create_clients(self.hub, [f"instance-{analyses}"])[0])
            latencies = []
            for night in range(self.plan.repeat + 1):
                day = clock.today() - timedelta(days=2 + night)
                body = json.dumps([r for i in range(analyses) for r in gen.day_batch(i, day)]).encode()
                elapsed = post(http, self.hub.url, body)
                if night:
                    latencies.append(elapsed)
            timing = stats_of(latencies)
            out[str(analyses)] = {
                "records": 5 * analyses,
                "request_ms": timing,
                "records_per_s": 5 * analyses / timing["p50"] * 1000,
            }
        self.result["instance_uploads"] = out

    # reads ------------------------------------------------------------------------------------

    def load(self) -> None:
        """The data set, one Front Office per instance of ``plan.layout``, in 500-record requests
        (eight instances at a time), then the nightly release (whole-hub answers read it)."""
        size, layout = self.plan.size, self.plan.layout
        gen = Generator(seed=7, anrs=size.analyses)
        starts = [sum(layout[:i]) for i in range(len(layout))]
        data = self.root / "data"
        files = [
            write_batches(gen, range(start, start + count), size.days, 500, data / f"fo{i}")
            for i, (start, count) in enumerate(zip(starts, layout, strict=True))
        ]
        self.tokens = create_clients(self.hub, [f"fo-{i}-{count}" for i, count in enumerate(layout)])
        self.anrs = [
            [gen.anrs[j]["uuid"] for j in range(s, s + c)] for s, c in zip(starts, layout, strict=True)
        ]
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            sent = sum(
                pool.map(lambda pair: upload(self.hub.url, *pair), zip(self.tokens, files, strict=True))
            )
        elapsed = time.perf_counter() - started
        shutil.rmtree(data)
        self.result["load"] = {"records": sent, "seconds": elapsed, "records_per_s": sent / elapsed}
        started = time.perf_counter()
        self.hub.flask("stats_release", timeout=3600)
        self.result["release_s"] = time.perf_counter() - started

    def processed(self, token: str, processor: str, params: dict, anrs: list[str] | None) -> Callable:
        today = clock.today()
        body: dict[str, Any] = {
            "processor": processor,
            "processor_params": params,
            "date_from": (today - timedelta(days=WINDOW_DAYS - 1)).isoformat(),
            "date_to": today.isoformat(),
        }
        if anrs is not None:
            body["anrs"] = anrs
        http = session(token)
        url = f"{self.hub.url}/api/v1/stats/processed/"

        def call() -> float:
            started = time.perf_counter()
            response = http.get(url, json=body, timeout=600)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"{processor}: {response.status_code} {response.text[:300]}")
            return elapsed

        return call

    def sample(self, call: Callable[[], float]) -> dict[str, float]:
        call()  # warm-up
        return stats_of([call() for _ in range(self.plan.repeat)])

    def dashboard(self) -> None:
        layout = self.plan.layout
        scopes: dict[str, tuple[str, list[str] | None]] = {}
        for index, count in enumerate(layout):
            if count in (5, 20, 100):
                scopes[f"all {count} of an instance"] = (self.tokens[index], self.anrs[index])
        largest = max(range(len(layout)), key=lambda i: layout[i])
        subset = f"5 of {layout[largest]}"
        scopes[subset] = (self.tokens[largest], self.anrs[largest][:5])
        scopes["whole hub"] = (self.tokens[largest], None)
        table: dict[str, dict[str, dict[str, float]]] = {}
        for processor, params in DASHBOARD:
            table[processor] = {
                scope: self.sample(self.processed(token, processor, params, anrs))
                for scope, (token, anrs) in scopes.items()
            }
        token, anrs = scopes[subset]
        for processor in OTHERS:
            table[processor] = {subset: self.sample(self.processed(token, processor, {}, anrs))}
        self.result["processed_ms"] = table

    def sizes(self) -> dict[str, Any]:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.cluster.url)
        with engine.connect() as conn:
            out = {"database_mib": conn.scalar(text("SELECT pg_database_size(current_database())")) / 2**20}
            out["stats_json_mib"] = conn.scalar(text("SELECT sum(pg_column_size(data)) FROM stats")) / 2**20
            out["tables"] = {}
            for name in conn.scalars(
                text(
                    "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
                )
            ):
                mib = conn.scalar(text("SELECT pg_total_relation_size(:t)"), {"t": name}) / 2**20
                table = "stats" if is_partition(name) else name
                out["tables"][table] = out["tables"].get(table, 0) + mib
            columns = (
                conn.execute(
                    text(
                        "SELECT column_name FROM information_schema.columns WHERE table_name = 'stats' "
                        "AND column_name LIKE 'sum\\_%'"
                    )
                )
                .scalars()
                .all()
            )
            if columns:  # the records' own sums, inside the stats rows
                total = " + ".join(f"coalesce(pg_column_size({c}), 0)" for c in columns)
                out["record_sums_mib"] = conn.scalar(text(f"SELECT sum({total}) FROM stats")) / 2**20
        engine.dispose()
        out["ratio"] = out["database_mib"] / out["stats_json_mib"]
        return out


# --- profile -------------------------------------------------------------------------------------

#: where a worker's sampled stack is: the innermost frame naming one of these (file, function)
CATEGORIES = (
    ("commit", ("sqlalchemy/orm/scoping.py", "commit (")),
    ("connection checkout (pre-ping)", ("sqlalchemy/pool/", "")),
    ("partition check", ("partitions.py", "ensure (")),
    ("sums (client_day)", ("storage/stats.py", "_keep_sums (")),
    ("labels", ("storage/stats.py", "_labels (")),
    ("record upsert", ("storage/stats.py", "upsert_records (")),
    ("uuid / rewrite checks", ("api/v1/stats.py", "_refuse_")),
    ("validation", ("api/v1/stats.py", "_validate (")),
    ("body parse", ("api/v1/params.py", "request_json (")),
    ("auth", ("api/auth.py", "authenticate_request (")),
    ("rate limit", ("flask_limiter", "")),
    ("metrics", ("metrics.py", "")),
    ("logs", ("observability/logs.py", "")),
    ("processed reads", ("storage/processed.py", "")),
)
#: py-spy's sampling rate (per second, per process)
SPY_RATE = 200


def categorize(frames: list[str]) -> str:
    """The category of one collapsed stack (root first): the innermost hub frame that names one."""
    for frame in reversed(frames):
        for name, (where, what) in CATEGORIES:
            if where in frame and what in frame:
                return name
    if any("wsgi_app" in frame for frame in frames):
        return "flask, werkzeug, smorest (the rest of a request)"
    return "idle (waiting for a request)"


class Profiler:
    """Samplers around one timed phase: PostgreSQL statements and waits, and py-spy on the workers."""

    def __init__(self, run: Run):
        self.run, self.folder = run, run.profile or Path()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.waits: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()

    def start(self) -> None:
        from sqlalchemy import create_engine, text

        self.engine = create_engine(self.run.cluster.url)
        with self.engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
            conn.execute(text("SELECT pg_stat_statements_reset()"))

        def sample() -> None:
            query = text(
                "SELECT state, coalesce(wait_event_type, 'CPU'), coalesce(wait_event, '-') FROM pg_stat_activity"
                " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
            with self.engine.connect() as conn:
                while not self._stop.wait(0.1):
                    for state, kind, event in conn.execute(query):
                        self.waits[f"{state}: {kind}/{event}"] += 1
                    self.samples += 1
                    conn.rollback()

        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()
        self.spy = None
        if self.run.py_spy:
            master = self.run.hub.process.pid
            command = [self.run.py_spy, "record", "--pid", str(master), "--subprocesses", "--idle"]
            command += [
                "--rate",
                str(SPY_RATE),
                "--nonblocking",
                "--format",
                "raw",
                "-o",
                str(self.folder / "workers.txt"),
            ]
            self.workers = children(master)
            self.spy = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=(self.folder / "py-spy.log").open("w")
            )
            time.sleep(1)  # py-spy attaches before the phase starts

    def stop(self, records: int, seconds: float) -> None:
        from sqlalchemy import text

        self._stop.set()
        self.thread.join()
        if self.spy is not None:
            self.spy.send_signal(2)  # py-spy writes its file on SIGINT
            self.spy.wait(timeout=120)
        requests_made = records / 5
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT calls, total_exec_time, query FROM pg_stat_statements WHERE query NOT LIKE "
                    "'%pg_stat_%' ORDER BY total_exec_time DESC LIMIT 15"
                )
            ).all()
            total = conn.scalar(text("SELECT sum(total_exec_time) FROM pg_stat_statements")) or 0
        self.engine.dispose()
        report: dict[str, Any] = {
            "requests": requests_made,
            "seconds": seconds,
            "statements_ms_per_request": total / requests_made,
            "statements": [
                {"calls": c, "ms_per_request": t / requests_made, "query": " ".join(q.split())[:160]}
                for c, t, q in rows
            ],
            "waits": {k: v / max(self.samples, 1) for k, v in self.waits.most_common(12)},
        }
        stacks = self.folder / "workers.txt"
        if stacks.exists():
            report["workers"] = self.stacks(stacks, requests_made)
        (self.folder / "profile.json").write_text(json.dumps(report, indent=2))
        self.run.result["profile"] = report

    @staticmethod
    def stacks(path: Path, requests_made: float) -> dict[str, Any]:
        """py-spy's collapsed stacks summed per category: share of the workers' busy samples."""
        counts: Counter[str] = Counter()
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            counts[categorize(stack.split(";"))] += int(count)
        busy = sum(v for k, v in counts.items() if not k.startswith("idle"))
        working = [(k, v) for k, v in counts.most_common() if not k.startswith("idle")]
        return {
            "busy_samples": busy,
            "share_of_busy": {k: v / busy for k, v in working if busy},
            "ms_per_request": {k: v / SPY_RATE / requests_made * 1000 for k, v in working},
            "idle_samples": sum(v for k, v in counts.items() if k.startswith("idle")),
        }


# --- report --------------------------------------------------------------------------------------


def _small_upload_cell(x: dict[str, Any]) -> str:
    return f"{x['records_per_s']:,.0f} records/s, p50 {x['request_ms']['p50']:.0f} ms"


def _cpu_cell(x: dict[str, Any]) -> str:
    cpu = x.get("cpu_ms_per_request")  # absent in results of an older bench
    return " + ".join(f"{v:.1f}" for v in cpu.values()) + f" = {sum(cpu.values()):.1f}" if cpu else ""


def _per_clients(title: str, results: list[dict[str, Any]], cell: Callable[[dict], str]) -> Iterator[str]:
    """A table of the small-upload phases: a row per number of clients, a column per revision."""
    names = [f"{r['revision']} ({r['size']})" for r in results]
    yield title
    yield ""
    yield "| clients | " + " | ".join(names) + " |"
    yield "|---" * (len(names) + 1) + "|"
    for c in CONCURRENCY:
        yield f"| {c} | " + " | ".join(cell(r["small_uploads"][str(c)]) for r in results) + " |"


def report_lines(results: list[dict[str, Any]]) -> Iterator[str]:
    names = [f"{r['revision']} ({r['size']})" for r in results]
    yield from _per_clients(
        "Small uploads (one Front Office of one analysis: 5 records per request):",
        results,
        _small_upload_cell,
    )
    yield ""
    yield from _per_clients(
        "CPU per 5-record upload (ms: hub workers + PostgreSQL + benchmark client = total):",
        results,
        _cpu_cell,
    )
    for r in results:
        if "floor_ms" in r:
            floor, one = r["floor_ms"], r["small_uploads"]["1"]["request_ms"]["p50"]
            yield ""
            yield (
                f"{r['revision']}: floor of a request, 1 client, p50 (CPU of all parts): /healthz"
                f" {floor['healthz']['p50']:.1f} ms ({floor['healthz']['cpu_ms']:.1f}), /client/me"
                f" {floor['client_me']['p50']:.1f} ms ({floor['client_me']['cpu_ms']:.1f}); a 5-record"
                f" upload {one:.1f} ms, so {one - floor['client_me']['p50']:.1f} ms of its own work"
            )
    yield ""
    yield "One request per instance with all its analyses (p50 ms, records/s at that p50):"
    yield ""
    yield "| analyses | " + " | ".join(names) + " |"
    yield "|---" * (len(names) + 1) + "|"
    for a in results[0]["instance_uploads"]:
        cells = [
            "{:.0f} ms ({:,.0f}/s)".format(
                r["instance_uploads"][a]["request_ms"]["p50"], r["instance_uploads"][a]["records_per_s"]
            )
            for r in results
            if a in r["instance_uploads"]
        ]
        yield f"| {a} | " + " | ".join(cells) + " |"
    for r in results:
        if "processed_ms" not in r:
            continue
        yield ""
        db = r["db"]
        yield (
            f"{r['revision']} ({r['size']}): load {r['load']['records']:,} records in {r['load']['seconds']:.0f} s,"
            f" release {r['release_s']:.0f} s; database {db['database_mib']:,.0f} MiB / records' JSON"
            f" {db['stats_json_mib']:,.0f} MiB = {db['ratio']:.2f}"
            + (f"; the records' own sums {db['record_sums_mib']:,.1f} MiB" if "record_sums_mib" in db else "")
        )
        yield ""
        scopes = list(dict.fromkeys(s for row in r["processed_ms"].values() for s in row))
        yield "| p50 / p95 ms, 100 days by day | " + " | ".join(scopes) + " |"
        yield "|---" * (len(scopes) + 1) + "|"
        for processor, row in r["processed_ms"].items():
            cells = ["{p50:.1f} / {p95:.1f}".format(**row[s]) if s in row else "" for s in scopes]
            yield f"| {processor} | " + " | ".join(cells) + " |"
        if "profile" in r and "workers" in r["profile"]:
            yield ""
            yield "Profile (8 clients, small uploads): share of the workers' busy samples"
            workers = r["profile"]["workers"]
            for name, share in workers["share_of_busy"].items():
                yield f"- {name}: {share:.1%} ({workers['ms_per_request'][name]:.2f} ms of worker wall time in requests, per request)"
            yield f"- statements: {r['profile']['statements_ms_per_request']:.2f} ms per request"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="M", help="data sets for the reads: M, L or AxD (default M)")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per request (after a warm-up)")
    parser.add_argument("--small-requests", type=int, default=150, help="5-record requests per client")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: production's)")
    parser.add_argument("--baseline", default="", help="revisions to measure first (comma-separated)")
    parser.add_argument(
        "--baseline-reads", default="", help="baselines (comma-separated) to load and read at too"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="profile each revision's 8-client uploads in DIR/<revision>",
    )
    parser.add_argument(
        "--py-spy", default="", help="with --profile: py-spy executable for the workers' stacks"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="a tiny run (CI): 30x4 analyses x days, 3 repeats"
    )
    parser.add_argument("--only-baselines", action="store_true", help="measure the baselines only")
    parser.add_argument("--uploads-only", action="store_true", help="the upload phases only (no data set)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON and Markdown go")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.repeat, args.small_requests = "30x4", 3, 6
    ensure_postgresql()
    results = []
    for name in args.sizes.split(","):
        plan = Plan(
            size_of(name),
            args.small_requests,
            args.repeat,
            (1, 5) if args.smoke else INSTANCES,
            floor_requests=20 if args.smoke else 200,
        )
        root = Path(tempfile.mkdtemp(prefix=f"statsservice-fo-{plan.size.name}-"))
        print(
            f"== {plan.size.name}: {plan.size.analyses} analyses x {plan.size.days} days, instances {plan.layout} ({root})"
        )
        try:
            for revision in filter(None, args.baseline.split(",")):
                source = checkout(revision, root / f"src-{revision}")
                run = Run(
                    plan,
                    root / revision,
                    args.workers,
                    source,
                    revision,
                    profile=args.profile / revision if args.profile else None,
                    py_spy=args.py_spy,
                    reads=revision in args.baseline_reads.split(",") and not args.uploads_only,
                )
                results.append(run())
            if not args.only_baselines:
                run = Run(
                    plan,
                    root / "this",
                    args.workers,
                    profile=args.profile / "this" if args.profile else None,
                    py_spy=args.py_spy,
                    reads=not args.uploads_only,
                )
                results.append(run())
        finally:
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    lines = list(report_lines(results))
    print("\n" + "\n".join(lines))
    report = {
        "date": clock.utcnow().isoformat(timespec="seconds"),
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "results": results,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = clock.utcnow().strftime("%Y%m%d-%H%M%S")
    (args.results / f"fo-{stamp}.json").write_text(json.dumps(report, indent=2, default=str))
    (args.results / f"fo-{stamp}.md").write_text(
        f"# Front Office benchmark {report['date']}\n\nMachine: {report['machine']}\n\n"
        + "\n".join(lines)
        + "\n"
    )
    print(f"\nresults: {args.results / f'fo-{stamp}.md'} (and .json)")


if __name__ == "__main__":
    main()
