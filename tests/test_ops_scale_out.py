"""Several app nodes behind one PostgreSQL and one Redis (docs/operations.md, "Scaling out"):
two gunicorn nodes on loopback, each with its own instance folder, share the database and the
rate-limit counters (Flask-Limiter's redis storage). What one node stores, the other serves; a
client's budget is spent across nodes, not per node; each node's /metrics counts its own requests
and both report the same database."""

from __future__ import annotations

from itertools import cycle

import pytest
import requests

from tests.api_support import FO_AGENT
from tests.live import LiveHub
from tests.ops_support import demo_records, samples, value
from tests.pg_cluster import PrivateCluster
from tests.redis_server import PrivateRedis


class Node(LiveHub):
    """A node as production runs it: its gunicorn workers add up their counters on /metrics."""

    def server_env(self) -> dict[str, str]:
        metrics = self.root / "metrics"
        metrics.mkdir(parents=True, exist_ok=True)
        return {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}


BUDGET = 12  # requests per client per hour, shared by both nodes (an hour: no window ends mid-test)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale-out")
    cluster = PrivateCluster(root / "pg").start()
    redis = PrivateRedis(root / "redis").start()
    config = {
        "RATELIMIT_STORAGE_URI": redis.url,
        "RATELIMIT_PER_CLIENT": f"{BUDGET} per hour",
        "RATELIMIT_SWALLOW_ERRORS": "false",  # a redis fault must show, not let requests through
        "METRICS_DB_CACHE_SECONDS": "0",
    }
    hubs = []
    try:
        for name in ("node-a", "node-b"):
            hubs.append(Node(root / name, config=config, database_url=cluster.url).start())
        yield hubs
    finally:
        for hub in hubs:
            hub.stop()
        redis.stop()
        cluster.stop()


def session(token: str) -> requests.Session:
    http = requests.Session()
    http.headers.update({"X-API-KEY": token, "User-Agent": FO_AGENT})
    return http


def test_an_upload_through_one_node_is_read_through_the_other(nodes):
    node_a, node_b = nodes
    _uuid, token = node_a.create_client("Scale-out FO")
    http = session(token)
    records = demo_records(anrs=2, days=2)
    assert http.post(f"{node_a.url}/api/v1/stats/", json=records, timeout=60).status_code == 201
    threats = [r for r in records if r["type"] == "threat"]
    window = {
        "type": "threat",
        "date_from": min(r["date"] for r in threats),
        "date_to": max(r["date"] for r in threats),
    }
    read = http.get(f"{node_b.url}/api/v1/stats/", params=window, timeout=60)
    assert read.status_code == 200, read.text
    assert sorted((r["anr"], r["date"]) for r in read.json()["data"]) == sorted(
        (r["anr"], r["date"]) for r in threats
    )

    scraped = [samples(requests.get(f"{hub.url}/metrics", timeout=30).text) for hub in nodes]
    for stats_type in ("threat", "risk"):  # the database gauges agree on both nodes
        assert {value(s, "statsservice_stats_records", type=stats_type) for s in scraped} == {len(threats)}
    posted = [
        value(s, "statsservice_http_requests_total", route="/api/v1/stats/", method="POST", status="201")
        for s in scraped
    ]
    assert posted == [1, 0]  # request counters are per node: only node A took the upload
    assert (
        value(
            scraped[1], "statsservice_http_requests_total", route="/api/v1/stats/", method="GET", status="200"
        )
        == 1
    )


def test_a_client_budget_is_shared_across_nodes(nodes):
    node_a, _node_b = nodes
    _uuid, token = node_a.create_client("Budget FO")
    http = session(token)
    statuses = []
    for hub, _ in zip(cycle(nodes), range(BUDGET + 4), strict=False):
        statuses.append(http.get(f"{hub.url}/api/v1/client/me", timeout=30).status_code)
    # alternating nodes: with per-node counters each node would allow BUDGET, here both allow BUDGET together
    assert statuses == [200] * BUDGET + [429] * 4, statuses
    other = http.get(f"{nodes[1].url}/api/v1/client/me", timeout=30)
    assert other.status_code == 429 and int(other.headers["Retry-After"]) > 0
    # another client's budget is its own
    _uuid, fresh = node_a.create_client("Fresh FO")
    assert session(fresh).get(f"{nodes[1].url}/api/v1/client/me", timeout=30).status_code == 200
