"""The public release (issue 27, SPEC §7), in-process so it runs on SQLite and on PostgreSQL: each
day released once, when final; every public face reads only releases; the release is the push's
payload; demo clients never count beside real ones; an old outbox becomes the release of its day.
The same attacks against live hubs: ``tests/test_privacy_attacks.py``."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from statsservice import create_app
from statsservice.cli.demo import fill
from statsservice.demo.payloads import Generator
from statsservice.domain.deidentify import aggregate_anr
from statsservice.domain.registry import REGISTRY
from statsservice.domain.sums import record_sums
from statsservice.extensions import db
from statsservice.storage import clients as registry
from statsservice.storage.models import PublicRelease, RollupDay, RollupKey
from tests import frozen_clock
from tests.api_support import auth, release

DAY, NEXT = date(2026, 3, 2), date(2026, 3, 3)
KINDS = ("threats", "vulnerabilities", "risks", "compliance", "cartography")
WINDOW = {"date_from": "2026-03-01", "date_to": "2026-03-04"}


def upload(http, token: str, records: list[dict], status: int = 201) -> None:
    response = http.post("/api/v1/stats/", json=records, headers=auth(token))
    assert response.status_code == status, response.get_json()


def scene(http, orgs: int = 4, days: tuple[date, ...] = (DAY,)) -> tuple[Generator, list[str]]:
    """``orgs`` sharing organisations of two analyses each, every day of ``days``."""
    gen = Generator(seed=5, anrs=orgs * 2 + 2)
    tokens = []
    for org in range(orgs):
        _, token = registry.create_client(f"Org {org}")
        upload(
            http, token, [r for i in (2 * org, 2 * org + 1) for day in days for r in gen.day_batch(i, day)]
        )
        tokens.append(token)
    return gen, tokens


def public(http) -> dict[str, str]:
    """Everything an anonymous visitor reads, as text."""
    texts = {}
    for kind in KINDS:
        for params in (WINDOW, {**WINDOW, "period": "month"}, {"last_stats": 1}):
            texts[f"{kind} {params}"] = http.get(f"/stats/{kind}.json", query_string=params).get_data(
                as_text=True
            )
    texts["map"] = http.get("/stats/map.json", query_string=WINDOW).get_data(as_text=True)
    texts["about"] = http.get("/about.json").get_data(as_text=True)
    for page in ("/", "/evolution", "/map", "/about"):
        texts[page] = http.get(page).get_data(as_text=True)
    return texts


def whole_hub(http, token: str) -> str:
    answers = [
        http.get(
            "/api/v1/stats/processed/",
            json={"type": t, "processor": p, **WINDOW},
            headers=auth(token),
        ).get_json()
        for t, p in (("threat", "threat_average_on_date"), ("risk", "risk_averages_on_date"))
    ]
    return json.dumps(answers, sort_keys=True)


def test_nothing_is_public_before_its_release(client):
    scene(client)
    empty = {kind: client.get(f"/stats/{kind}.json", query_string=WINDOW).get_json() for kind in KINDS}
    assert all(body["analyses"] == 0 for body in empty.values())
    assert empty["threats"]["data"] == [] and client.get("/about.json").get_json()["counts"]["records"] == 0
    assert release() == 5  # one release per type of the day
    for kind in KINDS:
        body = client.get(f"/stats/{kind}.json", query_string=WINDOW).get_json()
        assert body["analyses"] == 5 and body["data"] != empty[kind]["data"], kind


def test_polling_around_an_upload_a_deletion_and_an_opt_out_reads_nothing(client):
    """A visitor and a co-tenant read everything before and after an organisation re-collects a
    released day, uploads a day not final yet, deletes an analysis and stops sharing: nothing
    public moves, and the next release leaves the released day as it was."""
    gen, tokens = scene(client)
    release()
    before, answers = public(client), whole_hub(client, tokens[0])
    changed = gen.day_batch(6, DAY)
    for record in changed:
        if record["type"] == "threat":
            for item in record["data"]:
                item["count"] += 50
    upload(client, tokens[3], changed)
    upload(client, tokens[3], gen.day_batch(6, frozen_clock.today()))
    assert client.delete(f"/api/v1/stats/{gen.anrs[7]['uuid']}", headers=auth(tokens[3])).status_code == 204
    patched = client.patch("/api/v1/client/me", json={"is_sharing_enabled": False}, headers=auth(tokens[2]))
    assert patched.status_code == 200
    assert public(client) == before and whole_hub(client, tokens[0]) == answers
    assert release() == 0
    assert public(client) == before and whole_hub(client, tokens[0]) == answers


def test_the_public_sums_are_the_pushed_payload(client, cli):
    """What a global hub computes from the push (the payload exploded with its weight) is what the
    local public face reads: one cell set for both faces."""
    scene(client)
    release()
    dry = cli.invoke(
        args=["stats_push", "--dry-run", "--date-from", DAY.isoformat(), "--date-to", DAY.isoformat()]
    )
    assert dry.exit_code == 0, dry.output
    payloads = [json.loads(line) for line in dry.output.splitlines() if line.startswith("{")]
    assert len(payloads) == 5
    for payload in payloads:
        row = db.session.scalar(select(PublicRelease).where(PublicRelease.type == payload["type"]))
        assert row.payload == payload and payload["anr"] == aggregate_anr(payload["type"], DAY)
        kind = REGISTRY[payload["type"]]
        expected = record_sums(kind, [(kind.load(payload["data"]), float(payload["n"]))])
        stored = {
            (k.k1, k.k2, k.k3, k.k4): (d.n, d.s1, d.s2, d.s3)
            for d, k in db.session.execute(
                select(RollupDay, RollupKey)
                .join(RollupKey, RollupKey.id == RollupDay.key_id)
                .where(RollupKey.type == payload["type"], RollupDay.local.is_(True))
            )
        }
        assert stored == {key: pytest.approx(tuple(acc[1:])) for key, acc in expected.items()}


def test_a_non_sharing_organisation_is_in_no_face(client):
    """Three sharing organisations and one that does not share: the release is the three's."""
    gen, _tokens = scene(client, orgs=3)
    _, private = registry.create_client("Private", is_sharing_enabled=False)
    upload(client, private, gen.day_batch(6, DAY) + gen.day_batch(7, DAY))
    release()
    row = db.session.scalar(select(PublicRelease).where(PublicRelease.type == "risk"))
    assert (row.organisations, row.analyses, row.payload["n"]) == (3, 6, 6)


