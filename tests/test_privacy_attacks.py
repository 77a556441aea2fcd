"""The attacks of issue 12, run against two live hubs (a local hub releasing to a global hub,
loopback, separate databases), each finding nothing (docs/PRIVACY.md).

One scenario, built once: four sharing organisations and one that does not share, on pinned
days; the first push releases them. Each test is one attacker; the ones that change the local
hub (opt-out, deletion, a lost key) come last and check that nothing already released moves.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from statistics import mean

import pytest
import requests

from statsservice.demo.payloads import Generator
from tests import frozen_clock
from tests.federation_support import processed, summary, upload
from tests.live import LiveHub, federated_pair

DAYS = [date(2026, 4, 6), date(2026, 4, 7)]
LONE_DAY = date(2026, 4, 8)  # one organisation, six analyses
PLANTED_DAY = date(2026, 4, 9)  # a victim's lone analysis and two empty ones planted by a co-tenant
ORGS = {"Org-A": [0, 1], "Org-B": [2], "Org-C": [3], "Org-D": [4, 5], "Private-E": [6]}
CUSTOM = "9d3c1f55-0000-4000-8000-00000000c0de"
SECRET_TEXT = "Insider leak via J. Dupont (CFO, ACME Bank Luxembourg)"
RENAMED = "Renamed (vendor X is incompetent, call 555-0100)"
# three organisations in one 0.1° area, one alone in another; the private one in the first area
SITES = {
    "Org-A": (49.611, 6.131),
    "Org-B": (49.612, 6.132),
    "Org-C": (49.6149, 6.1349),
    "Org-D": (50.85, 4.35),
    "Private-E": (49.61, 6.13),
}
PUBLIC = ("threats", "vulnerabilities", "risks", "compliance", "cartography")
WIDE = {"days": 3660}  # the pinned days are inside any window up to ten years


@dataclass
class Scene:
    world: LiveHub
    local: LiveHub
    hub_token: str
    admin: str
    gen: Generator
    clients: dict[str, tuple[str, str]] = field(default_factory=dict)

    def global_rows(self, query: str) -> list[tuple]:
        with sqlite3.connect(self.world.root / "hub.db", timeout=30) as conn:
            return conn.execute(query).fetchall()

    def global_dump(self) -> str:
        with sqlite3.connect(self.world.root / "hub.db", timeout=30) as conn:
            tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return "\n".join(
                str(value)
                for table in tables
                for row in conn.execute(f'SELECT * FROM "{table}"')
                for value in row
            )

    def released(self) -> list[tuple]:
        return sorted(self.global_rows("SELECT type, date, n, data FROM stats"))


def _threats(gen: Generator, index: int) -> dict[str, str]:
    record = next(r for r in gen.day_batch(index, DAYS[0]) if r["type"] == "threat")
    return {item["uuid"]: item["label1"] for item in record["data"]}


def _renamed(gen: Generator) -> tuple[str, str]:
    """A threat Org-A (analysis 0) and Org-B (analysis 2) both list: (uuid, its real label1)."""
    shared = sorted(set(_threats(gen, 0)) & set(_threats(gen, 2)))
    return shared[0], _threats(gen, 2)[shared[0]]


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Iterator[Scene]:
    world, local, hub_token = federated_pair(tmp_path_factory.mktemp("attacks"))
    _, admin = local.create_client("local-admin", "--role", "admin")
    gen = Generator(seed=21, anrs=10)
    scene = Scene(world, local, hub_token, admin, gen)
    for name, indexes in ORGS.items():
        scene.clients[name] = local.create_client(name)
        lat, lon = SITES[name]
        local.flask(
            "client_coordinates_set",
            "--uuid",
            scene.clients[name][0],
            "--latitude",
            str(lat),
            "--longitude",
            str(lon),
        )
        batch = [rec for i in indexes for day in DAYS for rec in gen.day_batch(i, day)]
        for record in batch:
            if record["type"] == "threat" and name == "Org-A":
                record["data"].append(
                    {"uuid": CUSTOM, "label1": SECRET_TEXT, "count": 1, "maxRisk": 144, "averageRate": "3.00"}
                )
                for item in record["data"]:
                    if item["uuid"] == _renamed(gen)[0]:
                        item["label1"] = RENAMED
        upload(local, scene.clients[name][1], batch)
    local.flask("client_sharing_deactivate", "--uuid", scene.clients["Private-E"][0])
    # one organisation, many analyses
    upload(
        local, scene.clients["Org-D"][1], [rec for i in (4, 5, 7, 8, 9) for rec in gen.day_batch(i, LONE_DAY)]
    )
    # a victim's lone analysis, and two empty analyses a co-tenant plants beside it
    upload(local, scene.clients["Org-B"][1], gen.day_batch(2, PLANTED_DAY))
    empty = [
        {"anr": gen.anrs[i]["uuid"], "type": "threat", "date": PLANTED_DAY.isoformat(), "data": []}
        for i in (0, 1)
    ]
    empty += [
        {"anr": gen.anrs[i]["uuid"], "type": "risk", "date": PLANTED_DAY.isoformat(), "data": {"risks": {}}}
        for i in (0, 1)
    ]
    upload(local, scene.clients["Org-A"][1], empty)
    first = local.flask("stats_push", "--date-from", DAYS[0].isoformat())
    assert summary(first.stdout)["failed"] == 0 and summary(first.stdout)["sent"] > 0
    yield scene
    local.stop()
    world.stop()


def public_texts(hub: LiveHub) -> dict[str, str]:
    urls = [f"/stats/{kind}.json" for kind in PUBLIC] + ["/stats/map.json", "/about.json"]
    texts = {url: requests.get(f"{hub.url}{url}", params=WIDE, timeout=30).text for url in urls[:-1]}
    texts["/about.json"] = requests.get(f"{hub.url}/about.json", timeout=30).text
    for page in ("/", "/evolution", "/map"):
        texts[page] = requests.get(f"{hub.url}{page}", timeout=30).text
    return texts


def test_a_lone_custom_object_is_nowhere(scene: Scene):
    """A custom threat only one organisation has, with free text: not on the global hub, not on
    any public route of either hub, not in whole-hub answers."""
    assert CUSTOM not in scene.global_dump() and "Dupont" not in scene.global_dump()
    for hub in (scene.local, scene.world):
        for url, text in public_texts(hub).items():
            assert CUSTOM not in text and "Dupont" not in text, (hub.url, url)
    _, user = scene.clients["Org-B"]
    window = {"date_from": DAYS[0].isoformat(), "date_to": DAYS[-1].isoformat()}
    whole = processed(scene.local, user, type="threat", processor="threat_average_on_date", **window)
    assert CUSTOM not in {item["object"] for item in whole}
    world = processed(
        scene.world, scene.hub_token, type="threat", processor="threat_average_on_date", **window
    )
    assert world and CUSTOM not in {item["object"] for item in world}


def test_every_released_element_is_backed_by_k_organisations(scene: Scene):
    holders: dict[tuple[str, str, str], set[str]] = {}
    for name, indexes in ORGS.items():
        if name == "Private-E":
            continue
        for i in indexes:
            for day in DAYS:
                for record in scene.gen.day_batch(i, day):
                    if record["type"] in ("threat", "vulnerability"):
                        for item in record["data"]:
                            holders.setdefault((record["type"], day.isoformat(), item["uuid"]), set()).add(
                                name
                            )
    checked = 0
    for stats_type, day, n, data in scene.released():
        assert n >= 3
        if stats_type in ("threat", "vulnerability"):
            for item in json.loads(data):
                assert len(holders[(stats_type, day, item["uuid"])]) >= 3, item["uuid"]
                assert item["n"] >= 3
                checked += 1
    assert checked > 0


def test_one_organisation_or_planted_analyses_release_nothing(scene: Scene):
    days = {row[0] for row in scene.global_rows("SELECT DISTINCT date FROM stats")}
    assert days == {d.isoformat() for d in DAYS}
    assert LONE_DAY.isoformat() not in days and PLANTED_DAY.isoformat() not in days


def test_the_map_publishes_no_lone_client(scene: Scene):
    markers = requests.get(f"{scene.local.url}/stats/map.json", params=WIDE, timeout=30).json()["markers"]
    assert [(m["latitude"], m["longitude"]) for m in markers] == [(49.6, 6.1)]  # A, B, C: not D alone


def test_a_label_stays_with_its_client(scene: Scene):
    fire, real = _renamed(scene.gen)
    window = {"date_from": DAYS[0].isoformat(), "date_to": DAYS[-1].isoformat()}
    others = [scene.gen.anrs[2]["uuid"]]  # Org-B's own analysis
    mine = processed(
        scene.local,
        scene.clients["Org-B"][1],
        type="threat",
        processor="threat_average_on_date",
        anrs=others,
        **window,
    )
    theirs = processed(
        scene.local,
        scene.clients["Org-A"][1],
        type="threat",
        processor="threat_average_on_date",
        anrs=[scene.gen.anrs[0]["uuid"]],
        **window,
    )
    labels_b = {item["object"]: item["labels"]["label1"] for item in mine}
    labels_a = {item["object"]: item["labels"]["label1"] for item in theirs}
    assert labels_b[fire] == real  # another client's answer: its own label, not the renamer's
    assert labels_a.get(fire) == RENAMED  # its author still sees its own label
    assert "555-0100" not in scene.global_dump()
    for hub in (scene.local, scene.world):
        for url, text in public_texts(hub).items():
            assert "555-0100" not in text, (hub.url, url)
    public = requests.get(f"{scene.local.url}/stats/threats.json", params=WIDE, timeout=30).json()["data"]
    assert public and all(item["labels"]["label1"] != RENAMED for item in public)


def test_the_global_hub_refuses_weights_out_of_bounds(scene: Scene):
    record = {"anr": "00000000-0000-4000-8000-000000000001", "type": "risk", "date": "2026-04-20"}
    data = {"risks": {"current": {"informational": [{"level": "High risks", "value": 1}]}}}
    for n in (10**9, 1):
        response = requests.post(
            f"{scene.world.url}/api/v1/stats/",
            json=[{**record, "data": data, "n": n}],
            headers={"X-API-KEY": scene.hub_token},
            timeout=30,
        )
        assert response.status_code == 422, response.text
        assert "0.n" in response.json()["errors"]
    lone = [{"uuid": CUSTOM, "count": 1, "maxRisk": 144, "averageRate": 3, "n": 1}]
    response = requests.post(
        f"{scene.world.url}/api/v1/stats/",
        json=[{**record, "type": "threat", "data": lone, "n": 5}],
        headers={"X-API-KEY": scene.hub_token},
        timeout=30,
    )
    assert response.status_code == 422 and "0.data.0.n" in response.json()["errors"], response.text
    # a replay of an older push cannot roll a released day back
    held = scene.global_rows("SELECT type, date, n FROM stats WHERE type = 'risk' ORDER BY date")[0]
    replay = {"anr": record["anr"], "type": "risk", "date": held[1], "data": data, "n": held[2]}
    response = requests.post(
        f"{scene.world.url}/api/v1/stats/", json=[replay], headers={"X-API-KEY": scene.hub_token}, timeout=30
    )
    assert response.status_code == 422, response.text


#: every released day of the scene, and the days around them (a fixed window: today moves nothing)
SCENE_WINDOW = {"date_from": DAYS[0].isoformat(), "date_to": PLANTED_DAY.isoformat()}
WHOLE_HUB = [
    ("threat", "threat_average_on_date"),
    ("vulnerability", "vulnerability_average_on_date"),
    ("risk", "risk_averages_on_date"),
    ("cartography", "cartography_heatmap"),
    ("compliance", "compliance_averages_on_date"),
]


def everything_public(scene: Scene) -> dict[str, str]:
    """What a visitor and a co-tenant can read: every public route and page, and whole-hub answers."""
    texts = public_texts(scene.local)
    for kind in PUBLIC:
        url = f"{scene.local.url}/stats/{kind}.json"
        texts[f"{kind} window"] = requests.get(url, params=SCENE_WINDOW, timeout=30).text
    _, user = scene.clients["Org-B"]
    for stats_type, name in WHOLE_HUB:
        answer = processed(scene.local, user, type=stats_type, processor=name, **SCENE_WINDOW)
        texts[f"processed {name}"] = json.dumps(answer, sort_keys=True)
    return texts


def public_data(hub: LiveHub, kind: str, **params: str) -> object:
    return requests.get(f"{hub.url}/stats/{kind}.json", params={**SCENE_WINDOW, **params}, timeout=30).json()[
        "data"
    ]


def test_polling_one_day_around_an_upload_and_a_deletion_reads_nothing(scene: Scene):
    """A visitor reads everything public before and after an organisation re-collects a released
    day with other values, uploads today's snapshot (not final yet) and deletes an analysis:
    nothing moves, byte for byte, so there is nothing to subtract; the next release changes none
    of the released days either."""
    before = everything_public(scene)
    _, token = scene.clients["Org-D"]
    recollected = scene.gen.day_batch(4, DAYS[1])
    for record in recollected:
        if record["type"] in ("threat", "vulnerability"):
            for item in record["data"]:
                item["count"] = item["count"] * 3 + 7
    upload(scene.local, token, recollected)
    upload(scene.local, token, scene.gen.day_batch(4, frozen_clock.today()))
    assert everything_public(scene) == before
    deleted = requests.delete(
        f"{scene.local.url}/api/v1/stats/{scene.gen.anrs[5]['uuid']}",
        headers={"X-API-KEY": token},
        timeout=30,
    )
    assert deleted.status_code == 204
    assert everything_public(scene) == before
    scene.local.flask("stats_release")
    assert everything_public(scene) == before


def test_the_push_minus_the_local_public_face_is_zero(scene: Scene):
    """The global hub holds this hub's push only: its public answers and the local hub's agree on
    every released value (the same cells of the same organisations), so their difference is no
    organisation; the one that does not share (Private-E) is in neither."""
    for kind in PUBLIC:
        local, world = public_data(scene.local, kind), public_data(scene.world, kind)
        assert local and world == local, kind
    risks = public_data(scene.local, "risks", processor="risk_averages_on_date")
    sharing = [i for name, indexes in ORGS.items() if name != "Private-E" for i in indexes]
    compared = 0
    for state, kinds in risks.items():
        for kind, levels in kinds.items():
            for level, points in levels.items():
                for point in points:
                    day = date.fromisoformat(point["date"])
                    values = [_risk_value(scene.gen, i, day, state, kind, level) for i in sharing]
                    everyone = values + [
                        _risk_value(scene.gen, i, day, state, kind, level) for i in ORGS["Private-E"]
                    ]
                    if point["value"] and mean(values) != mean(everyone):
                        assert point["value"] == pytest.approx(mean(values)), (state, kind, level, day)
                        compared += 1
    assert compared > 0


def _risk_value(gen: Generator, index: int, day: date, state: str, kind: str, level: str) -> float:
    data = next(r["data"] for r in gen.day_batch(index, day) if r["type"] == "risk")
    return float(next((x["value"] for x in data["risks"][state][kind] if x["level"] == level), 0))


def test_two_map_windows_around_a_lone_day_read_nothing(scene: Scene):
    """On PLANTED_DAY only Org-B (and Org-A's planted empty analyses) uploaded in the Luxembourg
    area: two organisations, below k. The map of a window ending that day and of one ending the day
    before are the same: the map sums released area cells, never the organisations' own days. And
    no area says how many organisations it holds."""
    ending = {"date_from": DAYS[0].isoformat(), "date_to": PLANTED_DAY.isoformat()}
    before = {"date_from": DAYS[0].isoformat(), "date_to": LONE_DAY.isoformat()}
    with_day = requests.get(f"{scene.local.url}/stats/map.json", params=ending, timeout=30).json()
    without = requests.get(f"{scene.local.url}/stats/map.json", params=before, timeout=30).json()
    assert with_day["markers"] and with_day["markers"] == without["markers"]
    assert with_day["min_organisations"] == 3 and "organisations" not in with_day


def test_counts_are_coarse_and_pass_k(scene: Scene):
    """Four sharing organisations and six analyses stand behind the released days: every public
    count says 3 and 5 (rounded down, never below k), so a fourth organisation or a sixth
    analysis cannot be told apart from the third or the fifth."""
    about = requests.get(f"{scene.local.url}/about.json", timeout=30).json()["counts"]
    assert (about["organisations"], about["analyses"]) == (3, 5)
    for kind in PUBLIC:
        body = requests.get(f"{scene.local.url}/stats/{kind}.json", params=SCENE_WINDOW, timeout=30).json()
        assert (body["organisations"], body["analyses"]) == (3, 5), kind


def test_subtraction_after_opt_out_deletion_and_recollection_recovers_nothing(scene: Scene):
    before = scene.released()
    local = scene.local
    requests.patch(
        f"{local.url}/api/v1/client/me",
        json={"is_sharing_enabled": False},
        headers={"X-API-KEY": scene.clients["Org-B"][1]},
        timeout=30,
    ).raise_for_status()
    local.flask("client_delete", "--uuid", scene.clients["Org-C"][0], "--yes")
    recollected = scene.gen.day_batch(0, DAYS[0])
    recollected[1]["data"][0]["count"] = 77
    upload(local, scene.clients["Org-A"][1], recollected)
    again = local.flask("stats_push", "--date-from", DAYS[0].isoformat())
    assert summary(again.stdout)["sent"] == 0
    assert scene.released() == before  # nothing to subtract: the released days did not move
    for kind in PUBLIC:  # and on the local public face neither: both faces still agree
        assert public_data(scene.world, kind) == public_data(scene.local, kind), kind


def test_losing_the_hub_state_does_not_double_anything(scene: Scene):
    """A reinstalled local hub (no key, no outbox) pushing the same days again: one aggregate per
    (hub, type, day) stays on the global hub, unchanged."""
    before = scene.released()
    key = scene.local.root / "instance" / "federation_key"
    key.unlink(missing_ok=True)
    with sqlite3.connect(scene.local.root / "hub.db", timeout=30) as conn:
        conn.execute("DELETE FROM federation_delivery")
    again = scene.local.flask("stats_push", "--date-from", DAYS[0].isoformat(), check=False)
    assert "Traceback" not in again.stderr
    assert scene.released() == before
    keys = scene.global_rows("SELECT client_id, type, date, count(*) FROM stats GROUP BY 1, 2, 3")
    assert keys and all(row[3] == 1 for row in keys)


def test_with_differential_privacy_a_newcomer_is_read_only_through_noise(tmp_path):
    """Two releases a day apart, the same three organisations and a newcomer on the second: with
    exact means ``n × mean`` after minus before is the newcomer's record; with
    ``FEDERATION_DP_EPSILON`` it is off by noise (tests/test_federation_dp.py measures how much
    over many draws), and the noisy days are released once like any other."""
    world, local, _ = federated_pair(tmp_path, FEDERATION_DP_EPSILON="100")
    try:
        gen = Generator(seed=11, anrs=4)
        before, after = DAYS
        for org in range(4):
            _, token = local.create_client(f"DP Org {org}")
            batch = gen.day_batch(org, before)
            again = json.loads(json.dumps(batch).replace(before.isoformat(), after.isoformat()))
            upload(local, token, again if org == 3 else batch + again)  # org 3 joins on the second day
        pushed = local.flask("stats_push", "--date-from", before.isoformat())
        report = summary(pushed.stdout)
        assert report["failed"] == 0 and report["sent"] == report["released"] > 0
        assert "differential privacy: ε 100 per (type, day) release" in pushed.stdout
        with sqlite3.connect(world.root / "hub.db", timeout=30) as conn:
            rows = conn.execute(
                "SELECT date, n, data FROM stats WHERE type = 'risk' ORDER BY date"
            ).fetchall()
        assert [row[0] for row in rows] == [before.isoformat(), after.isoformat()]
        assert all(isinstance(row[1], int) and row[1] >= 3 for row in rows)
        sums = [
            {
                (state, kind, entry["level"]): entry["value"] * n
                for state, kinds in json.loads(data)["risks"].items()
                for kind, levels in kinds.items()
                for entry in levels
            }
            for _, n, data in rows
        ]
        victim = next(r["data"] for r in gen.day_batch(3, before) if r["type"] == "risk")
        truth = {
            (state, kind, entry["level"]): float(entry["value"])
            for state, kinds in victim["risks"].items()
            for kind, levels in kinds.items()
            for entry in levels
        }
        errors = [sums[1][key] - sums[0].get(key, 0.0) - truth.get(key, 0.0) for key in sums[1]]
        assert errors and max(abs(e) for e in errors) > 1.0  # exact means give 0 on every level
        window = {
            "date_from": before.isoformat(),
            "date_to": after.isoformat(),
            "processor": "risk_averages_on_date",
        }
        local_public, world_public = (
            requests.get(f"{hub.url}/stats/risks.json", params=window, timeout=30).json()["data"]
            for hub in (local, world)
        )
        assert local_public and local_public == world_public  # the local public face shows the noisy release
        stored = sorted(global_rows(world))
        again = local.flask("stats_push", "--date-from", before.isoformat())
        assert summary(again.stdout)["sent"] == 0
        assert sorted(global_rows(world)) == stored  # released once, with the noise it was sent with
    finally:
        local.stop()
        world.stop()


def global_rows(world: LiveHub) -> list[tuple]:
    with sqlite3.connect(world.root / "hub.db", timeout=30) as conn:
        return conn.execute("SELECT type, date, n, data FROM stats").fetchall()
