"""A global hub fed by many local hubs (issue 24): ``make bench-global``.

On loopback, a global hub (``MODE=global``) on gunicorn (``contrib/gunicorn.conf.py``) and a
private PostgreSQL cluster with durable settings (``bench.harness``), then:

1. **Aggregates to push.** A scratch local hub in this process (SQLite) holds a year of demo data
   (``stats_demo``'s generator, weather mode) and releases it with the release code
   (``stats_release``): one real aggregate per (type, day), the very payloads ``stats_push``
   sends. Hub ``h`` pushing day ``D`` sends template day ``(D + 7h) mod len`` re-dated to ``D``
   (``anr`` recomputed) with every weight ``n`` multiplied by ``1 + h mod 5``: hubs differ, the
   global hub's validation and weight limits pass.
2. **Hub clients.** ``--hubs`` remote clients (``local = False``, as ``client_create --remote``
   makes them) registered in one in-process transaction, not one CLI process each; the month
   partitions of ``stats`` the pushes need are made then too, as a running hub has them.
3. **One night.** Every hub pushes the last final day, five types in one request, ``--pushers``
   at once (cron nights of many hubs); then ``--year-hubs`` of them push a year of days before it
   in date order, ``--batch`` aggregates per request (``FEDERATION_BATCH_SIZE``), ``--pushers``
   hubs at once. Throughput (aggregates/s) and p50/p95/max per request.
4. **Afterwards.** The public JSON routes over a year, ``/stats/map.json``, ``/about.json`` and a
   few pages, ``--reads`` sequential requests each (the first, cold, apart); what one hub's
   ``stats_pull`` asks (five processed series by day over a year); ``stats_weather``'s duration
   and ``/stats/weather.json``; database size, total and per table.
5. **Nothing lost.** Every aggregate acknowledged is in ``stats`` exactly once and nothing else
   is; each (type, day)'s whole-hub record weight in ``rollup_day`` is the sum of the weights
   acknowledged; every hub's per-day sums count exactly its records (``unsynced_days``).

Exits non-zero on any refused or failed push or a failed check. ``--smoke`` runs tiny sizes
(CI, under a minute); ``--profile DIR`` samples the push phases (``bench.load_profile``);
``--baseline REV`` runs it all first at another revision (``git archive``, as ``make bench``
does), so before and after come from one run on one machine.
"""

from __future__ import annotations

import argparse
import copy
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import requests
from sqlalchemy import create_engine, text

from bench.harness import BenchCluster, BenchHub, ensure_postgresql, percentile, scratch_hub
from bench.load import machine
from bench.load_profile import PG_SETTINGS, Profile
from bench.processors import checkout
from statsservice import clock
from statsservice.domain.deidentify import aggregate_anr
from tests.faults_support import unsynced_days
from tests.live import REPO

TYPES = ("risk", "threat", "vulnerability", "cartography", "compliance")
#: public JSON routes read over a year (their default window), then the rest of the dashboard
READS = (
    "/stats/threats.json",
    "/stats/threats.json?period=week",
    "/stats/vulnerabilities.json",
    "/stats/risks.json",
    "/stats/compliance.json",
    "/stats/cartography.json",
    "/stats/map.json",
    "/about.json",
    "/",
    "/evolution",
    "/about",
)

Payload = dict[str, Any]


@dataclass
class Sizes:
    hubs: int = 1000
    year_hubs: int = 100
    days: int = 365
    pushers: int = 8
    batch: int = 200
    analyses: int = 10
    reads: int = 5


# -- 1. real aggregates from the release code ----------------------------------------------------


