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
from datetime import UTC, date, datetime, timedelta
from statistics import mean

import pytest
import requests
import time_machine

from statsservice.demo.payloads import Generator
from statsservice.domain.registry import REGISTRY
from statsservice.storage import clients as registry
from statsservice.storage import ledger
from tests import frozen_clock
from tests.dp_support import (
    UPLOAD_DAYS,
    clear_of_bounds,
    contributions,
    median,
    month_days,
    noisy_sums,
    normalised_errors,
    released_keys,
    snapshots,
)
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


# --- with differential privacy on (FEDERATION_DP, issue 25) ------------------------------------
#
# One local hub in DP mode releasing months to a global hub. Every organisation uploads the same
# snapshot twice a month, so between two months nothing moves but who is there: without noise, a
# difference of two releases (or a release minus the colluders' own data) is the victim's part
# exactly. With DP each noisy sum an attacker recovers (a mean × its weight) is off by the noise
# the release documents (``dp.noise``, σ of each sum): the attacks below measure |error| / σ over
# every recovered sum whose exact value is clear of the bounds post-processing clamps to. The
# budget is large (ε 10,000 a year) so that most sums are, even with three organisations, and what
# is measured is the Gaussian, not the clamping; at the default ε 4 the noise is far larger
# (docs/PRIVACY.md), so no attacker does better there.

DP_BUDGET = "10000"
BASE = list(range(10))  # ten organisations in every month but August
NEWCOMER, COLLUDED, LEAVER = (
    10,
    11,
    12,
)  # joins in July; alone with two colluders in August; opts out after September
COLLUDERS = [0, 1]
DP_MONTHS = {
    "2026-06": BASE,
    "2026-07": [*BASE, NEWCOMER],
    "2026-08": [*COLLUDERS, COLLUDED],
    "2026-09": [*BASE, LEAVER],
    "2026-10": [*BASE, LEAVER],
}
#: who each month's release is made of (the leaver opted out before October's)
RELEASED = {**DP_MONTHS, "2026-10": BASE}
#: a difference of two independent draws is N(0, 2σ²): half its errors exceed 0.95 σ; one draw,
#: 0.67 σ; the difference of two averages of two draws, 0.67 σ. The floors are four to five standard
#: errors of the median below those (over 80 to 230 sums), so a test fails only if the noise is smaller
DIFFERENCE_MEDIAN, SINGLE_MEDIAN, AVERAGED_MEDIAN = 0.6, 0.35, 0.45


@dataclass
class DpScene:
    world: LiveHub
    local: LiveHub
    gen: Generator
    tokens: dict[int, tuple[str, str]] = field(default_factory=dict)

    def records(self, org: int, month: str) -> list[dict]:
        year, number = map(int, month.split("-"))
        return snapshots(self.gen, org, month_days([(year, number)]))

    def payloads(self) -> dict[tuple[str, str], dict]:
        """This hub's DP releases as pushed, by (type, month)."""
        with sqlite3.connect(self.local.root / "hub.db", timeout=30) as conn:
            found = conn.execute(
                "SELECT type, date, payload FROM public_release WHERE period = 'month' AND status = 'released'"
            ).fetchall()
        return {(t, d[:7]): json.loads(p) for t, d, p in found}

    def budget(self) -> dict:
        return json.loads(self.local.flask("dp", "budget", "--json", "--year", "2026").stdout)