def test_map_windows_around_a_day_no_area_released_are_the_same(client):
    """Three organisations in one area on DAY; on NEXT only one of them: that day releases nothing,
    so a map ending on NEXT equals a map ending on DAY."""
    gen = Generator(seed=3, anrs=3)
    tokens = []
    for index, place in enumerate(((49.611, 6.131), (49.612, 6.132), (49.6149, 6.1349))):
        owner, token = registry.create_client(f"Mapped {index}")
        registry.set_coordinates(owner.uuid, *place)
        upload(client, token, gen.day_batch(index, DAY))
        tokens.append(token)
    lone = gen.day_batch(0, NEXT)
    for record in lone:
        if record["type"] == "threat":
            for item in record["data"]:
                item["maxRisk"] = 999
    upload(client, tokens[0], lone)
    release()
    ending_next = client.get(
        "/stats/map.json", query_string={"date_from": "2026-03-01", "date_to": "2026-03-03"}
    )
    ending_day = client.get(
        "/stats/map.json", query_string={"date_from": "2026-03-01", "date_to": "2026-03-02"}
    )
    assert (
        ending_next.get_json()["markers"]
        and ending_next.get_json()["markers"] == ending_day.get_json()["markers"]
    )
    assert "organisations" not in ending_next.get_json()


def test_counts_are_coarse_and_pass_k(client):
    """Four organisations and eight analyses read 3 and 5; one more organisation (ten analyses)
    still reads 3 organisations: the count cannot single the newcomer out."""
    scene(client, orgs=4)
    release()
    body = client.get("/stats/risks.json", query_string=WINDOW).get_json()
    assert (body["organisations"], body["analyses"]) == (3, 5)
    about = client.get("/about.json").get_json()["counts"]
    assert (about["organisations"], about["analyses"], about["clients"]) == (3, 5, 3)


def test_demo_clients_never_count_beside_real_ones(client, cli):
    """Two real organisations on a day the demo also fills: the day is withheld (the demo's known
    data would otherwise single them out); demo-only days are public and never pushed."""
    fill(analyses=5, days=5)
    gen = Generator(seed=9, anrs=2)
    two_days_ago = frozen_clock.today() - timedelta(days=2)
    for index in range(2):
        _, token = registry.create_client(f"Real {index}")
        upload(client, token, gen.day_batch(index, two_days_ago))
    release()
    rows = {(r.type, r.date): r for r in db.session.scalars(select(PublicRelease))}
    assert rows[("risk", two_days_ago)].status == "withheld" and not rows[("risk", two_days_ago)].demo
    older = two_days_ago - timedelta(days=1)
    assert rows[("risk", older)].status == "released" and rows[("risk", older)].demo
    dry = cli.invoke(args=["stats_push", "--dry-run"])
    assert "would release 0;" in dry.output, dry.output


def test_a_withdrawn_day_leaves_every_public_face(client, cli):
    scene(client)
    release()
    assert client.get("/stats/risks.json", query_string=WINDOW).get_json()["data"]
    result = cli.invoke(args=["stats_release", "--withdraw", DAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert client.get("/stats/threats.json", query_string=WINDOW).get_json()["data"] == []
    assert release() == 0  # never released again
    assert client.get("/about.json").get_json()["counts"]["records"] == 0


def test_the_outbox_of_an_older_hub_becomes_its_public_release(old_database):
    """A hub that pushed DAY before public releases existed: after the upgrade its public face
    shows exactly the pushed payload (so the push minus the public face is zero for old days too)."""
    old = create_app({"SQLALCHEMY_DATABASE_URI": old_database, "TESTING": True})
    with old.app_context():
        try:
            # the day's uploads with today's code, then the schema taken back to before public
            # releases (today's uploads write columns revision 0011 lacks)
            upgrade()
            http = old.test_client()
            scene(http)
            db.session.remove()
            downgrade(revision="0011")
            payload = {"anr": aggregate_anr("risk", DAY), "type": "risk", "date": DAY.isoformat(), "n": 8}
            payload["data"] = {
                "risks": {"current": {"informational": [{"level": "High risks", "value": 2.5}]}}
            }
            db.session.execute(
                text(
                    "INSERT INTO federation_delivery (type, date, digest, analyses, status, payload) "
                    "VALUES ('risk', :day, 'x', 8, 'delivered', :payload)"
                ),
                {"day": DAY, "payload": json.dumps(payload)},
            )
            db.session.commit()
            upgrade()
            assert release() == 4  # the other four types of the day; risk was released by the push
            risks = http.get("/stats/risks.json", query_string=WINDOW).get_json()["data"]
            assert risks["current"]["informational"]["High risks"] == pytest.approx(2.5)
            row = db.session.scalar(select(PublicRelease).where(PublicRelease.type == "risk"))
            assert (row.organisations, row.payload) == (4, payload)
        finally:
            db.session.remove()
            db.engine.dispose()
