"""Structured logs: one JSON line per request (method, route, status, duration, client uuid,
request id) and per CLI run, and never a token, whatever the request carried."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from statsservice.storage import clients as registry
from tests.api_support import auth, new_client
from tests.ops_support import demo_records, operator_env, upload

FLASK = str(Path(sys.executable).parent / "flask")
REPO = Path(__file__).resolve().parent.parent


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_json_line_per_request_without_tokens(app, make_app, tmp_path):
    log = tmp_path / "hub.log"
    metrics_secret = "scrape-secret-9f8e7d6c5b4a"
    hub = make_app(LOG_FILE=str(log), METRICS_TOKEN=metrics_secret)
    http = hub.test_client()
    token = new_client("Logging FO")
    uuid = registry.get_by_name("Logging FO").uuid
    records = demo_records(anrs=1, days=1)

    calls = [
        http.get("/api/v1/client/me", headers={**auth(token), "X-Request-ID": "proxy-id-123"}),
        upload(http, token, records),
        upload(
            http, token, [{"anr": "nope", "type": "threat", "date": "2026-01-01", "data": [], "token": token}]
        ),
        http.get("/api/v1/client/me", headers=auth(token + "x")),  # unknown key: 403
        http.get(f"/api/v1/stats/?type=threat&token={token}", headers=auth(token)),
        http.get(f"/nothing/{token}"),  # 404: the raw path, token included, is never logged
        http.get("/metrics", headers={"Authorization": f"Bearer {metrics_secret}"}),
        http.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}),
    ]
    for response in calls:  # a streamed answer holds its app context until it is closed
        response.close()
    text = log.read_text()
    assert token not in text and metrics_secret not in text
    entries = [entry for entry in lines(log) if entry.get("event") == "request"]
    assert len(entries) == len(calls)
    for entry, response in zip(entries, calls, strict=True):
        assert entry["status"] == response.status_code
        assert entry["request_id"] == response.headers["X-Request-ID"]
        assert entry["duration_ms"] >= 0
        assert {"ts", "level", "method", "route", "client"} <= set(entry)
    assert [e["status"] for e in entries] == [200, 201, 422, 403, 200, 404, 200, 200]
    assert entries[0]["request_id"] == "proxy-id-123"  # a proxy's id follows the request
    assert entries[-1]["request_id"] != "bad id with spaces"  # junk is replaced by a fresh id
    assert [e["route"] for e in entries[:3]] == ["/api/v1/client/me", "/api/v1/stats/", "/api/v1/stats/"]
    assert entries[5]["route"] == "<unmatched>"
    assert [e["client"] for e in entries[:4]] == [uuid, uuid, uuid, None]
    assert entries[1]["method"] == "POST"


def test_redacts_a_token_that_code_would_log(app, make_app, tmp_path):
    log = tmp_path / "hub.log"
    hub = make_app(LOG_FILE=str(log))
    token = "tok-" + "A1b2C3d4" * 8
    with hub.test_request_context("/", headers={"X-API-KEY": token}):
        logging.getLogger("statsservice.example").warning("client sent %s", token)
        try:
            raise ValueError(f"bad key {token}")
        except ValueError:
            logging.getLogger("statsservice.example").exception("failed")
    assert token not in log.read_text()
    first, second = lines(log)
    assert first["message"] == "client sent [redacted]" and first["level"] == "warning"
    assert "bad key [redacted]" in second["exception"]


def test_text_format_and_request_lines_off(app, make_app, tmp_path):
    log = tmp_path / "hub.log"
    make_app(LOG_FILE=str(log), LOG_FORMAT="text").test_client().get("/healthz")
    (line,) = log.read_text().splitlines()
    assert "event=request" in line and "route=/healthz" in line and "status=200" in line
    quiet = tmp_path / "quiet.log"
    make_app(LOG_FILE=str(quiet), LOG_REQUESTS=False).test_client().get("/healthz")
    assert quiet.read_text() == ""


def test_one_line_per_cli_run(app, make_app, tmp_path):
    log = tmp_path / "cli.log"
    cli = make_app(LOG_FILE=str(log), LOG_CLI_RUNS=True).test_cli_runner()
    token = "provisioned-" + "Zz9" * 10
    assert cli.invoke(args=["client_create", "--name", "CLI FO", "--token", token]).exit_code == 0
    again = cli.invoke(args=["client_create", "--name", "CLI FO", "--token", token])
    assert again.exit_code == 1 and "already exists" in again.output
    assert cli.invoke(args=["stats_purge", "--nb-month", "24"]).exit_code == 0
    assert token not in log.read_text()
    entries = [entry for entry in lines(log) if entry.get("event") == "cli"]
    assert [(e["command"], e["status"], e["exit_code"]) for e in entries] == [
        ("client_create", "ok", 0),
        ("client_create", "error", 1),
        ("stats_purge", "ok", 0),
    ]
    assert "already exists" in entries[1]["error"]
    assert all(e["duration_ms"] >= 0 for e in entries)


def test_cli_run_line_from_a_real_process(app, database_url, tmp_path):
    """A cron-like run: configuration from the environment, the line on stderr, stdout untouched."""
    env = operator_env(tmp_path / "instance", database_url, LOG_CLI_RUNS="true")
    token = "cron-" + "Qx7" * 10
    result = subprocess.run(
        [FLASK, "--app", "statsservice", "client_create", "--name", "Cron FO", "--token", token],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"Token: {token}" in result.stdout  # shown once, on stdout, as SPEC §2 wants
    assert token not in result.stderr
    (entry,) = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert entry["event"] == "cli" and entry["command"] == "client_create" and entry["status"] == "ok"