def templates(days: int, analyses: int, scratch: Path) -> list[dict[str, Payload]]:
    """``days`` released days of demo data, each the five aggregates ``stats_push`` would send."""
    from sqlalchemy import select

    from statsservice.cli.demo import fill
    from statsservice.cli.release import release_days
    from statsservice.extensions import db
    from statsservice.storage.models import PublicRelease

    with scratch_hub(scratch):
        fill(analyses=analyses, days=days + 3, weather=True)  # the last days are not final yet
        release_days()
        rows = db.session.scalars(
            select(PublicRelease).where(PublicRelease.status == "released").order_by(PublicRelease.date)
        ).all()
        by_day: dict[date, dict[str, Payload]] = {}
        for row in rows:
            by_day.setdefault(row.date, {})[row.type] = row.payload
    full = [found for _day, found in sorted(by_day.items()) if set(found) == set(TYPES)]
    if not full:
        raise SystemExit("the demo released no day of all five types")
    return full[-days:]


def _scaled(value: Any, factor: int) -> Any:
    if isinstance(value, list):
        return [_scaled(item, factor) for item in value]
    if isinstance(value, dict):
        return {k: (v * factor if k == "n" else _scaled(v, factor)) for k, v in value.items()}
    return value


def aggregate(tpl: list[dict[str, Payload]], hub: int, stats_type: str, day: date) -> Payload:
    """What hub ``hub`` sends for (type, day): a template day of its own, re-dated, reweighted."""
    source = tpl[(day.toordinal() + 7 * hub) % len(tpl)][stats_type]
    payload = _scaled(copy.deepcopy(source), 1 + hub % 5)
    payload["date"], payload["anr"] = day.isoformat(), aggregate_anr(stats_type, day)
    return payload


# -- 2. hub clients -----------------------------------------------------------------------------


def register_hubs(database_url: str, names: list[str], scratch: Path, days: list[date]) -> dict[str, str]:
    """Create every hub client (``local = False``) in one transaction; name -> token. The month
    partitions of ``stats`` for ``days`` are made first, as a running hub has them (the nightly
    purge makes the next month's ahead): a month's partition made in the middle of 100 hubs'
    pushes waits for every upload in flight and stalls the uploads behind it, a one-off of a
    backfill that would blur the ingest figures."""
    from statsservice import create_app
    from statsservice.extensions import db
    from statsservice.storage import partitions
    from statsservice.storage.clients import create_client

    previous = os.environ.get("STATS_INSTANCE_PATH")
    os.environ["STATS_INSTANCE_PATH"] = str(scratch / "register-instance")
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "MODE": "global", "LOG_REQUESTS": False})
        tokens = {}
        with app.app_context():
            partitions.ensure(days)
            for name in names:
                token = secrets.token_urlsafe(48)
                create_client(name, token=token, local=False)
                tokens[name] = token
            db.session.commit()
            db.engine.dispose()
    finally:
        if previous is None:
            os.environ.pop("STATS_INSTANCE_PATH", None)
        else:
            os.environ["STATS_INSTANCE_PATH"] = previous
    return tokens


# -- 3. pushes ----------------------------------------------------------------------------------


