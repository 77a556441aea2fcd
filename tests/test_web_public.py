"""Public JSON routes: shape and values against the processors, independent checks on the means,
no client identity, caching, and a 400 for every bad parameter."""

from __future__ import annotations

import json
from datetime import date, timedelta
from statistics import mean

import pytest
from flask import current_app
from sqlalchemy import func, select, update

from statsservice.cli.demo import fill
from statsservice.demo.payloads import LEVELS, Generator
from statsservice.domain.registry import PROCESSORS, REGISTRY
from statsservice.domain.release import ReleaseRules, coarsen_weights
from statsservice.extensions import db
from statsservice.storage import clients as registry
from statsservice.storage.models import ROLE_ADMIN, Client, PublicRelease, Stats
from statsservice.storage.processed import run_processor
from statsservice.storage.stats import NewRecord, StatsFilter, upsert_records
from statsservice.web import caching
from statsservice.web.series import KINDS, window
from tests import frozen_clock
from tests.api_support import release

ANALYSES, DAYS = 10, 5  # two analyses for each of the five demo clients


def k() -> int:
    """k of the public routes: the app's configuration (3 organisations)."""
    return ReleaseRules.from_config(current_app.config).min_clients


def normal(value):
    """What a value looks like once it went through JSON."""
    return json.loads(json.dumps(value, default=str))


def expected(kind: str, processor: str, *, days: int = 365, period: str = "day", local_only: bool = False):
    """The whole hub's (released) answer, its weights coarsened as the public routes do."""
    date_from, date_to = window(days)
    selection = StatsFilter(date_from=date_from, date_to=date_to, local_only=local_only)
    answer = run_processor(processor, stats_type=KINDS[kind].type, selection=selection, period=period)
    return normal(coarsen_weights(answer, k()))


@pytest.fixture
def demo_data(app):
    fill(analyses=ANALYSES, days=DAYS)
    release()


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_processor_of_a_route_matches_run_processor(client, demo_data, kind):
    names = [name for name, proc in PROCESSORS.items() if proc.type == KINDS[kind].type]
    assert names, kind
    for name in names:
        for period in ("day", "month"):
            response = client.get(f"/stats/{kind}.json", query_string={"processor": name, "period": period})
            assert response.status_code == 200, response.get_json()
            body = response.get_json()
            date_from, date_to = window(365)
            assert body["type"] == KINDS[kind].type and body["processor"] == name
            assert body["period"] == period and body["local_stats_only"] is False
            assert (body["date_from"], body["date_to"]) == (date_from.isoformat(), date_to.isoformat())
            assert body["data"] == expected(kind, name, period=period)
            assert body["data"], f"{kind}/{name}: nothing computed from the demo data"


def test_default_processors_and_window(client, demo_data):
    for kind, processor in (
        ("threats", "threat_average_on_date"),
        ("vulnerabilities", "vulnerability_average_on_date"),
        ("risks", "risk_averages"),
    ):
        body = client.get(f"/stats/{kind}.json").get_json()
        assert body["processor"] == processor
        assert body["data"] == expected(kind, processor)
    # the last two days are not released yet (FEDERATION_DELAY_DAYS = 2): a four-day window shows two
    four_days = client.get("/stats/threats.json?days=4&period=day").get_json()
    dates = {value["date"] for item in four_days["data"] for value in item["values"]}
    assert dates == {(frozen_clock.today() - timedelta(days=d)).isoformat() for d in (2, 3)}


