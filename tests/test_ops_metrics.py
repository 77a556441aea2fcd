"""/metrics: request, upload and database metrics move with real traffic; the endpoint can be
disabled, restricted to networks (behind a trusted proxy too) and put behind a bearer token.

Each test takes the ``app`` fixture (so the shared database is emptied afterwards) and builds the
hub it needs with ``make_app``."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from statsservice.config import ConfigError
from statsservice.extensions import db
from statsservice.storage.models import Client, JobStatus, Stats
from tests.api_support import auth, new_client
from tests.live import free_port
from tests.ops_support import demo_records, samples, upload, value

ROUTE = "/api/v1/stats/"


def scrape(http, **headers) -> dict:
    response = http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return samples(response.get_data(as_text=True))


def test_counters_move_after_uploads(app, make_app):
    hub = make_app(METRICS_DB_CACHE_SECONDS=0)
    http = hub.test_client()
    token = new_client("Metrics FO")
    records = demo_records(anrs=2, days=1)
    bad = {**records[0], "type": "no-such-type"}

    before = scrape(http)
    assert upload(http, token, records).status_code == 201
    assert upload(http, token, [*records[:3], bad]).status_code == 207  # 3 replaced, 1 refused
    assert upload(http, token, [bad]).status_code == 422
    after = scrape(http)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("statsservice_upload_records_total", result="accepted") == len(records) + 3
    assert delta("statsservice_upload_records_total", result="refused") == 2
    for status in ("201", "207", "422"):
        assert delta("statsservice_http_requests_total", route=ROUTE, method="POST", status=status) == 1
    assert delta("statsservice_http_request_duration_seconds_count", route=ROUTE, method="POST") == 3
    # the route label is the URL rule, never the raw path
    http.delete("/api/v1/stats/6f1b5ac1-58a0-4a1c-9a49-2c4d3dca8c33", headers=auth(token))
    labels = {
        dict(key[1]).get("route") for key in scrape(http) if key[0] == "statsservice_http_requests_total"
    }
    assert "/api/v1/stats/<uuid:anr>" in labels
    assert not any("6f1b5ac1" in (label or "") for label in labels)

    stored = dict(db.session.execute(select(Stats.type, func.count()).group_by(Stats.type)).all())
    for stats_type, count in stored.items():
        assert value(after, "statsservice_stats_records", type=stats_type) == count
        new_keys = len({(r["anr"], r["date"]) for r in records if r["type"] == stats_type})
        assert delta("statsservice_stats_records", type=stats_type) == new_keys
    assert value(after, "statsservice_database_up") == 1
    local_active = select(func.count()).where(Client.local.is_(True), Client.is_active.is_(True))
    assert value(after, "statsservice_clients", local="true", active="true") == db.session.scalar(
        local_active
    )


def test_job_outcomes_of_purge_and_failed_pull(app):
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the pull fails
    app.config.update(
        METRICS_DB_CACHE_SECONDS=0,
        REMOTE_STATS_SERVER=closed,
        REMOTE_STATS_TOKEN="x" * 32,
        FEDERATION_RETRIES=0,
        FEDERATION_BACKOFF=0,
        FEDERATION_TIMEOUT=5,
    )
    http, cli = app.test_client(), app.test_cli_runner()
    db.session.execute(delete(JobStatus))  # whatever an earlier test's commands recorded
    db.session.commit()
    assert value(scrape(http), "statsservice_job_last_run_ok", job="purge") == 0  # never ran

    assert cli.invoke(args=["stats_purge", "--nb-month", "12"]).exit_code == 0
    pulled = cli.invoke(args=["stats_pull"])
    assert pulled.exit_code == 1 and "could not pull" in pulled.output

    scraped = scrape(http)
    assert value(scraped, "statsservice_job_last_run_ok", job="purge") == 1
    assert value(scraped, "statsservice_job_last_success_timestamp_seconds", job="purge") > 0
    assert value(scraped, "statsservice_job_last_run_ok", job="pull") == 0
    assert value(scraped, "statsservice_job_consecutive_failures", job="pull") == 1
    assert value(scraped, "statsservice_job_last_run_timestamp_seconds", job="pull") > 0
    assert ("statsservice_job_last_success_timestamp_seconds", (("job", "pull"),)) not in scraped

    assert cli.invoke(args=["stats_pull"]).exit_code == 1
    assert value(scrape(http), "statsservice_job_consecutive_failures", job="pull") == 2


def test_disabled_metrics_answer_404_json(app, make_app):
    http = make_app(METRICS_ENABLED=False).test_client()
    response = http.get("/metrics")
    assert response.status_code == 404
    assert response.get_json()["message"] == "metrics are disabled on this hub"


def test_bearer_token(app, make_app):
    secret = "metrics-secret-0123456789"
    http = make_app(METRICS_TOKEN=secret).test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {secret}"}):
        response = http.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert set(response.get_json()) == {"message", "errors"}
    assert "statsservice_database_up" in str(scrape(http, Authorization=f"Bearer {secret}"))


def test_allowed_networks_use_the_proxied_address_only_when_trusted(app, make_app):
    direct = make_app(METRICS_ALLOWED_NETWORKS=["127.0.0.0/8", "::1/128"]).test_client()
    assert direct.get("/metrics").status_code == 200
    # an untrusted X-Forwarded-For changes nothing: the peer is loopback
    assert direct.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 200

    proxied = make_app(METRICS_ALLOWED_NETWORKS="127.0.0.0/8", TRUSTED_PROXIES=1).test_client()
    refused = proxied.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert refused.status_code == 403 and refused.get_json()["errors"] == {"remote_addr": ["not allowed"]}
    assert proxied.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200

    elsewhere = make_app(METRICS_ALLOWED_NETWORKS=["192.0.2.0/24"]).test_client()
    assert elsewhere.get("/metrics").status_code == 403


def test_bad_network_setting_fails_at_start(app, make_app):
    with pytest.raises(ConfigError, match="METRICS_ALLOWED_NETWORKS"):
        make_app(METRICS_ALLOWED_NETWORKS=["not-a-network"])