@dataclass
class Pushes:
    """What a push phase sent and what the global hub acknowledged."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    accepted: Counter = field(default_factory=Counter)  # (hub, type, day) -> times acknowledged
    weights: Counter = field(default_factory=Counter)  # (type, day) -> acknowledged n
    failures: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, http: requests.Session, url: str, hub: str, batch: list[Payload]) -> None:
        body = orjson.dumps(batch)
        started = time.perf_counter()
        try:
            response = http.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=600)
        except requests.RequestException as exc:
            with self._lock:
                self.failures.append(f"{hub}: {exc}")
            return
        took = time.perf_counter() - started
        with self._lock:
            self.latencies.append(took)
            if response.status_code != 201:
                self.failures.append(f"{hub}: HTTP {response.status_code} {response.text[:300]}")
                return
            for item in batch:
                self.accepted[(hub, item["type"], item["date"])] += 1
                self.weights[(item["type"], item["date"])] += item["n"]

    def merge(self, other: Pushes) -> None:
        self.accepted.update(other.accepted)
        self.weights.update(other.weights)
        self.failures += other.failures

    @property
    def aggregates(self) -> int:
        return sum(self.accepted.values())

    def summary(self, what: str) -> str:
        ms = [1000 * s for s in self.latencies] or [0.0]
        return (
            f"{what}: {self.aggregates:,} aggregates in {len(self.latencies):,} requests, {self.seconds:.1f} s: "
            f"**{self.aggregates / max(self.seconds, 1e-9):,.0f} aggregates/s**, "
            f"{len(self.latencies) / max(self.seconds, 1e-9):.1f} requests/s; per request p50 "
            f"{statistics.median(ms):,.0f} ms, p95 {percentile(ms, 95):,.0f} ms, max {max(ms):,.0f} ms; "
            f"failures {len(self.failures)}"
        )


def run_pushes(url: str, jobs: list[tuple[str, str, Iterator[list[Payload]]]], pushers: int) -> Pushes:
    """Each job is one hub sending its batches in turn (as ``stats_push`` does); ``pushers`` hubs
    push at once."""
    out = Pushes()
    local = threading.local()

    def one(job: tuple[str, str, Iterator[list[Payload]]]) -> None:
        hub, token, batches = job
        if not hasattr(local, "http"):
            local.http = requests.Session()
        local.http.headers["X-API-KEY"] = token
        for batch in batches:
            out.send(local.http, f"{url}/api/v1/stats/", hub, batch)

    started = time.perf_counter()
    with ThreadPoolExecutor(pushers) as pool:
        list(pool.map(one, jobs))
    out.seconds = time.perf_counter() - started
    return out


def night_jobs(tpl, tokens: dict[str, str], day: date) -> list[tuple[str, str, Iterator[list[Payload]]]]:
    def batches(h: int) -> Iterator[list[Payload]]:
        yield [aggregate(tpl, h, t, day) for t in TYPES]

    return [(name, tokens[name], batches(h)) for h, name in enumerate(tokens)]


def year_jobs(tpl, tokens: dict[str, str], days: list[date], size: int) -> list[tuple[str, str, Iterator]]:
    def batches(h: int) -> Iterator[list[Payload]]:
        pairs = [(d, t) for d in days for t in TYPES]  # the outbox's order: date, then type
        for start in range(0, len(pairs), size):
            yield [aggregate(tpl, h, t, d) for d, t in pairs[start : start + size]]

    return [(name, tokens[name], batches(h)) for h, name in enumerate(tokens)]


# -- 4. reads, weather, sizes -------------------------------------------------------------------


def timed(call: Callable[[], requests.Response], times: int) -> dict[str, float]:
    """Cold (first) and warm (p50, max of the rest) latency in ms, size of the answer in KiB."""
    ms, size, status = [], 0, 0
    for _ in range(times):
        started = time.perf_counter()
        response = call()
        ms.append(1000 * (time.perf_counter() - started))
        size, status = len(response.content), response.status_code
        if status != 200:
            raise SystemExit(f"read answered {status}: {response.text[:300]}")
    warm = ms[1:] or ms
    return {"first": ms[0], "p50": statistics.median(warm), "max": max(warm), "kib": size / 1024}


def reads(url: str, times: int) -> dict[str, dict[str, float]]:
    http = requests.Session()
    out = {path: timed(lambda path=path: http.get(url + path, timeout=600), times) for path in READS}
    # a revalidation: the answer is made again to compare its ETag, so a 304 costs a 200's work
    first = http.get(url + READS[0], timeout=600)
    started = time.perf_counter()
    again = http.get(url + READS[0], headers={"If-None-Match": first.headers["ETag"]}, timeout=600)
    out[f"{READS[0]} (If-None-Match: 304)"] = {
        "first": 1000 * (time.perf_counter() - started),
        "p50": float("nan"),
        "max": float("nan"),
        "kib": len(again.content) / 1024,
    }
    if again.status_code != 304:
        raise SystemExit(f"revalidation answered {again.status_code}")
    return out


def pulls(url: str, token: str, times: int) -> dict[str, dict[str, float]]:
    """What one local hub's ``stats_pull`` asks, with its token: each community series by day
    over ``FEDERATION_PULL_DAYS`` (365), as ``GET /api/v1/stats/processed/``."""
    from statsservice.web.community import PULLED

    today = clock.today()
    http = requests.Session()
    http.headers["X-API-KEY"] = token
    out = {}
    for name in PULLED:
        params = {"processor": name, "aggregation_period": "day"}
        params |= {"date_from": (today - timedelta(days=365)).isoformat(), "date_to": today.isoformat()}
        call = lambda params=params: http.get(f"{url}/api/v1/stats/processed/", json=params, timeout=600)  # noqa: E731
        out[f"pull {name}"] = timed(call, times)
    return out


def weather(hub: BenchHub, url: str, times: int) -> tuple[float, float, str, dict[str, float]]:
    """``stats_weather``'s wall time, a CLI start-up's (its ``--help``), its output, weather.json."""
    started = time.perf_counter()
    hub.flask("stats_weather", "--help")
    startup = time.perf_counter() - started
    started = time.perf_counter()
    ran = hub.flask("stats_weather", timeout=3600)
    took = time.perf_counter() - started
    http = requests.Session()
    return (
        took,
        startup,
        ran.stdout.strip(),
        timed(lambda: http.get(f"{url}/stats/weather.json", timeout=600), times),
    )


def sizes(database_url: str) -> tuple[float, list[tuple[str, float, int]]]:
    """Database MiB, and (table, MiB with indexes and TOAST, rows) largest first; the month
    partitions of ``stats`` count as the one table they make."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        total = conn.scalar(text("SELECT pg_database_size(current_database())")) / 2**20
        rows = conn.execute(
            text(
                "SELECT coalesce(p.relname, c.relname), sum(pg_total_relation_size(c.oid)),"
                " sum(c.reltuples::bigint) FILTER (WHERE c.reltuples > 0)"
                " FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid"
                " LEFT JOIN pg_class p ON p.oid = i.inhparent"
                " WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace"
                " GROUP BY 1 ORDER BY 2 DESC"
            )
        ).all()
    engine.dispose()
    return total, [(name, size / 2**20, int(count or 0)) for name, size, count in rows]


