"""Rate limits (Flask-Limiter): a client is counted by its API key, anyone else by its address, and
refused keys lock out their address only. Every refusal is a JSON 429 with Retry-After."""

from __future__ import annotations

import pytest

from statsservice.config import ConfigError
from tests.api_support import auth, new_client

ME = "/api/v1/client/me"


def at(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def assert_429(response, field: str) -> int:
    assert response.status_code == 429, response.data[:300]
    body = response.get_json()
    assert set(body) == {"message", "errors"} and "retry in" in body["message"]
    assert list(body["errors"]) == [field] and body["errors"][field][0].startswith("at most ")
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= 3600
    assert response.headers["Content-Security-Policy"]  # a 429 is an ordinary hub response
    return seconds


def test_per_address_limit_on_anonymous_requests(app, make_app):
    hub = make_app(RATELIMIT_PER_IP="3 per minute")
    http = hub.test_client()
    with hub.app_context():
        token = new_client("FO behind the same address")
    answers = [http.get("/about.json", **at("10.0.0.1")).status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    assert_429(http.get("/stats/risks.json", **at("10.0.0.1")), "remote_addr")  # one budget per address
    assert_429(http.get("/no/such/page", **at("10.0.0.1")), "remote_addr")  # scanning counts too
    assert_429(http.get(ME, **at("10.0.0.1")), "remote_addr")  # a missing key is anonymous
    # another address, the probes, and a client's key (counted by key) are not affected
    assert http.get("/about.json", **at("10.0.0.2")).status_code == 200
    assert http.get("/healthz", **at("10.0.0.1")).status_code == 200
    assert http.get(ME, headers=auth(token), **at("10.0.0.1")).status_code == 200


def test_per_client_limit_leaves_other_clients_alone(app, make_app):
    hub = make_app(RATELIMIT_PER_CLIENT="3 per minute")
    http = hub.test_client()
    with hub.app_context():
        first, second = new_client("FO one"), new_client("FO two")
    assert [http.get(ME, headers=auth(first), **at("10.0.1.1")).status_code for _ in range(3)] == [200] * 3
    seconds = assert_429(http.get(ME, headers=auth(first), **at("10.0.1.1")), "X-API-KEY")
    assert seconds <= 60
    # counted by key, not by address: the same client elsewhere is still over its budget...
    assert_429(http.post("/api/v1/stats/", json=[], headers=auth(first), **at("10.9.9.9")), "X-API-KEY")
    # ...and another client at the same address has its own
    assert http.get(ME, headers=auth(second), **at("10.0.1.1")).status_code == 200
    # public pages from that address are counted by address, not by the spent key
    assert http.get("/about.json", headers=auth(first), **at("10.0.1.1")).status_code == 200


def test_refused_keys_lock_out_the_address_not_the_client(app, make_app):
    hub = make_app(RATELIMIT_AUTH_FAILURES="3 per minute", RATELIMIT_PER_CLIENT="5 per minute")
    http = hub.test_client()
    with hub.app_context():
        token = new_client("FO attacked")
    attacker = at("203.0.113.7")
    guesses = [token + "x", token[:-1], "a" * 86]
    assert [http.get(ME, headers=auth(g), **attacker).status_code for g in guesses] == [403, 403, 403]
    assert_429(http.get(ME, headers=auth("b" * 86), **attacker), "X-API-KEY")
    # locked out: even the right key gets 429 from there, or guessing could go on unchecked
    assert_429(http.get(ME, headers=auth(token), **attacker), "X-API-KEY")
    assert_429(
        http.delete(f"/api/v1/stats/{'0' * 8}-0000-4000-8000-{'0' * 12}", headers=auth("c" * 86), **attacker),
        "X-API-KEY",
    )
    # the real client, elsewhere, has its whole budget: the wrong keys never counted against it
    statuses = [http.get(ME, headers=auth(token), **at("198.51.100.2")).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    # the attacker's address may still read the public pages (a separate, per-address budget)
    assert http.get("/about.json", **attacker).status_code == 200


def test_an_inactive_clients_key_is_a_refused_key(app, make_app):
    from statsservice.extensions import db
    from statsservice.storage import clients as registry

    hub = make_app(RATELIMIT_AUTH_FAILURES="2 per minute")
    http = hub.test_client()
    with hub.app_context():
        token = new_client("FO retired")
        registry.get_by_name("FO retired").is_active = False
        db.session.commit()
    assert [http.get(ME, headers=auth(token), **at("10.0.2.1")).status_code for _ in range(2)] == [403, 403]
    assert_429(http.get(ME, headers=auth(token), **at("10.0.2.1")), "X-API-KEY")


def test_switched_off_for_benchmarks(app, make_app):
    hub = make_app(
        RATELIMIT_ENABLED=False,
        RATELIMIT_PER_IP="1 per hour",
        RATELIMIT_PER_CLIENT="1 per hour",
        RATELIMIT_AUTH_FAILURES="1 per hour",
    )
    http = hub.test_client()
    with hub.app_context():
        token = new_client("FO bench")
    assert {http.get("/about.json").status_code for _ in range(5)} == {200}
    assert {http.get(ME, headers=auth(token)).status_code for _ in range(5)} == {200}
    assert {http.get(ME, headers=auth("wrong" * 20)).status_code for _ in range(5)} == {403}


def test_an_empty_limit_turns_that_budget_off(app, make_app):
    hub = make_app(RATELIMIT_PER_IP="", RATELIMIT_PER_CLIENT="1 per hour")
    http = hub.test_client()
    with hub.app_context():
        token = new_client("FO empty")
    assert {http.get("/about.json").status_code for _ in range(5)} == {200}
    assert [http.get(ME, headers=auth(token)).status_code for _ in range(2)] == [200, 429]


def test_defaults_fit_a_nightly_upload_and_a_dashboard(app, make_app):
    """A Front Office's night (its me check, five uploads, a dashboard of reads) and a person
    browsing every public page twice stay well inside the default budgets."""
    hub = make_app()
    http = hub.test_client()
    with hub.app_context():
        token = new_client("FO nightly")
    from tests.ops_support import demo_records

    records = demo_records(anrs=30, days=1)
    calls = [http.get(ME, headers=auth(token))]
    for kind in ("risk", "threat", "vulnerability", "cartography", "compliance"):
        batch = [r for r in records if r["type"] == kind]
        calls.append(http.post("/api/v1/stats/", json=batch, headers=auth(token)))
    for _ in range(40):
        calls.append(http.get("/api/v1/stats/?type=risk&get_last=true", headers=auth(token)))
    pages = ["/", "/evolution", "/cartography", "/compliance", "/map", "/about", "/about.json"]
    for _ in range(2):
        for page in pages + [f"/stats/{k}.json" for k in ("threats", "vulnerabilities", "risks")]:
            calls.append(http.get(page))
    assert 429 not in {response.status_code for response in calls}
    assert {response.status_code for response in calls} <= {200, 201}


@pytest.mark.parametrize(
    ("key", "value"),
    [("RATELIMIT_PER_IP", "many per minute"), ("RATELIMIT_PER_CLIENT", "10 per fortnight")],
)
def test_a_bad_limit_fails_at_start_up(make_app, key, value):
    with pytest.raises(ConfigError, match=key):
        make_app(**{key: value})


def test_counters_expire_without_a_thread_per_request(app, make_app):
    """``memory://`` is served by ``SweptMemory``: limits' own memory storage started a Timer thread
    after every request that came 10 ms after the last one (2 ms of a small upload); a window
    still ends on time and its counters are dropped."""
    import threading
    import time
    from datetime import timedelta

    import time_machine

    from statsservice.api.ratelimit import SweptMemory

    hub = make_app(RATELIMIT_PER_IP="2 per 10 seconds")
    http = hub.test_client()
    with hub.app_context():
        (limiter,) = hub.extensions["limiter"]
        storage = limiter.storage
    assert isinstance(storage, SweptMemory)
    threading.Event().wait(0.05)  # the storage's first timer (started by its constructor) has run
    before = {t.ident for t in threading.enumerate()}
    for _ in range(2):
        assert http.get("/about.json", **at("10.0.3.1")).status_code == 200
        threading.Event().wait(0.02)
    assert_429(http.get("/about.json", **at("10.0.3.1")), "remote_addr")
    started = [t for t in threading.enumerate() if t.ident not in before]
    assert not [t for t in started if isinstance(t, threading.Timer)], started
    with time_machine.travel(timedelta(seconds=11)):
        storage._next_sweep = time.monotonic()  # the next hit sweeps (once a second, in real time)
        assert http.get("/about.json", **at("10.0.3.1")).status_code == 200
        assert len(storage.storage) == 1  # the spent window's counter is gone, the new one counted