def test_last_stats_are_the_newest_snapshots(client, app):
    """Independent of the processors: the means of the generator's own numbers on the last day."""
    orgs = 4  # one analysis each: every released cell is backed by at least 3 of them
    generator = Generator(seed=7, anrs=orgs)
    owners = {anr["uuid"]: registry.create_client(f"org {i}")[0].id for i, anr in enumerate(generator.anrs)}
    last = frozen_clock.today() - timedelta(days=3)  # the newest data is older than today
    for day, anr, batch in generator.iter_batches(4, end=last):
        records = [
            NewRecord(
                anr=item["anr"], type=item["type"], date=day, data=REGISTRY[item["type"]].load(item["data"])
            )
            for item in batch
        ]
        upsert_records(owners[anr], records)
    db.session.commit()
    release()
    batches = [generator.day_batch(i, last) for i in range(orgs)]

    risks = client.get("/stats/risks.json?last_stats=1").get_json()
    assert risks["date_from"] == risks["date_to"] == last.isoformat()
    for state in ("current", "residual"):
        for kind in ("informational", "operational"):
            for level in LEVELS:
                values = [
                    next(x["value"] for x in batch[0]["data"]["risks"][state][kind] if x["level"] == level)
                    for batch in batches
                ]
                # one organisation holding over FEDERATION_DOMINANCE of a level's sum suppresses it,
                # and a suppressed level reads 0 (docs/PRIVACY.md); which levels, depends on the data
                dominance = app.config["FEDERATION_DOMINANCE"]
                released = not sum(values) or max(values) / sum(values) <= dominance
                expected = mean(values) if released else 0.0
                assert risks["data"][state][kind][level] == pytest.approx(expected), (state, kind, level)

    threats = client.get("/stats/threats.json?last_stats=1").get_json()["data"]
    by_uuid = {item["object"]: item for item in threats}
    uploaded: dict[str, list[dict]] = {}
    for batch in batches:
        for item in batch[1]["data"]:
            uploaded.setdefault(item["uuid"], []).append(item)
    assert by_uuid and all(len(uploaded[uuid]) >= 3 for uuid in by_uuid)  # k = 3 organisations
    for uuid, items in uploaded.items():
        if uuid not in by_uuid:
            continue  # suppressed: fewer than 3 organisations, or one dominates
        averages = by_uuid[uuid]["averages"]
        # means over the analyses that list the threat (the processor's documented rule)
        assert averages["count"] == pytest.approx(mean(i["count"] for i in items))
        assert averages["maxRisk"] == pytest.approx(mean(i["maxRisk"] for i in items))
        assert averages["averageRate"] == pytest.approx(mean(float(i["averageRate"]) for i in items))
        assert by_uuid[uuid]["labels"]["label1"] == items[0]["label1"]


def test_local_stats_only_leaves_out_other_hubs(client, demo_data):
    remote, _ = registry.create_client("another hub", local=False)
    generator = Generator(seed=99, anrs=1)
    records = [
        NewRecord(
            anr=item["anr"], type=item["type"], date=day, data=REGISTRY[item["type"]].load(item["data"])
        )
        for day, _anr, batch in generator.iter_batches(2)
        for item in batch
    ]
    upsert_records(remote.id, records)  # another hub's aggregates: released by that hub
    db.session.commit()
    everyone = client.get("/stats/risks.json").get_json()
    local = client.get("/stats/risks.json?local_stats_only=1").get_json()
    assert local["local_stats_only"] is True
    assert local["data"] == expected("risks", "risk_averages", local_only=True)
    assert everyone["data"] == expected("risks", "risk_averages")
    assert local["data"] != everyone["data"]


def test_no_client_identity_in_public_output(client, demo_data):
    secrets = set()
    for c in db.session.query(Client):
        secrets |= {c.uuid, c.name, c.token_hash}
    for s in db.session.query(Stats):
        secrets |= {s.uuid, s.anr}
    urls = [f"/stats/{kind}.json" for kind in KINDS] + ["/stats/map.json", "/about.json"]
    urls += [f"/stats/{kind}.json?last_stats=1&period=week" for kind in KINDS]
    for url in urls:
        text = client.get(url).get_data(as_text=True)
        leaked = [secret for secret in secrets if secret and secret in text]
        assert not leaked, f"{url} leaks {leaked[:3]}"


def _store(owner_id: int, batch: list[dict], day: date) -> None:
    records = [
        NewRecord(anr=i["anr"], type=i["type"], date=day, data=REGISTRY[i["type"]].load(i["data"]))
        for i in batch
    ]
    upsert_records(owner_id, records)


def test_map_shows_no_lone_client(client, demo_data):
    """Three demo clients share the Luxembourg area (k = 3): one marker there. Brussels, alone in
    its area, and the client without coordinates are not on the map."""
    body = client.get("/stats/map.json").get_json()
    assert [(m["latitude"], m["longitude"]) for m in body["markers"]] == [(49.6, 6.1)]
    assert body["min_organisations"] == 3 and "organisations" not in body  # at least k, never how many


