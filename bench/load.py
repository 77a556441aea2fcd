"""Load test (issue 8): Front Offices uploading their nightly batches while dashboard readers poll,
against gunicorn (``contrib/gunicorn.conf.py``: workers from the cores) on a private PostgreSQL
cluster on loopback, then an exact check of the database.

``make load`` (or ``.venv/bin/python -m bench.load [--front-offices 200 --readers 20 --nights 2]``):

1. starts a PostgreSQL cluster of its own (``tests.pg_cluster``) and the hub (``ProductionHub``),
   rate limits on at their defaults (each client is counted by its own key, so none is reached);
2. registers every Front Office and reader as a client of its own through the admin API;
3. runs the Locust scenario ``bench/load_locustfile.py`` headless until every Front Office is done;
4. prints throughput and p50/p95/p99 latency per request type, status codes and errors;
5. verifies with SQL that every record acknowledged with 201 is stored exactly once, and nothing
   else is: one row per (client, analysis, type, date), as many rows as accepted records, and every
   (client, type, day) has per-day sums counting exactly its records (``unsynced_days``).

Exits non-zero on any failed request, 5xx, lost or duplicated record. ``--report FILE`` also writes
the Markdown summary there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from bench.load_profile import PG_SETTINGS, Profile
from statsservice import clock
from tests.faults_support import ProductionHub, unsynced_days
from tests.live import BIN, REPO
from tests.pg_cluster import PrivateCluster

LOCUSTFILE = REPO / "bench" / "load_locustfile.py"


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown CPU",
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.1f} GiB RAM, load average before the run {load}"


def register(hub: ProductionHub, admin_token: str, names: list[str]) -> dict[str, str]:
    """Create each client through ``POST /api/v1/client/`` with a token made here; name -> token."""
    tokens = {}
    with requests.Session() as session:
        session.headers.update({"X-API-KEY": admin_token, "User-Agent": "MONARC/2.13.1"})
        for name in names:
            token = secrets.token_urlsafe(64)
            response = session.post(
                f"{hub.url}/api/v1/client/",
                json={"name": name, "token": token, "is_sharing_enabled": True},
                timeout=60,
            )
            if response.status_code != 201:
                raise SystemExit(f"registering {name}: HTTP {response.status_code} {response.text[:200]}")
            tokens[name] = token
    return tokens


def verify(database_url: str, accepted: set[tuple[str, str, str, str]], names: list[str]) -> dict[str, int]:
    """Compare the database with what the hub acknowledged (201), key by key."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.name, s.anr, s.type, s.date, count(*) FROM stats s"
                " JOIN client c ON c.id = s.client_id GROUP BY c.name, s.anr, s.type, s.date"
            )
        ).all()
        total = conn.execute(text("SELECT count(*) FROM stats")).scalar_one()
        # every record counted in its client's per-day sums, and no sums without records
        unsynced = unsynced_days(conn)
    engine.dispose()
    known = set(names)
    stored = {(n, a, t, d.isoformat()) for n, a, t, d, _count in rows if n in known}
    return {
        "accepted": len(accepted),
        "rows": total,
        "keys": len(rows),
        "duplicated": sum(1 for *_key, count in rows if count != 1),
        "lost": len(accepted - stored),
        "unexpected": len(stored - accepted),
        "unsynced_days": unsynced,
    }


