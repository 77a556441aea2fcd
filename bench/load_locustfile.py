"""Locust scenario of ``bench/load.py`` (run by it; not on its own).

Front Offices: each is one registered client that checks ``/client/me`` and uploads its nightly
batch, one request per stats type (1-30 analyses each, made by ``statsservice.demo.payloads``),
once per night of the plan, then waits for the end of the run. Readers: dashboard users polling
processed series of every type and processor. The run ends when the last Front Office is done; the results (Locust's
statistics, status codes, and every record acknowledged with 201) go to ``plan["results"]``.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import gevent
from locust import HttpUser, between, events, task

from statsservice.demo.payloads import Generator

PLAN = json.loads(Path(os.environ["LOAD_PLAN"]).read_text())
AGENT = "MONARC/2.13.1"
TYPES = ("risk", "threat", "vulnerability", "cartography", "compliance")
#: what a dashboard asks for: (type, processor, processor_params)
QUERIES = [
    ("risk", "risk_averages", {}),
    ("risk", "risk_averages_on_date", {"risks_type": "informational", "risks_state": "current"}),
    ("threat", "threat_average_on_date", {}),
    ("vulnerability", "vulnerability_average_on_date", {}),
    ("cartography", "cartography_heatmap", {}),
    ("compliance", "compliance_averages", {}),
    ("compliance", "compliance_averages_on_date", {}),
]
PERIODS = ("day", "week", "month")

accepted: set[tuple[str, str, str, str]] = set()  # (client name, anr, type, date) answered 201
statuses: Counter[str] = Counter()  # "request name status" -> count
front_office_ids, reader_ids = itertools.count(), itertools.count()
finished: list[float] = []  # when each Front Office was done
started = time.time()


class FrontOffice(HttpUser):
    fixed_count = len(PLAN["front_offices"])
    wait_time = between(0, 0)

    def on_start(self) -> None:
        self.me = PLAN["front_offices"][next(front_office_ids)]
        self.headers = {"X-API-KEY": self.me["token"], "User-Agent": AGENT}

    @task
    def nightly_upload(self) -> None:
        gen = Generator(seed=self.me["seed"], anrs=self.me["analyses"])
        for night in PLAN["nights"]:
            with self.client.get(
                "/api/v1/client/me", headers=self.headers, name="/api/v1/client/me", catch_response=True
            ) as response:
                statuses[f"GET /api/v1/client/me {response.status_code}"] += 1
                if response.status_code != 200:
                    response.failure(f"HTTP {response.status_code}")
            day = date.fromisoformat(night)
            records = [rec for i in range(self.me["analyses"]) for rec in gen.day_batch(i, day)]
            for kind in TYPES:
                batch = [record for record in records if record["type"] == kind]
                name = f"/api/v1/stats/ [{kind}]"
                with self.client.post(
                    "/api/v1/stats/", json=batch, headers=self.headers, name=name, catch_response=True
                ) as response:
                    statuses[f"POST {name} {response.status_code}"] += 1
                    if response.status_code == 201:
                        accepted.update((self.me["name"], r["anr"], kind, night) for r in batch)
                    else:
                        response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
        finished.append(time.time())
        if len(finished) == len(PLAN["front_offices"]):
            gevent.spawn_later(0.5, self.environment.runner.quit)
        # done for the night: stay (a user that stops is replaced by Locust) until the run ends
        while True:
            gevent.sleep(3600)


class Reader(HttpUser):
    fixed_count = len(PLAN["readers"])
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        token = PLAN["readers"][next(reader_ids) % len(PLAN["readers"])]
        self.headers = {"X-API-KEY": token, "User-Agent": AGENT}
        self.rng = random.Random(token)

    @task
    def poll(self) -> None:
        kind, processor, params = self.rng.choice(QUERIES)
        last = date.fromisoformat(PLAN["nights"][-1])
        body = {
            "type": kind,
            "processor": processor,
            "processor_params": params,
            "aggregation_period": self.rng.choice(PERIODS),
            "date_from": (last - timedelta(days=self.rng.choice((7, 30, 90)))).isoformat(),
            "date_to": last.isoformat(),
        }
        name = f"/api/v1/stats/processed/ [{processor}]"
        with self.client.get(
            "/api/v1/stats/processed/", json=body, headers=self.headers, name=name, catch_response=True
        ) as response:
            statuses[f"GET {name} {response.status_code}"] += 1
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")


@events.quitting.add_listener
def write_results(environment, **_kwargs) -> None:
    """Everything bench/load.py reports and verifies, in one JSON file."""
    stats = environment.stats

    def summary(entry) -> dict:
        return {
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "p50_ms": entry.get_response_time_percentile(0.50),
            "p95_ms": entry.get_response_time_percentile(0.95),
            "p99_ms": entry.get_response_time_percentile(0.99),
            "max_ms": entry.max_response_time,
            "rps": entry.total_rps,
        }

    results = {
        "started": started,
        "uploads_done": max(finished) if finished else None,
        "front_offices_done": len(finished),
        "ended": time.time(),
        "endpoints": {f"{e.method} {e.name}": summary(e) for e in stats.entries.values()},
        "total": summary(stats.total),
        "statuses": dict(statuses),
        "errors": [
            {"name": e.name, "error": str(e.error)[:300], "occurrences": e.occurrences}
            for e in stats.errors.values()
        ],
        "accepted": sorted(accepted),
    }
    Path(PLAN["results"]).write_text(json.dumps(results))
