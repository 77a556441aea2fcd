"""The API on a real gunicorn process over loopback, as a Front Office reaches it: a client made
with contrib/create_client.sh, GET parameters in a JSON body, and the body size limit for both
Content-Length and chunked uploads."""

from __future__ import annotations

import json
import subprocess

import pytest
import requests

from statsservice.demo.payloads import Generator
from tests import frozen_clock
from tests.live import REPO, LiveHub

LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    live = LiveHub(tmp_path_factory.mktemp("api-live"), config={"MAX_CONTENT_LENGTH": str(LIMIT)}).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def token(hub) -> str:
    result = subprocess.run(
        [str(REPO / "contrib" / "create_client.sh"), "Live FO"],
        cwd=REPO,
        env=hub.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(line.split(": ", 1) for line in result.stdout.splitlines())["Token"]


def session(token: str) -> requests.Session:
    http = requests.Session()
    http.headers.update({"X-API-KEY": token, "User-Agent": "MONARC/2.13.1"})
    return http


def test_front_office_over_http(hub, token):
    http = session(token)
    me = http.get(f"{hub.url}/api/v1/client/me", timeout=30)
    assert me.status_code == 200 and me.json()["token"] == token
    gen = Generator(seed=9, anrs=2, php_quirks=True)
    batch = [r for i in range(2) for r in gen.day_batch(i, frozen_clock.today())]
    posted = http.post(f"{hub.url}/api/v1/stats/", json=batch, timeout=60)
    assert posted.status_code == 201, posted.text
    read = http.get(f"{hub.url}/api/v1/stats/", json={"type": "threat", "get_last": True}, timeout=30)
    assert read.status_code == 200 and read.json()["metadata"]["count"] == 2
    deleted = http.delete(f"{hub.url}/api/v1/stats/{gen.anrs[0]['uuid']}", timeout=30)
    assert deleted.status_code == 204
    assert (
        http.get(f"{hub.url}/api/v1/stats/", params={"type": "risk"}, timeout=30).json()["metadata"]["count"]
        == 1
    )


def _big_body() -> bytes:
    gen = Generator(seed=10, anrs=10)
    batch = [r for i in range(10) for r in gen.day_batch(i, frozen_clock.today())]
    data = json.dumps(batch).encode()
    assert LIMIT < len(data) < 2 * LIMIT  # just over: the socket buffers take what the hub does not read
    return data


def test_body_size_limit_with_content_length(hub, token):
    response = session(token).post(
        f"{hub.url}/api/v1/stats/", data=_big_body(), headers={"Content-Type": "application/json"}, timeout=60
    )
    assert response.status_code == 413
    assert response.json()["errors"] == {"body": [f"at most {LIMIT} bytes"]}


def count(hub, token) -> int:
    params = {"type": "risk", "get_last": "true"}
    return (
        session(token).get(f"{hub.url}/api/v1/stats/", params=params, timeout=30).json()["metadata"]["count"]
    )


def test_body_size_limit_when_chunked(hub, token):
    data = _big_body()
    before = count(hub, token)
    chunks = (data[i : i + 65536] for i in range(0, len(data), 65536))  # a generator: chunked encoding
    try:
        response = session(token).post(
            f"{hub.url}/api/v1/stats/", data=chunks, headers={"Content-Type": "application/json"}, timeout=60
        )
    except requests.ConnectionError:
        pytest.fail("the hub closed the connection instead of answering 413")
    assert response.status_code == 413 and response.json()["message"]
    assert count(hub, token) == before  # nothing of the refused batch was stored
