"""What `stats_push --dry-run` would release: de-identified, sharing clients only, and only cells
backed by k organisations that none of them dominates (SPEC §7, docs/PRIVACY.md)."""

from __future__ import annotations

import json
from datetime import date

from statsservice.demo.payloads import Generator
from statsservice.domain.deidentify import aggregate_anr
from statsservice.storage import clients as registry

DAY = date(2026, 3, 2)
CUSTOM = "9d3c1f55-0000-4000-8000-00000000c0de"


def make_client(name: str, **kwargs):
    return registry.create_client(name, **kwargs)


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


def seed(client, sharing_orgs=4, per_org=2, private_anrs=2):
    """``sharing_orgs`` organisations of ``per_org`` analyses each, and one that does not share."""
    gen = Generator(seed=5, anrs=sharing_orgs * per_org + private_anrs)
    owners = []
    for org in range(sharing_orgs):
        owner, token = make_client(f"Sharing Org {org}")
        upload(
            client,
            token,
            [r for i in range(org * per_org, (org + 1) * per_org) for r in gen.day_batch(i, DAY)],
        )
        owners.append((owner, token))
    private, private_token = make_client("Private Org", is_sharing_enabled=False)
    first = sharing_orgs * per_org
    if private_anrs:
        batch = [r for i in range(first, first + private_anrs) for r in gen.day_batch(i, DAY)]
        upload(client, private_token, batch)
    return gen, [*owners, (private, private_token)]


def test_dry_run_sends_nothing_identifying(app, client, cli):
    gen, owners = seed(client)
    output, payloads = dry_run(cli)
    assert sorted(p["type"] for p in payloads) == sorted(
        ["risk", "threat", "vulnerability", "cartography", "compliance"]
    )
    assert all(p["n"] == 8 for p in payloads)  # the private client's two analyses are not in
    assert all(set(p) == {"anr", "type", "date", "data", "n"} for p in payloads)
    assert all(p["date"] == DAY.isoformat() for p in payloads)
    identifiers = [a["uuid"] for a in gen.anrs]
    for owner, token in owners:
        identifiers += [owner.name, owner.uuid, token]
    stats = client.get("/api/v1/stats/", query_string={"type": "risk"}, headers={"X-API-KEY": owners[0][1]})
    identifiers += [item["uuid"] for item in stats.get_json()["data"]]
    assert [i for i in identifiers if i in output] == []
    # the name of an aggregate is its (type, day): no secret, the same after a reinstall
    assert {p["anr"] for p in payloads} == {aggregate_anr(p["type"], DAY) for p in payloads}


def test_every_released_element_has_k_organisations(app, client, cli):
    gen, _owners = seed(client)
    _, payloads = dry_run(cli)
    threats = next(p for p in payloads if p["type"] == "threat")["data"]
    assert threats
    holders: dict[str, set[int]] = {}
    for org in range(4):
        for index in (2 * org, 2 * org + 1):
            record = next(r for r in gen.day_batch(index, DAY) if r["type"] == "threat")
            for item in record["data"]:
                holders.setdefault(item["uuid"], set()).add(org)
    assert all(len(holders[item["uuid"]]) >= 3 for item in threats)
    assert all(item["n"] >= 3 for item in threats)
    released = {item["uuid"] for item in threats}
    assert {u for u, orgs in holders.items() if len(orgs) < 3} & released == set()


def test_a_lone_custom_object_never_leaves(app, client, cli):
    gen, owners = seed(client)
    record = next(r for r in gen.day_batch(0, DAY) if r["type"] == "threat")
    secret = "Insider leak via J. Dupont (CFO, ACME Bank Luxembourg)"
    record["data"].append(
        {"uuid": CUSTOM, "label1": secret, "count": 1, "maxRisk": 144, "averageRate": "3.00"}
    )
    upload(client, owners[0][1], [record])
    output, _ = dry_run(cli)
    assert CUSTOM not in output and "Dupont" not in output


def test_one_organisation_is_withheld_whatever_its_analyses(app, client, cli):
    seed(client, sharing_orgs=1, per_org=6, private_anrs=3)
    output, payloads = dry_run(cli)
    assert payloads == []
    assert f"withheld risk {DAY}: 1 organisation, 6 analyses" in output
    assert "withheld 5" in output


def test_a_dominated_cell_is_suppressed(app, client, cli):
    gen, owners = seed(client, sharing_orgs=3, per_org=1, private_anrs=0)
    record = next(r for r in gen.day_batch(0, DAY) if r["type"] == "threat")
    for item in record["data"]:
        item["count"] = 10**6  # one organisation holds nearly all of every count
    upload(client, owners[0][1], [record])
    output, payloads = dry_run(cli)
    assert "suppressed_dominance 0" not in output
    threats = next((p for p in payloads if p["type"] == "threat"), {"data": []})["data"]
    assert all(item["count"] < 10**6 / 3 for item in threats)


def test_labels_kept_by_default_and_stripped_on_request(make_app, app, client):
    seed(client)
    output, _ = dry_run(app.test_cli_runner())
    assert "Ransomware" in output or "Fire" in output
    stripped_app = make_app(FEDERATION_STRIP_LABELS=True)
    with stripped_app.app_context():  # the CLI runs in the innermost app context
        output, payloads = dry_run(stripped_app.test_cli_runner())
    assert "(fr)" not in output and "category" not in output and "#" not in output
    assert "compliance" not in {p["type"] for p in payloads}  # keyed by free text: not sent
    threats = next(p for p in payloads if p["type"] == "threat")["data"]
    assert threats and all(item["label1"] == "" for item in threats)


def test_push_needs_a_remote(app, client, cli):
    seed(client)
    result = cli.invoke(args=["stats_push", "--date-from", DAY.isoformat()])
    assert result.exit_code != 0
    assert "REMOTE_STATS_SERVER and REMOTE_STATS_TOKEN must be configured" in result.output
    bad = cli.invoke(args=["stats_push", "--date-from", "2026-02-02", "--date-to", "2026-01-01"])
    assert bad.exit_code != 0 and "--date-from is after --date-to" in bad.output
