"""What `stats_push --dry-run` would send: de-identified, thresholded, sharing clients only."""

from __future__ import annotations

import json
from datetime import date, timedelta

from statsservice.demo.payloads import Generator
from statsservice.storage import clients as registry

DAY = date.today() - timedelta(days=1)


def make_client(name: str, **kwargs):
    client, token = registry.create_client(name, **kwargs)
    return client, token


def upload(http, token, records):
    response = http.post("/api/v1/stats/", json=records, headers={"X-API-KEY": token})
    assert response.status_code == 201, response.get_json()


def dry_run(cli, *extra):
    result = cli.invoke(
        args=["stats_push", "--date-from", DAY.isoformat(), "--date-to", DAY.isoformat(), "--dry-run", *extra]
    )
    assert result.exit_code == 0, result.output
    payloads = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    return result.output, payloads


def seed(app, client, sharing_anrs=4, private_anrs=2):
    gen = Generator(seed=5, anrs=sharing_anrs + private_anrs)
    sharer, sharer_token = make_client("Sharing Org")
    private, private_token = make_client("Private Org", is_sharing_enabled=False)
    upload(client, sharer_token, [r for i in range(sharing_anrs) for r in gen.day_batch(i, DAY)])
    upload(
        client,
        private_token,
        [r for i in range(sharing_anrs, sharing_anrs + private_anrs) for r in gen.day_batch(i, DAY)],
    )
    return gen, [(sharer, sharer_token), (private, private_token)]


def test_dry_run_sends_nothing_identifying(app, client, cli):
    gen, owners = seed(app, client)
    output, payloads = dry_run(cli)
    assert sorted(p["type"] for p in payloads) == sorted(
        ["risk", "threat", "vulnerability", "cartography", "compliance"]
    )
    assert all(p["n"] == 4 for p in payloads)  # the private client's two analyses are not in
    assert all(set(p) == {"anr", "type", "date", "data", "n"} for p in payloads)
    assert all(p["date"] == DAY.isoformat() for p in payloads)
    identifiers = [a["uuid"] for a in gen.anrs]
    for owner, token in owners:
        identifiers += [owner.name, owner.uuid, token]
    stats = client.get("/api/v1/stats/", query_string={"type": "risk"}, headers={"X-API-KEY": owners[0][1]})
    identifiers += [item["uuid"] for item in stats.get_json()["data"]]
    assert [i for i in identifiers if i in output] == []
    # pseudonyms: one per (type, day), stable from run to run
    assert len({p["anr"] for p in payloads}) == 5
    assert {p["anr"] for p in dry_run(cli)[1]} == {p["anr"] for p in payloads}


def test_labels_kept_by_default_and_stripped_on_request(make_app, app, client):
    seed(app, client)
    output, _ = dry_run(app.test_cli_runner())
    assert "Ransomware" in output or "Fire" in output
    stripped_app = make_app(FEDERATION_STRIP_LABELS=True)
    with stripped_app.app_context():  # the CLI runs in the innermost app context
        output, payloads = dry_run(stripped_app.test_cli_runner())
    assert "(fr)" not in output and "category" not in output
    compliance = next(p for p in payloads if p["type"] == "compliance")["data"]
    categories = [cat["label1"] for ref in compliance for cat in ref["current"]]
    assert categories and all(label.startswith("#") for label in categories)


def test_k_threshold_withholds_thin_days(app, client, cli):
    seed(app, client, sharing_anrs=2, private_anrs=1)
    output, payloads = dry_run(cli)
    assert payloads == []
    assert f"withheld risk {DAY}: 2 analyses < 3" in output
    assert "withheld 5" in output


def test_push_needs_a_remote(app, client, cli):
    seed(app, client)
    result = cli.invoke(args=["stats_push"])
    assert result.exit_code != 0
    assert "REMOTE_STATS_SERVER and REMOTE_STATS_TOKEN must be configured" in result.output
    bad = cli.invoke(args=["stats_push", "--date-from", "2026-02-02", "--date-to", "2026-01-01"])
    assert bad.exit_code != 0 and "--date-from is after --date-to" in bad.output
