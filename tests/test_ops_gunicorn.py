"""The production server as deployed: gunicorn with ``contrib/gunicorn.conf.py`` and several
workers on loopback. /metrics adds up every worker's counters (prometheus-client multiprocess
mode), whichever worker answers; the JSON request lines reach gunicorn's stderr without tokens."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time

import pytest
import requests

from tests.api_support import FO_AGENT
from tests.live import BIN, REPO, LiveHub
from tests.ops_support import demo_records, samples, value


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("gunicorn-conf")
    live = LiveHub(root, config={"METRICS_DB_CACHE_SECONDS": "0"})
    live.root.mkdir(parents=True, exist_ok=True)
    live.flask("db", "upgrade")
    env = {
        **live.env,
        "GUNICORN_BIND": f"127.0.0.1:{live.port}",
        "GUNICORN_WORKERS": "3",
        "PROMETHEUS_MULTIPROC_DIR": str(root / "metrics"),
    }
    log = root / "gunicorn.log"
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-c",
            str(REPO / "contrib" / "gunicorn.conf.py"),
            "statsservice:create_app()",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    try:
        deadline, ready = time.monotonic() + 90, False
        while not ready and process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):  # not listening yet, or busy starting
                ready = requests.get(f"{live.url}/readyz", timeout=5).status_code == 200
            time.sleep(0.2)
        assert ready, log.read_text()[-2000:]
        live.log = log
        yield live
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_metrics_add_up_all_workers(hub):
    _uuid, token = hub.create_client("Gunicorn FO")
    records = demo_records(anrs=2, days=3)
    batches = [records[i : i + 5] for i in range(0, len(records), 5)]
    for batch in batches:
        # a new connection each time, so the uploads spread over the workers
        response = requests.post(
            f"{hub.url}/api/v1/stats/",
            json=batch,
            headers={"X-API-KEY": token, "User-Agent": FO_AGENT, "Connection": "close"},
            timeout=60,
        )
        assert response.status_code == 201, response.text
    refused = requests.post(
        f"{hub.url}/api/v1/stats/",
        json=[{**records[0], "date": "not-a-date"}],
        headers={"X-API-KEY": token, "User-Agent": FO_AGENT},
        timeout=60,
    )
    assert refused.status_code == 422

    for _ in range(6):  # whichever worker answers, it reports every worker's counts
        scraped = samples(
            requests.get(f"{hub.url}/metrics", headers={"Connection": "close"}, timeout=30).text
        )
        assert value(scraped, "statsservice_upload_records_total", result="accepted") == len(records)
        assert value(scraped, "statsservice_upload_records_total", result="refused") == 1
        assert value(
            scraped, "statsservice_http_requests_total", route="/api/v1/stats/", method="POST", status="201"
        ) == len(batches)
        assert value(scraped, "statsservice_stats_records", type="threat") == len(records) / 5

    lines = [json.loads(line) for line in hub.log.read_text().splitlines() if line.startswith("{")]
    posts = [line for line in lines if line.get("event") == "request" and line["method"] == "POST"]
    assert [line["status"] for line in posts] == [201] * len(batches) + [422]
    assert token not in hub.log.read_text()
