"""On a real gunicorn, started with the production settings (contrib/gunicorn.conf.py, access log
on, everything at debug level): no token ever reaches a log, and the rate limits answer 429 with
Retry-After over HTTP."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

from statsservice.demo.payloads import Generator
from tests import frozen_clock
from tests.live import REPO, LiveHub

AGENT = "MONARC/2.13.1"
PER_CLIENT, AUTH_FAILURES = 20, 4
WORKERS = 2  # LiveHub's; with memory:// storage each worker counts on its own


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("security-live")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GUNICORN_CMD_ARGS", f"--config {REPO / 'contrib' / 'gunicorn.conf.py'}")
        patch.setenv("GUNICORN_ACCESSLOG", str(root / "access.log"))
        patch.setenv("GUNICORN_LOGLEVEL", "debug")
        live = LiveHub(
            root,
            config={
                "LOG_LEVEL": "DEBUG",
                "LOG_CLI_RUNS": "true",
                "RATELIMIT_PER_CLIENT": f"{PER_CLIENT} per minute",
                "RATELIMIT_AUTH_FAILURES": f"{AUTH_FAILURES} per minute",
            },
        ).start()
    yield live
    live.stop()


def logs(hub: LiveHub) -> str:
    return (hub.root / "gunicorn.log").read_text() + (hub.root / "access.log").read_text()


def test_tokens_never_reach_a_log(hub):
    created = hub.flask("client_create", "--name", "Logged FO")
    token = dict(line.split(": ", 1) for line in created.stdout.splitlines())["Token"]
    uuid = dict(line.split(": ", 1) for line in created.stdout.splitlines())["UUID"]
    rotated = hub.flask("client_token_rotate", "--uuid", uuid)
    new_token = dict(line.split(": ", 1) for line in rotated.stdout.splitlines())["Token"]
    secrets = {token, new_token, token[:-1] + "x"}
    for result in (created, rotated):  # the CLI prints the token on stdout only, logs the run without it
        assert token not in result.stderr and new_token not in result.stderr
        assert '"event": "cli"' in result.stderr

    url, headers = hub.url, {"X-API-KEY": new_token, "User-Agent": AGENT}
    batch = Generator(seed=4, anrs=1).day_batch(0, frozen_clock.today())
    batch[1]["data"][0]["label1"] = f"label holding {new_token}"
    calls = [
        requests.get(f"{url}/api/v1/client/me", headers=headers, timeout=30),
        requests.post(f"{url}/api/v1/stats/", json=batch, headers=headers, timeout=60),
        requests.get(
            f"{url}/api/v1/stats/", params={"type": "risk", "token": new_token}, headers=headers, timeout=30
        ),
        requests.get(
            f"{url}/api/v1/stats/", json={"type": "risk", "x": new_token}, headers=headers, timeout=30
        ),
        requests.post(  # a 400 for a body that quotes the token
            f"{url}/api/v1/stats/",
            data=f'[{{"anr": "{new_token}"'.encode(),
            headers={**headers, "Content-Type": "application/json"},
            timeout=30,
        ),
        requests.get(
            f"{url}/api/v1/client/me", headers={**headers, "X-API-KEY": token}, timeout=30
        ),  # old: 403
        requests.get(  # a near miss: 403
            f"{url}/api/v1/client/me", headers={**headers, "X-API-KEY": token[:-1] + "x"}, timeout=30
        ),
        requests.get(
            f"{url}/api/v1/client/me", headers={**headers, "User-Agent": "MONARC/2.9.0"}, timeout=30
        ),
        requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {new_token}"}, timeout=30),
        requests.get(f"{url}/about.json", headers=headers, timeout=30),
    ]
    assert [r.status_code for r in calls] == [200, 201, 200, 200, 400, 403, 403, 426, 200, 200]
    text = logs(hub)
    for secret in secrets:
        assert secret not in text
        assert hashlib.sha256(secret.encode()).hexdigest() not in text  # nor what the database keeps
    # the logs did record these requests (so the check above looked at something)
    requests_logged = [json.loads(line) for line in text.splitlines() if '"event": "request"' in line]
    assert len([e for e in requests_logged if e["route"].startswith("/api/v1/")]) >= 8
    assert len((hub.root / "access.log").read_text().splitlines()) >= len(calls)


def test_per_client_limit_over_http(hub):
    _uuid, token = hub.create_client("Busy FO")
    _uuid, other = hub.create_client("Quiet FO")
    session = requests.Session()
    answers = []
    for _ in range(WORKERS * PER_CLIENT + 1):  # enough to spend the budget of every worker
        answers.append(session.get(f"{hub.url}/api/v1/client/me", headers={"X-API-KEY": token}, timeout=30))
        if answers[-1].status_code == 429:
            break
    refused = answers[-1]
    assert refused.status_code == 429 and {r.status_code for r in answers[:-1]} == {200}
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert set(refused.json()) == {"message", "errors"} and "X-API-KEY" in refused.json()["errors"]
    # another client, same address, same moment: unaffected
    assert (
        session.get(f"{hub.url}/api/v1/client/me", headers={"X-API-KEY": other}, timeout=30).status_code
        == 200
    )


def test_refused_keys_lock_out_the_address_over_http(hub):
    session = requests.Session()
    answers = []
    for attempt in range(WORKERS * AUTH_FAILURES + 1):
        answers.append(
            session.get(
                f"{hub.url}/api/v1/client/me", headers={"X-API-KEY": f"guess-{attempt:04d}" * 8}, timeout=30
            )
        )
        if answers[-1].status_code == 429:
            break
    refused = answers[-1]
    assert refused.status_code == 429 and {r.status_code for r in answers[:-1]} == {403}
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["errors"] == {"X-API-KEY": [f"at most {AUTH_FAILURES} per 1 minute"]}