def report(results: dict, checks: dict[str, int], args: argparse.Namespace, about: str) -> str:
    upload_seconds = (results["uploads_done"] or results["ended"]) - results["started"]
    lines = [
        f"Run of {time.strftime('%Y-%m-%d %H:%M %Z')} on {about}.",
        f"{args.front_offices} Front Offices x {args.nights} night(s), {args.readers} readers; "
        f"{checks['accepted']} records accepted in {upload_seconds:.0f} s "
        f"({checks['accepted'] / upload_seconds:.0f} records/s), "
        f"{results['total']['requests']} requests in all ({results['total']['rps']:.1f}/s).",
        "",
        "| request | count | failures | req/s | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, entry in [*sorted(results["endpoints"].items()), ("all", results["total"])]:
        lines.append(
            f"| `{name}` | {entry['requests']} | {entry['failures']} | {entry['rps']:.2f} | "
            f"{entry['p50_ms']:.0f} | {entry['p95_ms']:.0f} | {entry['p99_ms']:.0f} | {entry['max_ms']:.0f} |"
        )
    codes: dict[str, int] = {}
    for key, count in results["statuses"].items():
        code = key.rsplit(" ", 1)[1]
        codes[code] = codes.get(code, 0) + count
    lines += [
        "",
        "Status codes: " + ", ".join(f"{code}: {count}" for code, count in sorted(codes.items())) + ".",
        f"Verification: {checks['accepted']} records acknowledged with 201, {checks['rows']} rows in `stats`, "
        f"{checks['keys']} distinct (client, analysis, type, date); duplicated {checks['duplicated']}, "
        f"lost {checks['lost']}, unexpected {checks['unexpected']}, "
        f"days whose sums miss records or count absent ones {checks['unsynced_days']}.",
    ]
    for error in results["errors"]:
        lines.append(f"- error `{error['name']}` x{error['occurrences']}: {error['error']}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--front-offices", type=int, default=200)
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--nights", type=int, default=2, help="nightly batches per Front Office")
    parser.add_argument("--max-analyses", type=int, default=30, help="analyses per Front Office: 1..N")
    parser.add_argument("--spawn-rate", type=float, default=20, help="users started per second")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--report", type=Path, help="also write the Markdown summary here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, database)")
    parser.add_argument(
        "--profile",
        type=Path,
        help="profile the run into this folder (bench/load_profile.py: CPU split, PostgreSQL waits and statements)",
    )
    parser.add_argument(
        "--py-spy", default="", help="with --profile: py-spy executable to sample the workers with"
    )
    args = parser.parse_args()

    about = machine()
    work = Path(tempfile.mkdtemp(prefix="statsservice-load."))
    cluster = PrivateCluster(work / "pg")
    if args.profile:
        cluster.settings = PrivateCluster.settings + PG_SETTINGS
    hub: ProductionHub | None = None
    profile: Profile | None = None
    try:
        cluster.start()
        hub = ProductionHub(work / "hub", database_url=cluster.url).start()
        _uuid, admin = hub.create_client("load-admin", "--role", "admin")
        rng = random.Random(args.seed)
        fo_names = [f"load-fo-{i:03d}" for i in range(args.front_offices)]
        reader_names = [f"load-reader-{i:02d}" for i in range(args.readers)]
        tokens = register(hub, admin, fo_names + reader_names)
        last_night = clock.today() - timedelta(days=1)
        plan = {
            "front_offices": [
                {
                    "name": n,
                    "token": tokens[n],
                    "seed": args.seed * 1000 + i,
                    "analyses": rng.randint(1, args.max_analyses),
                }
                for i, n in enumerate(fo_names)
            ],
            "readers": [tokens[n] for n in reader_names],
            "nights": [(last_night - timedelta(days=d)).isoformat() for d in range(args.nights - 1, -1, -1)],
            "results": str(work / "results.json"),
        }
        (work / "plan.json").write_text(json.dumps(plan))
        print(
            f"hub {hub.url} on {cluster.url}; {sum(f['analyses'] for f in plan['front_offices'])} analyses",
            flush=True,
        )
        if args.profile:
            assert hub.process is not None
            postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
            profile = Profile(args.profile, cluster.url, hub.process.pid, postmaster, args.py_spy)
            profile.start()
        locust = subprocess.run(
            [
                str(BIN / "locust"),
                "-f",
                str(LOCUSTFILE),
                "--headless",
                "--host",
                hub.url,
                "--users",
                str(args.front_offices + args.readers),
                "--spawn-rate",
                str(args.spawn_rate),
                "--run-time",
                "30m",
                "--stop-timeout",
                "10",
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            cwd=REPO,
            env={**os.environ, "LOAD_PLAN": str(work / "plan.json"), "PYTHONPATH": str(REPO)},
            timeout=3600,
        )
        if profile is not None:
            profile.stop()
            print("\n" + profile.report(cluster.root / "server.log"))
        results = json.loads((work / "results.json").read_text())
        accepted = {tuple(key) for key in results["accepted"]}
        checks = verify(cluster.url, accepted, fo_names)
        summary = report(results, checks, args, about)
        print("\n" + summary)
        if args.report:
            args.report.write_text(summary + "\n")
        server_errors = sum(c for k, c in results["statuses"].items() if k.rsplit(" ", 1)[1].startswith("5"))
        ok = (
            results["front_offices_done"] == args.front_offices
            and results["total"]["failures"] == 0
            and server_errors == 0
            and checks["duplicated"] == checks["lost"] == checks["unexpected"] == checks["unsynced_days"] == 0
            and checks["rows"] == checks["accepted"]
        )
        print("load test: " + ("PASSED" if ok else f"FAILED (locust exit {locust.returncode})"))
        return 0 if ok else 1
    finally:
        if hub is not None:
            hub.stop()
        if cluster.data.exists():
            cluster.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
