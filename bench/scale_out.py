"""Scale-out benchmark (``make bench-scale-out``): one app node against two behind the same
PostgreSQL, with the rate-limit counters in one Redis (Flask-Limiter's redis storage), as
docs/operations.md "Scaling out" describes.

It measures, in one run and on one machine:

- ingest records/s of eight concurrent Front Offices through one node, then spread over two;
- p50 of an authenticated request (``GET /api/v1/client/me``) with the counters in each worker's
  memory and in Redis, i.e. what sharing the budget across nodes costs per request.

On a 2-core machine both nodes share the same cores, so the two-node figure shows the overhead of
a second node, not the gain of a second machine. Usage: ``python -m bench.scale_out [--size 20x10]
[--auth-requests 300]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle
from pathlib import Path

import requests

from bench.harness import BenchCluster, BenchHub, ensure_postgresql, machine
from bench.processors import CONCURRENT_CLIENTS, size_of, upload, write_batches
from statsservice import clock
from statsservice.demo.payloads import Generator
from tests.redis_server import PrivateRedis


def ingest(nodes: list[BenchHub], size_text: str, folder: Path, prefix: str) -> float:
    """Records/s of eight concurrent clients, client i uploading through node i mod len(nodes)."""
    size = size_of(size_text)
    gen = Generator(seed=11, anrs=size.analyses)
    shares = [range(i, size.analyses, CONCURRENT_CLIENTS) for i in range(CONCURRENT_CLIENTS)]
    files = [write_batches(gen, s, size.days, 200, folder / f"{prefix}{i}") for i, s in enumerate(shares)]
    tokens = [nodes[0].create_client(f"{prefix}-{i}")[1] for i in range(CONCURRENT_CLIENTS)]
    urls = [node.url for node, _ in zip(cycle(nodes), range(CONCURRENT_CLIENTS), strict=False)]
    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENT_CLIENTS) as pool:
        sent = sum(pool.map(lambda job: upload(*job), zip(urls, tokens, files, strict=True)))
    return sent / (time.perf_counter() - started)


def auth_p50_ms(node: BenchHub, requests_count: int = 300) -> float:
    _uuid, token = node.create_client(f"latency-{time.monotonic_ns()}")
    timings = []
    with requests.Session() as http:
        http.headers["X-API-KEY"] = token
        for _ in range(requests_count):
            started = time.perf_counter()
            assert http.get(f"{node.url}/api/v1/client/me", timeout=30).status_code == 200
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def run(size: str, auth_requests: int = 300) -> dict[str, float]:
    ensure_postgresql()
    root = Path(tempfile.mkdtemp(prefix="statsservice-scale-out-"))
    cluster = BenchCluster(root / "pg")
    redis = PrivateRedis(root / "redis")
    nodes: list[BenchHub] = []
    try:  # everything started is stopped, even when the next one fails to start (no redis-server)
        cluster.start()
        redis.start()
        shared = {"RATELIMIT_STORAGE_URI": redis.url, "RATELIMIT_PER_CLIENT": "1000000 per minute"}
        memory = BenchHub(root / "memory", database_url=cluster.url, workers=2).start()
        nodes.append(memory)
        result = {"auth_p50_ms_memory": auth_p50_ms(memory, auth_requests)}
        memory.stop()
        nodes.clear()
        for name in ("node-a", "node-b"):
            nodes.append(BenchHub(root / name, config=shared, database_url=cluster.url, workers=1).start())
        result["auth_p50_ms_redis"] = auth_p50_ms(nodes[0], auth_requests)
        result["ingest_one_node_records_per_s"] = ingest(nodes[:1], size, root / "data1", "one")
        result["ingest_two_nodes_records_per_s"] = ingest(nodes, size, root / "data2", "two")
        return result
    finally:
        for node in nodes:
            node.stop()
        redis.stop()
        if (cluster.data / "postmaster.pid").exists():
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="16x10", help="<analyses>x<days> per ingest run (default 16x10)")
    parser.add_argument("--auth-requests", type=int, default=300, help="sequential requests per latency p50")
    args = parser.parse_args()
    result = run(args.size, args.auth_requests)
    print(f"scale-out bench, {clock.utcnow():%Y-%m-%d %H:%M} UTC, {machine()}")
    for key, value in result.items():
        print(f"  {key}: {value:.1f}")
    print(
        f"  two nodes / one node ingest: x{result['ingest_two_nodes_records_per_s'] / result['ingest_one_node_records_per_s']:.2f}"
    )


if __name__ == "__main__":
    main()