def test_map_shows_areas_of_k_sharing_clients(client, app):
    """Three sharing clients in one area: one marker with what they release together; a fourth
    that does not share is not counted, and a lone client elsewhere is absent."""
    generator = Generator(seed=3, anrs=5)
    day = date(2026, 3, 2)  # inside the widest window (ten years) for a long time
    places = [(49.611, 6.131), (49.612, 6.132), (49.6149, 6.1349), (49.61, 6.13), (50.85, 4.35)]
    for index, (lat, lon) in enumerate(places):
        owner, _ = registry.create_client(f"org {index}", is_sharing_enabled=index != 3)
        registry.set_coordinates(owner.uuid, lat, lon)
        _store(owner.id, generator.day_batch(index, day), day)
    db.session.commit()
    release()
    (marker,) = client.get("/stats/map.json", query_string={"days": 3660}).get_json()["markers"]
    assert (marker["latitude"], marker["longitude"]) == (49.6, 6.1)
    # independently: the threat with the highest mean maxRisk among those all three list
    threats = [
        next(r for r in generator.day_batch(i, day) if r["type"] == "threat")["data"] for i in range(3)
    ]
    common = set.intersection(*({item["uuid"] for item in data} for data in threats))
    means = {
        uuid: mean(next(i["maxRisk"] for i in data if i["uuid"] == uuid) for data in threats)
        for uuid in common
    }
    # released: one of the threats all three list (one may be suppressed by dominance)
    assert any(marker["threat"]["value"] == pytest.approx(value) for value in means.values())
    assert set(marker) == {"latitude", "longitude", "threat", "vulnerability"}