@pytest.fixture(scope="module")
def dp_scene(tmp_path_factory) -> Iterator[DpScene]:
    world, local, _ = federated_pair(
        tmp_path_factory.mktemp("dp-attacks"), FEDERATION_DP="true", FEDERATION_DP_YEAR_EPSILON=DP_BUDGET
    )
    scene = DpScene(world, local, Generator(seed=25, anrs=13))
    for org in range(13):
        scene.tokens[org] = local.create_client(f"DP Org {org}")
        batch = [r for month, who in DP_MONTHS.items() if org in who for r in scene.records(org, month)]
        upload(local, scene.tokens[org][1], batch)
    # first push: June to September; then the leaver opts out; then October
    first = local.flask("stats_push", "--date-from", "2026-06-01", "--date-to", "2026-09-30")
    assert summary(first.stdout)["failed"] == 0 and summary(first.stdout)["sent"] == 20, first.stdout
    requests.patch(
        f"{local.url}/api/v1/client/me",
        json={"is_sharing_enabled": False},
        headers={"X-API-KEY": scene.tokens[LEAVER][1]},
        timeout=30,
    ).raise_for_status()
    second = local.flask("stats_push", "--date-from", "2026-06-01")
    assert summary(second.stdout)["sent"] == 5, second.stdout
    yield scene
    local.stop()
    world.stop()


def _sums(scene: DpScene, month: str, payloads: dict | None = None) -> dict[tuple, tuple[float, float]]:
    """The noisy sums of a month's releases an attacker recovers, those whose exact value is clear
    of the bounds post-processing keeps (so what is measured is the noise, not a clamp)."""
    out: dict[tuple, tuple[float, float]] = {}
    for (_, found), payload in (payloads or scene.payloads()).items():
        if found == month:
            out.update(noisy_sums(payload))
    everyone = RELEASED[month]
    return clear_of_bounds(out, _truth(scene, everyone, month), len(everyone))


def _truth(scene: DpScene, orgs: list[int], month: str) -> dict[tuple, float]:
    """The organisations' bounded parts of a month's releases, coordinate by coordinate."""
    keys = {t: released_keys(p) for (t, found), p in scene.payloads().items() if found == month}
    total: dict[tuple, float] = {}
    for org in orgs:
        for stats_type, chosen in keys.items():
            for coordinate, value in contributions(stats_type, scene.records(org, month), chosen).items():
                total[coordinate] = total.get(coordinate, 0.0) + value
    return total


def test_dp_releases_are_what_both_faces_show(dp_scene: DpScene):
    """The global hub holds exactly the noisy releases the local hub fixed (no daily cell), says
    which are DP and at what budget, and its public answers equal the local public face's."""
    payloads = dp_scene.payloads()
    assert {month for _, month in payloads} == set(DP_MONTHS) and len(payloads) == 25
    with sqlite3.connect(dp_scene.world.root / "hub.db", timeout=30) as conn:
        held = {
            (t, d[:7]): (n, json.loads(data))
            for t, d, n, data in conn.execute("SELECT type, date, n, data FROM stats")
        }
        declared = conn.execute("SELECT count(*), min(epsilon), max(epsilon) FROM hub_privacy").fetchone()
    assert held.keys() == payloads.keys()
    for key, payload in payloads.items():
        assert held[key] == (payload["n"], REGISTRY[payload["type"]].load(payload["data"])), key
    assert declared == (25, float(DP_BUDGET), float(DP_BUDGET))
    about = requests.get(f"{dp_scene.world.url}/about.json", timeout=30).json()["privacy"]
    assert (about["dp_releases"], about["exact_releases"], about["budgets"][0]["epsilon"]) == (
        25,
        0,
        float(DP_BUDGET),
    )
    window = {"date_from": "2026-06-01", "date_to": "2026-10-31", "processor": "risk_averages_on_date"}
    local, world = (
        requests.get(f"{hub.url}/stats/risks.json", params=window, timeout=30).json()["data"]
        for hub in (dp_scene.local, dp_scene.world)
    )
    assert local and local == world
    local_about = requests.get(f"{dp_scene.local.url}/about.json", timeout=30).json()["privacy"]
    assert local_about["mode"] == "dp" and "contribution is protected at ε = " in local_about["sentence"]