# -- 5. checks ----------------------------------------------------------------------------------


def verify(database_url: str, pushes: Pushes) -> dict[str, int]:
    """The database against what the global hub acknowledged, key by key."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))  # the row counts of the size table
        stored = conn.execute(
            text(
                "SELECT c.name, s.type, s.date, count(*) FROM stats s JOIN client c ON c.id = s.client_id"
                " WHERE NOT c.local GROUP BY 1, 2, 3"
            )
        ).all()
        weights = conn.execute(
            text(
                "SELECT k.type, d.date, d.n, d.entries FROM rollup_day d JOIN rollup_key k ON k.id = d.key_id"
                " WHERE NOT d.local AND k.k1 = '' AND k.k2 = '' AND k.k3 = '' AND k.k4 = ''"
            )
        ).all()
        unsynced = unsynced_days(conn)
    engine.dispose()
    held = {(name, t, d.isoformat()): count for name, t, d, count in stored}
    expected = {key: n for key, n in pushes.weights.items()}
    found = {(t, d.isoformat()): n for t, d, n, _entries in weights}
    records = Counter({key[1:]: 0 for key in pushes.accepted})
    for key in pushes.accepted:
        records[key[1:]] += 1
    return {
        "acknowledged": len(pushes.accepted),
        "stored": sum(held.values()),
        "duplicated": sum(1 for count in held.values() if count != 1),
        "lost": len(pushes.accepted.keys() - held.keys()),
        "unexpected": len(held.keys() - pushes.accepted.keys()),
        "days_weight_wrong": sum(
            1 for key, n in expected.items() if abs(found.get(key, 0.0) - n) > 1e-6 * max(n, 1)
        )
        + len(found.keys() - expected.keys()),
        "days_records_wrong": sum(
            1 for t, d, _n, entries in weights if entries != records.get((t, d.isoformat()), 0)
        ),
        "unsynced_days": unsynced,
    }


# -- the run ------------------------------------------------------------------------------------


def table(rows: dict[str, dict[str, float]]) -> list[str]:
    lines = ["| request | first ms | p50 ms | max ms | KiB |", "|---|---:|---:|---:|---:|"]
    for path, found in rows.items():
        cells = [f"{found[k]:,.0f}" if found[k] == found[k] else "" for k in ("first", "p50", "max")]
        lines.append(f"| `{path}` | {' | '.join(cells)} | {found['kib']:,.0f} |")
    return lines


def commit(source: Path) -> str:
    """The revision a checkout runs (``git describe``), or what ``--baseline`` named."""
    found = subprocess.run(
        ["git", "-C", str(source), "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    return found.stdout.strip() or source.name


def run(
    size: Sizes,
    tpl: list[dict[str, Payload]],
    work: Path,
    source: Path,
    revision: str,
    profile_dir: Path | None = None,
    py_spy: str = "",
) -> tuple[str, bool]:
    """One global hub, at ``source``'s code, through the five steps; (Markdown summary, passed)."""
    lines = [
        f"# Global hub with {size.hubs:,} local hubs, at {revision}",
        "",
        f"{clock.utcnow():%Y-%m-%d %H:%M} UTC, {machine()}.",
        f"Aggregates: {len(tpl)} released template days of {size.analyses} demo analyses, "
        f"{sum(len(orjson.dumps(d[t])) for d in tpl for t in TYPES) / len(tpl) / 1024:.0f} KiB per day of five types.",
    ]
    cluster = BenchCluster(work / "pg")
    if profile_dir:
        cluster.settings = BenchCluster.settings + PG_SETTINGS
    hub: BenchHub | None = None
    try:
        cluster.start()
        config = {"MODE": "global", "RATELIMIT_PER_IP": "100000 per minute"}  # the reads share one address
        hub = BenchHub(work / "global", config=config, database_url=cluster.url, source=source).start()
        started = time.perf_counter()
        names = [f"hub-{i:04d}" for i in range(size.hubs)]
        night = clock.today() - timedelta(days=2)  # the last final day (FEDERATION_DELAY_DAYS)
        year = [night - timedelta(days=d) for d in range(size.days, 0, -1)]
        tokens = register_hubs(cluster.url, names, work, [*year, night])
        lines.append(
            f"{size.hubs:,} hub clients registered in {time.perf_counter() - started:.1f} s (one transaction)."
        )
        print("\n".join(lines), flush=True)
        profile = None
        if profile_dir:
            assert hub.process is not None
            postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
            profile = Profile(profile_dir, cluster.url, hub.process.pid, postmaster, py_spy)
            profile.start()
        first = run_pushes(hub.url, night_jobs(tpl, tokens, night), size.pushers)
        lines += [
            "",
            "## Pushes",
            "",
            "- " + first.summary(f"{size.hubs:,} hubs × 1 day × 5 types, {size.pushers} at once"),
        ]
        print(lines[-1], flush=True)
        chosen = {name: tokens[name] for name in names[: size.year_hubs]}
        second = run_pushes(hub.url, year_jobs(tpl, chosen, year, size.batch), size.pushers)
        lines.append(
            "- "
            + second.summary(
                f"{size.year_hubs} hubs × {size.days} days × 5 types, {size.batch} per request, {size.pushers} hubs at once"
            )
        )
        print(lines[-1], flush=True)
        if profile is not None:
            profile.stop()
        first.merge(second)
        pushes = first
        lines += [
            "",
            f"## Reads afterwards ({size.reads} sequential requests each; p50 and max of all but the first)",
            "",
        ]
        lines += table(reads(hub.url, size.reads))
        lines += ["", "What one local hub's `stats_pull` asks (a year by day, with its token):", ""]
        lines += table(pulls(hub.url, tokens[names[0]], size.reads))
        took, startup, said, answer = weather(hub, hub.url, size.reads)
        lines += [
            "",
            f"`stats_weather`: {took:.1f} s wall (a CLI start-up alone: {startup:.1f} s): {said}",
            "",
        ]
        lines += table({"/stats/weather.json": answer})
        checks = verify(cluster.url, pushes)
        total, tables = sizes(cluster.url)
        lines += ["", f"## Database: {total:,.0f} MiB", "", "| table | MiB | rows |", "|---|---:|---:|"]
        lines += [f"| `{name}` | {mib:,.1f} | {rows:,} |" for name, mib, rows in tables if mib >= 0.1]
        lines += ["", "## Checks", "", ", ".join(f"{key} {value:,}" for key, value in checks.items())]
        if pushes.failures:
            lines += ["", "Failures (first 10):", *[f"- {f}" for f in pushes.failures[:10]]]
        if profile is not None:
            lines += ["", profile.report(cluster.root / "server.log")]
        ok = (
            not pushes.failures
            and checks["acknowledged"] == checks["stored"] == pushes.aggregates
            and checks["duplicated"] == checks["lost"] == checks["unexpected"] == 0
            and checks["days_weight_wrong"] == checks["days_records_wrong"] == checks["unsynced_days"] == 0
        )
        lines += ["", "global hub bench: " + ("PASSED" if ok else "FAILED")]
        return "\n".join(lines), ok
    finally:
        if hub is not None:
            hub.stop()
        if (cluster.data / "postmaster.pid").exists():
            cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = Sizes()
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes (20 hubs, 3 of them × 14 days): seconds"
    )
    parser.add_argument("--hubs", type=int, default=defaults.hubs)
    parser.add_argument(
        "--year-hubs", type=int, default=defaults.year_hubs, help="hubs that then push --days days"
    )
    parser.add_argument("--days", type=int, default=defaults.days)
    parser.add_argument("--pushers", type=int, default=defaults.pushers, help="hubs pushing at once")
    parser.add_argument("--batch", type=int, default=defaults.batch, help="aggregates per request")
    parser.add_argument(
        "--analyses", type=int, default=defaults.analyses, help="demo analyses behind the templates"
    )
    parser.add_argument("--reads", type=int, default=defaults.reads, help="requests per read route")
    parser.add_argument("--report", type=Path, help="also write the Markdown summary here")
    parser.add_argument("--baseline", default="", help="a git revision to measure first, the same way")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, database)")
    parser.add_argument(
        "--profile", type=Path, help="profile the push phases into this folder (bench/load_profile.py)"
    )
    parser.add_argument(
        "--py-spy", default="", help="with --profile: py-spy executable to sample the workers with"
    )
    args = parser.parse_args()
    size = Sizes(args.hubs, args.year_hubs, args.days, args.pushers, args.batch, args.analyses, args.reads)
    if args.smoke:
        size = Sizes(hubs=20, year_hubs=3, days=14, pushers=4, batch=50, analyses=5, reads=2)
    size.year_hubs = min(size.year_hubs, size.hubs)
    ensure_postgresql()
    work = Path(tempfile.mkdtemp(prefix="statsservice-global."))
    summaries, ok = [], True
    try:
        started = time.perf_counter()
        tpl = templates(min(size.days + 1, 366), size.analyses, work)
        print(f"{len(tpl)} template days made in {time.perf_counter() - started:.0f} s", flush=True)
        runs = [(REPO, commit(REPO))]
        if args.baseline:
            runs.insert(0, (checkout(args.baseline, work / "baseline"), args.baseline))
        for index, (source, revision) in enumerate(runs):
            summary, passed = run(
                size,
                tpl,
                work / f"run{index}",
                source,
                revision,
                args.profile / f"run{index}" if args.profile else None,
                args.py_spy,
            )
            summaries.append(summary)
            ok = ok and passed
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("\n" + "\n\n".join(summaries))
    if args.report:
        args.report.write_text("\n\n".join(summaries) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