def test_responses_are_cacheable(client, demo_data):
    caching.forget()  # this worker's reading of the last release may be an earlier test's
    first = client.get("/stats/threats.json?days=30")
    assert first.status_code == 200
    assert "max-age" in first.headers["Cache-Control"] and "public" in first.headers["Cache-Control"]
    etag = first.headers["ETag"]
    again = client.get("/stats/threats.json?days=30", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data
    other = client.get("/stats/threats.json?days=31")
    assert other.headers["ETag"] != etag or other.get_json()["date_from"] == first.get_json()["date_from"]
    about = client.get("/about.json")
    assert client.get("/about.json", headers={"If-None-Match": about.headers["ETag"]}).status_code == 304
    # Last-Modified is the last release: a cache revalidating with the date gets 304 until the next one
    released = db.session.scalar(select(func.max(PublicRelease.released_at)))
    assert first.last_modified.replace(tzinfo=None) == released.replace(microsecond=0)
    since = {"If-Modified-Since": first.headers["Last-Modified"]}
    assert client.get("/stats/threats.json?days=30", headers=since).status_code == 304
    page = client.get("/evolution")
    assert page.status_code == 200 and "public" in page.headers["Cache-Control"]
    assert "Accept-Language" in page.headers["Vary"] and page.headers["Last-Modified"]
    assert client.get("/evolution", headers={"If-None-Match": page.headers["ETag"]}).status_code == 304
    assert client.get("/evolution", headers=since).status_code == 304


BAD = [
    ("/stats/threats.json?days=0", "days"),
    ("/stats/threats.json?days=abc", "days"),
    ("/stats/threats.json?days=99999999999999999999", "days"),
    ("/stats/threats.json?days=1.5", "days"),
    ("/stats/risks.json?processor=no_such_processor", "processor"),
    ("/stats/threats.json?processor=risk_averages", "processor"),
    ("/stats/vulnerabilities.json?processor=threat_average_on_date", "processor"),
    ("/stats/compliance.json?processor=", "processor"),
    ("/stats/risks.json?period=decade", "period"),
    ("/stats/cartography.json?last_stats=maybe", "last_stats"),
    ("/stats/threats.json?local_stats_only=2", "local_stats_only"),
    ("/stats/threats.json?unknown=1", "unknown"),
    ("/stats/threats.json?days=1&days=2", "days"),
    ("/stats/map.json?days=-3", "days"),
    ("/stats/map.json?processor=x", "processor"),
    ("/about.json?x=1", "x"),
    ("/stats/threats.json?date_from=2026-01-01", "date_to"),
    ("/stats/threats.json?date_from=2026-02-01&date_to=2026-01-01", "date_from"),
    ("/stats/risks.json?date_from=2015-01-01&date_to=2026-01-01", "date_from"),
    ("/stats/map.json?date_to=2026-13-01&date_from=2026-01-01", "date_to"),
]


@pytest.mark.parametrize(("url", "field"), BAD)
def test_bad_parameters_are_400_json(client, url, field):
    response = client.get(url)
    assert response.status_code == 400, (url, response.get_data(as_text=True))
    body = response.get_json()
    assert set(body) == {"message", "errors"} and body["message"]
    assert field in body["errors"], body


def test_bad_processor_params_are_400(client, demo_data):
    for query in ("risks_state=nope", "risks_type=physical"):
        response = client.get(f"/stats/risks.json?processor=risk_averages_on_date&{query}")
        assert response.status_code == 400, (query, response.get_data(as_text=True))
        assert set(response.get_json()) == {"message", "errors"}


def test_risk_branches_can_be_chosen(client, demo_data):
    body = client.get(
        "/stats/risks.json?processor=risk_averages_on_date&risks_type=operational&risks_state=residual"
    ).get_json()
    assert list(body["data"]) == ["residual"] and list(body["data"]["residual"]) == ["operational"]


def test_empty_hub_answers_empty_data(client):
    for kind in KINDS:
        response = client.get(f"/stats/{kind}.json")
        assert response.status_code == 200, kind
        assert response.get_json()["data"] == expected(kind, response.get_json()["processor"])
    date_from, date_to = window(365)
    assert client.get("/stats/map.json").get_json() == {
        "metric": "maxRisk",
        "markers": [],
        "min_organisations": 3,
        "date_from": date_from.isoformat(),
        "date_to": date_to.isoformat(),
    }
    body = client.get("/stats/threats.json").get_json()
    assert (body["organisations"], body["analyses"]) == (0, 0)
    assert client.get("/stats/threats.json?last_stats=1").status_code == 200


def test_every_answer_says_how_many_organisations_and_analyses_stand_behind_it(client, demo_data):
    """A chart names what it stands on, coarsened: the demo's 5 organisations and 10 analyses are
    multiples of 5 already; the newest answer is the newest released day."""
    demo_clients = db.session.query(Client).filter(Client.name.like("Demo%")).count()
    assert (demo_clients, ANALYSES) == (5, 10)
    for kind in KINDS:
        body = client.get(f"/stats/{kind}.json").get_json()
        assert (body["organisations"], body["analyses"]) == (demo_clients, ANALYSES), kind
    newest = client.get("/stats/threats.json?last_stats=1").get_json()
    assert newest["date_from"] == newest["date_to"] == (frozen_clock.today() - timedelta(days=2)).isoformat()
    assert newest["analyses"] == ANALYSES


def test_a_custom_range_selects_its_days(client, demo_data):
    """date_from/date_to replace the rolling window, so a permalink shows the same days tomorrow."""
    _start, today = window(1)
    day = (today - timedelta(days=2)).isoformat()  # the newest released day
    body = client.get(
        f"/stats/risks.json?processor=risk_averages_on_date&date_from={day}&date_to={day}"
    ).get_json()
    assert (body["date_from"], body["date_to"]) == (day, day)
    dates = {point["date"] for point in body["data"]["current"]["informational"]["High risks"]}
    assert dates == {day}
    before = (today - timedelta(days=DAYS + 10)).isoformat()
    empty = client.get(f"/stats/threats.json?date_from={before}&date_to={before}").get_json()
    assert empty["data"] == [] and (empty["organisations"], empty["analyses"]) == (0, 0)
    markers = client.get(f"/stats/map.json?date_from={day}&date_to={day}").get_json()
    assert (markers["date_from"], markers["date_to"]) == (day, day)


def test_a_global_hub_counts_the_analyses_behind_its_aggregates(make_app):
    """Aggregates weigh ``n`` analyses each: About and the charts count analyses, not records."""
    app = make_app(MODE="global")
    with app.app_context():
        hub, _token = registry.create_client("hub-a", local=False)
        registry.create_client("an administrator", role=ROLE_ADMIN)  # a client, not a hub behind the data
        generator = Generator(seed=1, anrs=1)
        records = [  # an aggregate has a new pseudonymous analysis every day
            NewRecord(anr=f"agg-{day}", type="risk", date=day, data=REGISTRY["risk"].load(item["data"]))
            for day, _anr, batch in generator.iter_batches(5, end=date(2026, 11, 5))
            for item in batch
            if item["type"] == "risk"
        ]
        upsert_records(hub.id, records)
        db.session.execute(update(Stats).values(n=4))  # as if each aggregate stood for 4 analyses
        db.session.commit()
        client = app.test_client()
        about = client.get("/about.json").get_json()
        # the hubs' released figures as they are; the two registered clients: fewer than k
        assert about["counts"]["records"] == 5 and about["counts"]["analyses"] == 4
        assert (about["counts"]["clients"], about["counts"]["organisations"]) == (None, 1)
        body = client.get("/stats/risks.json?date_from=2026-11-01&date_to=2026-11-30").get_json()
        assert (body["organisations"], body["analyses"]) == (1, 4)
        html = client.get("/about").get_data(as_text=True)
        assert "Analyses behind the aggregates" in html and "Hubs" in html
        assert '<dd data-fact="clients">1</dd>' in html  # one hub, however many clients