def test_with_dp_a_newcomers_first_release_minus_the_previous_one_is_noise(dp_scene: DpScene):
    before, after = _sums(dp_scene, "2026-06"), _sums(dp_scene, "2026-07")
    common = before.keys() & after.keys()
    exact = {c: v for c, v in _truth(dp_scene, [*BASE, NEWCOMER], "2026-07").items()}
    base = _truth(dp_scene, BASE, "2026-06")
    victim = _truth(dp_scene, [NEWCOMER], "2026-07")
    for c in common:  # without noise the subtraction would give the newcomer's part exactly
        assert exact[c] - base.get(c, 0.0) == pytest.approx(victim.get(c, 0.0), abs=1e-9)
    estimate = {c: after[c][0] - before[c][0] for c in common}
    errors = normalised_errors(estimate, victim, {c: after[c][1] for c in common})
    assert len(errors) >= 150 and median(errors) >= DIFFERENCE_MEDIAN, (len(errors), median(errors))


def test_with_dp_k_minus_one_colluders_subtracting_their_own_data_read_noise(dp_scene: DpScene):
    released = _sums(dp_scene, "2026-08")
    own = _truth(dp_scene, COLLUDERS, "2026-08")
    victim = _truth(dp_scene, [COLLUDED], "2026-08")
    estimate = {c: value - own.get(c, 0.0) for c, (value, _) in released.items()}
    errors = normalised_errors(estimate, victim, {c: sigma for c, (_, sigma) in released.items()})
    assert len(errors) >= 50 and median(errors) >= SINGLE_MEDIAN, (len(errors), median(errors))


def test_with_dp_an_opt_out_between_two_releases_is_noise(dp_scene: DpScene):
    before, after = _sums(dp_scene, "2026-09"), _sums(dp_scene, "2026-10")
    common = before.keys() & after.keys()
    victim = _truth(dp_scene, [LEAVER], "2026-09")
    estimate = {c: before[c][0] - after[c][0] for c in common}
    errors = normalised_errors(estimate, victim, {c: before[c][1] for c in common})
    assert len(errors) >= 150 and median(errors) >= DIFFERENCE_MEDIAN, (len(errors), median(errors))


def test_with_dp_a_hub_that_lost_its_outbox_replans_and_the_ledger_charges_it(dp_scene: DpScene):
    """A lost outbox sends the fixed releases again (nothing drawn, nothing spent); a hub that lost
    its releases too draws again: the ledger charges the new draws, the global hub refuses them
    (it holds those months), and an attacker holding both draws of two months still reads the
    newcomer through noise of σ (two draws averaged: σ/√2 each)."""
    world_before = sorted(global_rows(dp_scene.world))
    spent = dp_scene.budget()
    with sqlite3.connect(dp_scene.local.root / "hub.db", timeout=30) as conn:
        conn.execute("DELETE FROM federation_delivery")
    again = dp_scene.local.flask("stats_push", "--date-from", "2026-06-01")
    assert summary(again.stdout)["failed"] == 0 and "Traceback" not in again.stderr
    assert dp_scene.budget() == spent and sorted(global_rows(dp_scene.world)) == world_before
    first = dp_scene.payloads()
    with sqlite3.connect(dp_scene.local.root / "hub.db", timeout=30) as conn:
        conn.execute("DELETE FROM federation_delivery")
        conn.execute("DELETE FROM public_release WHERE date >= '2026-06-01' AND date < '2026-08-01'")
    replanned = dp_scene.local.flask("stats_push", "--date-from", "2026-06-01", check=False)
    assert replanned.returncode == 1 and "not delivered" in replanned.stderr, (
        replanned.stdout + replanned.stderr
    )
    after = dp_scene.budget()
    assert len(after["releases"]) == len(spent["releases"]) + 10  # June and July, every type: charged again
    assert spent["epsilon_spent"] < after["epsilon_spent"] <= float(DP_BUDGET)
    assert sorted(global_rows(dp_scene.world)) == world_before  # refused: the global hub keeps its months
    second = dp_scene.payloads()

    def averaged(month: str) -> dict[tuple, tuple[float, float]]:
        draws = [_sums(dp_scene, month, found) for found in (first, second)]
        both = draws[0].keys() & draws[1].keys()
        return {c: ((draws[0][c][0] + draws[1][c][0]) / 2, draws[0][c][1]) for c in both}

    june, july = averaged("2026-06"), averaged("2026-07")
    common = june.keys() & july.keys()
    victim = _truth(dp_scene, [NEWCOMER], "2026-07")
    estimate = {c: july[c][0] - june[c][0] for c in common}
    errors = normalised_errors(estimate, victim, {c: july[c][1] for c in common})
    assert len(errors) >= 150 and median(errors) >= AVERAGED_MEDIAN, (len(errors), median(errors))


class ShiftedHub(LiveHub):
    """A live hub on its own clock (``clock_hook``: the offset from the real time it runs at)."""

    def __init__(self, root, config, instant: datetime):
        super().__init__(root, config=config)
        self.offset = instant.timestamp() - time_machine.escape_hatch.time.time()

    @property
    def env(self) -> dict[str, str]:
        env = super().env
        env[frozen_clock.OFFSET_ENV] = repr(self.offset)
        return env


def test_a_year_of_daily_pushes_never_spends_more_than_the_budget(tmp_path, make_app, app):
    """A hub in DP mode at the default budget (ε 4, δ 1e-7) pushing every day of 2026 (clock frozen
    at each day in turn) to a live global hub: the year's twelve months of every type are released
    once, the ledger never goes over 4 on any day, and it ends close to it (the plan spends it)."""
    world = ShiftedHub(tmp_path / "global", {"MODE": "global"}, datetime(2027, 1, 10, tzinfo=UTC)).start()
    try:
        _, hub_token = world.create_client("hub-lu", "--remote")
        local = make_app(
            FEDERATION_DP=True,
            REMOTE_STATS_SERVER=world.url,
            REMOTE_STATS_TOKEN=hub_token,
            FEDERATION_RETRIES=1,
            FEDERATION_BACKOFF=0.05,
        )
        gen = Generator(seed=7, anrs=4)
        with local.app_context():
            tokens = [registry.create_client(f"Year Org {org}")[1] for org in range(4)]
        http = local.test_client()
        day, spent, pushes = date(2026, 1, 1), [], 0
        while day <= date(2027, 1, 3):
            with time_machine.travel(datetime(day.year, day.month, day.day, 6, tzinfo=UTC), tick=False):
                if day.year == 2026 and day.day in UPLOAD_DAYS:
                    for org, token in enumerate(tokens):
                        response = http.post(
                            "/api/v1/stats/", json=snapshots(gen, org, [day]), headers={"X-API-KEY": token}
                        )
                        assert response.status_code == 201, response.get_json()
                with local.app_context():
                    result = local.test_cli_runner().invoke(args=["stats_push"])
                    assert result.exit_code == 0, (day, result.output)
                    pushes += summary(result.output)["sent"] > 0
                    rows = ledger.entries(2026)
                    spent.append(rows[-1].epsilon if rows else 0.0)
            day += timedelta(days=1)
        assert max(spent) <= 4.0 and spent == sorted(spent)
        with local.app_context():
            found = json.loads(
                local.test_cli_runner().invoke(args=["dp", "budget", "--json", "--year", "2026"]).output
            )
        releases = [r for r in found["releases"] if r["mechanism"] == "release"]
        assert len(releases) == 60 and {r["label"] for r in releases} == {
            f"2026-{m:02d}" for m in range(1, 13)
        }
        # the plan spends it all but the share of a selection with nothing to choose (compliance: 3 referentials)
        assert 3.8 < found["epsilon_spent"] <= 4.0 and pushes == 12
        with sqlite3.connect(world.root / "hub.db", timeout=30) as conn:
            assert conn.execute("SELECT count(*) FROM hub_privacy WHERE year = 2026").fetchone() == (60,)
    finally:
        world.stop()


def global_rows(world: LiveHub) -> list[tuple]:
    with sqlite3.connect(world.root / "hub.db", timeout=30) as conn:
        return conn.execute("SELECT type, date, n, data FROM stats").fetchall()
