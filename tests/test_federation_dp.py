"""Differential-privacy mode (``FEDERATION_DP``, docs/PRIVACY.md), in process on the test database
(SQLite, or PostgreSQL with ``TEST_DATABASE_URL``): a few periodic releases instead of days, one
budget per organisation and year accounted by OpenDP over the ledger, refusals, the ledger command,
the about sentence, the expected error of a dry run, and a global hub taking DP releases beside
exact ones. Noise is OpenDP's (no seed): statistical assertions are over many draws, with bounds
several standard errors away from what the draws give."""

from __future__ import annotations

import json
import math
import statistics
from datetime import date

import pytest
from sqlalchemy import delete, func, select

from statsservice.api.v1.schemas import HubLimits, StatsRecordSchema
from statsservice.config import ConfigError
from statsservice.demo.payloads import Generator
from statsservice.domain.federation import indicators
from statsservice.domain.federation.aggregates import Outgoing, build
from statsservice.domain.federation.privacy import (
    DpSettings,
    Plan,
    epsilon_of,
    periods,
    periods_in_year,
)
from statsservice.domain.registry import REGISTRY, TYPE_NAMES
from statsservice.domain.release import ReleaseRules
from statsservice.extensions import db
from statsservice.storage import clients as registry
from statsservice.storage import ledger
from statsservice.storage import release as store
from statsservice.storage.models import DpLedger, FederationDelivery, HubPrivacy, PublicRelease
from tests.dp_support import month_days, snapshots

MONTHS = [(2026, 9), (2026, 10)]
SEPTEMBER, OCTOBER = date(2026, 9, 1), date(2026, 10, 1)
ORGS = 5
#: the months of the scene, as a fixed window (today moves nothing)
WINDOW = {"date_from": "2026-09-01", "date_to": "2026-10-31"}


def upload(http, token: str, records: list[dict], status: int = 201):
    response = http.post("/api/v1/stats/", json=records, headers={"X-API-KEY": token})
    assert response.status_code == status, response.get_json()
    return response


def population(http, orgs: int = ORGS, months=MONTHS, seed: int = 3) -> Generator:
    """``orgs`` organisations of one analysis each, the same snapshot twice a month."""
    gen = Generator(seed=seed, anrs=orgs)
    for org in range(orgs):
        _, token = registry.create_client(f"Org {org}")
        upload(http, token, snapshots(gen, org, month_days(months)))
    return gen


def invoke(app, *args: str):
    with app.app_context():  # the CLI runs in the innermost app context
        return app.test_cli_runner().invoke(args=list(args))


def rows(**where) -> list[PublicRelease]:
    query = select(PublicRelease).order_by(PublicRelease.date, PublicRelease.type)
    for name, value in where.items():
        query = query.where(getattr(PublicRelease, name) == value)
    return list(db.session.scalars(query))


def budget_json(app, year: str = "2026") -> dict:
    result = invoke(app, "dp", "budget", "--json", "--year", year)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def dp_app(make_app, app):
    """An app in DP mode on the test database (``app`` empties it afterwards)."""
    return make_app(FEDERATION_DP=True)


def test_dp_is_off_by_default_and_days_stay_exact(app, client, cli):
    assert DpSettings.from_config(app.config) is None
    population(client)
    result = cli.invoke(args=["stats_release"])
    assert result.exit_code == 0, result.output
    assert {row.period for row in rows()} == {"day"} and "differential privacy" not in result.output
    assert db.session.scalar(select(func.count()).select_from(DpLedger)) == 0
    assert client.get("/about.json").get_json()["privacy"] == {"mode": "exact", "sentence": None}
    assert 'data-fact="privacy"' not in client.get("/about").get_data(as_text=True)


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"FEDERATION_DP_EPSILON": 1.0}, "FEDERATION_DP_EPSILON is gone"),
        ({"FEDERATION_DP": True, "FEDERATION_DP_PERIOD": "year"}, "FEDERATION_DP_PERIOD"),
        ({"FEDERATION_DP": True, "FEDERATION_DP_DELTA": 0.5}, "FEDERATION_DP_DELTA"),
        ({"FEDERATION_DP": True, "FEDERATION_DP_YEAR_EPSILON": float("nan")}, "FEDERATION_DP_YEAR_EPSILON"),
        ({"FEDERATION_DP": True, "FEDERATION_DP_YEAR_EPSILON": "four"}, "must be numbers"),
        ({"FEDERATION_DP": True, "FEDERATION_DP_TOP": 0}, "FEDERATION_DP_TOP"),
    ],
)
def test_settings_that_cannot_mean_anything_stop_the_start(make_app, settings, says):
    with pytest.raises(ConfigError, match=says):
        make_app(**settings)


def test_dp_mode_releases_a_few_periodic_indicators_for_both_faces(dp_app, client):
    population(client)
    result = invoke(dp_app, "stats_release")
    assert result.exit_code == 0, result.output
    assert "released 10 periods" in result.output and "2026 ε" in result.output
    with dp_app.app_context():
        made = rows()
        assert {(r.type, r.date, r.period, r.status) for r in made} == {
            (t, d, "month", "released") for t in TYPE_NAMES for d in (SEPTEMBER, OCTOBER)
        }
        schema = StatsRecordSchema(hub_client=True, limits=HubLimits(min_weight=3, max_weight=100_000))
        for row in made:
            payload = row.payload
            assert payload["dp"]["period"] == "month" and payload["dp"]["epsilon"] == 4.0
            assert payload["dp"]["date_to"] == f"{row.date:%Y-%m}-{30 if row.date.month == 9 else 31}"
            assert isinstance(payload["n"], int) and payload["n"] >= 3
            assert set(payload["dp"]["noise"]) == {b.name for b in indicators.INDICATORS[row.type].blocks}
            schema.load(payload)  # what the global hub's own validation says (raises on a refusal)
            keys = [key for key, _, _ in indicators.released_rows(row.type, payload["data"], payload["n"])]
            if row.type in ("threat", "vulnerability"):
                assert 0 < len(keys) <= 20
            if row.type == "risk":
                assert len(keys) == 12
            if row.type == "compliance":
                assert {key[1] for key in keys} == {indicators.OVERALL}
        # the year's objects are chosen once: both months name the same threats
        threats = [r for r in made if r.type == "threat"]
        assert {i["uuid"] for i in threats[0].payload["data"]} == {
            i["uuid"] for i in threats[1].payload["data"]
        }
    series = client.get("/stats/threats.json", query_string=WINDOW).get_json()
    dates = {value["date"] for item in series["data"] for value in item["values"]}
    assert dates == {"2026-09-01", "2026-10-01"}  # a point per period, no day of its own


def test_the_ledger_is_opendp_composition_and_the_budget_command_says_it(dp_app, make_app, client):
    population(client)
    assert invoke(dp_app, "stats_release").exit_code == 0
    found = budget_json(dp_app)
    assert set(found) == {"year", "epsilon_budget", "epsilon_spent", "delta", "releases"}
    assert (found["year"], found["epsilon_budget"], found["delta"]) == (2026, 4.0, 1e-7)
    releases = [r for r in found["releases"] if r["mechanism"] == "release"]
    assert len(releases) == 10 and {r["label"] for r in releases} == {"2026-09", "2026-10"}
    assert 0 < found["epsilon_spent"] < 4.0
    assert found["releases"][-1]["epsilon_after"] == pytest.approx(found["epsilon_spent"], rel=1e-9)
    # the same figure from plain OpenDP measurements built here: each ledger measurement's ρ from
    # its own map (at one organisation), their total as one Gaussian, converted at δ
    import opendp.prelude as dp

    dp.enable_features("contrib")
    with dp_app.app_context():
        specs = ledger.specs(ledger.entries(2026))
    vectors = dp.vector_domain(dp.atom_domain(T=float, nan=False))
    rho = 0.0
    for spec in specs:
        if spec.kind == "gaussian":
            rho += dp.m.make_gaussian(vectors, dp.l2_distance(T=float), scale=spec.scale).map(
                spec.sensitivity
            )
        else:
            space = (vectors, dp.linf_distance(T=float, monotonic=True))
            top_k = dp.m.make_noisy_top_k(
                *space, dp.zero_concentrated_divergence(), k=spec.k, scale=spec.scale
            )
            rho += top_k.map(spec.sensitivity)
    total = dp.m.make_gaussian(vectors, dp.l2_distance(T=float), scale=1 / math.sqrt(2 * rho))
    curve = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(total), 1e-7)
    assert curve.map(1.0)[0] == pytest.approx(found["epsilon_spent"], rel=1e-6)
    # a restarted hub (another app, the same database) reads the same ledger
    assert budget_json(make_app(FEDERATION_DP=True)) == found
    text = invoke(dp_app, "dp", "budget", "--year", "2026").output
    assert "differential privacy: on" in text and "2026: ε" in text and "selection threat 2026-09" in text
    assert budget_json(dp_app, "2025")["releases"] == []


@pytest.mark.parametrize("period", ["month", "week"])
@pytest.mark.parametrize("year", [2026, 2027])
def test_a_full_year_of_planned_releases_fills_the_budget_and_never_exceeds_it(period, year):
    settings = DpSettings(period=period)
    plan = Plan.of(settings, year)
    specs = []
    for stats_type in TYPE_NAMES:
        if stats_type in ("threat", "vulnerability", "compliance"):
            spec = indicators.selection_spec(stats_type, plan, 40)
            assert spec is not None
            specs.append(spec)
        specs += [b.spec for b in indicators.release_noise(stats_type, plan)] * periods_in_year(year, period)
    assert periods_in_year(year, period) == (12 if period == "month" else 52)
    spent = epsilon_of(specs, settings.delta)
    assert 0.99 * settings.year_epsilon < spent <= settings.year_epsilon


def test_a_release_over_the_budget_is_refused_loudly_and_draws_nothing(make_app, app, client):
    # a refused period is tried again while within FEDERATION_WINDOW_DAYS: ten years here, so the
    # day the suite runs on does not matter
    dp_app = make_app(FEDERATION_DP=True, FEDERATION_WINDOW_DAYS=3660)
    population(client)
    assert invoke(dp_app, "stats_release", "--date-to", "2026-09-30").exit_code == 0
    before = budget_json(dp_app)
    public = client.get("/stats/risks.json", query_string=WINDOW).get_data()
    tight = make_app(
        FEDERATION_DP=True, FEDERATION_DP_YEAR_EPSILON=before["epsilon_spent"], FEDERATION_WINDOW_DAYS=3660
    )
    result = invoke(tight, "stats_release")
    assert result.exit_code == 1
    assert "refused" in result.output and "would bring 2026 to ε" in result.output
    assert "5 releases refused" in result.output
    assert len(budget_json(tight)["releases"]) == len(before["releases"])  # nothing drawn, nothing spent
    with tight.app_context():
        october = rows(date=OCTOBER)
        assert {r.status for r in october} == {"withheld"} and all("refused" in r.reason for r in october)
    assert client.get("/stats/risks.json", query_string=WINDOW).get_data() == public
    push = invoke(tight, "stats_push", "--dry-run", "--date-from", "2026-09-01")
    assert (
        push.exit_code == 0 and "would release risk 2026-10 (month)" in push.output
    )  # a dry run draws nothing
    # with room again, the next run releases what was refused
    assert invoke(dp_app, "stats_release").exit_code == 0
    with dp_app.app_context():
        assert {r.status for r in rows(date=OCTOBER)} == {"released"}


def test_a_replan_spends_again_and_is_recorded(dp_app, client):
    population(client)
    assert invoke(dp_app, "stats_release").exit_code == 0
    first = budget_json(dp_app)
    with dp_app.app_context():
        drawn = {(r.type, r.date): r.payload for r in rows()}
        db.session.execute(delete(PublicRelease))  # a hub that lost its releases (and so its outbox)
        db.session.execute(delete(FederationDelivery))
        db.session.commit()
    assert invoke(dp_app, "stats_release").exit_code == 0
    again = budget_json(dp_app)
    spent_again = [r for r in again["releases"][len(first["releases"]) :]]
    assert [r["mechanism"] for r in spent_again] == ["release"] * 10  # the year's objects were kept
    assert again["epsilon_spent"] > first["epsilon_spent"]
    with dp_app.app_context():
        redrawn = {(r.type, r.date): r.payload for r in rows()}
    # new noise, charged (at 5 organisations and ε 4 post-processing clamps many values, so some
    # records may come out the same: not all of them)
    assert redrawn.keys() == drawn.keys() and any(redrawn[k] != drawn[k] for k in drawn)


def test_noise_is_drawn_once_and_fixed(dp_app, client):
    gen = population(client)
    assert invoke(dp_app, "stats_release").exit_code == 0
    urls = [
        f"/stats/{kind}.json" for kind in ("threats", "vulnerabilities", "risks", "compliance", "cartography")
    ]
    before = {url: client.get(url, query_string=WINDOW).get_data() for url in urls}
    _, token = registry.create_client("Late")
    upload(client, token, snapshots(gen, 0, month_days(MONTHS)))  # a late upload of a released month
    assert invoke(dp_app, "stats_release").exit_code == 0
    assert {url: client.get(url, query_string=WINDOW).get_data() for url in urls} == before
    push = invoke(dp_app, "stats_push", "--dry-run", "--date-from", "2026-09-01")
    printed = [json.loads(line) for line in push.output.splitlines() if line.startswith("{")]
    with dp_app.app_context():
        assert sorted(printed, key=lambda p: (p["date"], p["type"])) == [r.payload for r in rows()]


def test_a_dry_run_prints_the_expected_error_of_each_indicator_and_draws_nothing(dp_app, client):
    population(client, orgs=8)
    result = invoke(dp_app, "stats_push", "--dry-run", "--date-from", "2026-09-01")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("expected error")]
    named = {tuple(line.split(":")[0].split()[2:4]) for line in lines}
    expected = {
        (t, b.name) for t in TYPE_NAMES for b in indicators.INDICATORS[t].blocks if b.name != "organisations"
    }
    assert named == expected
    assert all("2026-10, 8 organisations" in line for line in lines)
    assert "would release threat 2026-09 (month): 8 organisations" in result.output
    assert budget_json(dp_app)["releases"] == []  # nothing drawn, nothing spent
    # a larger budget says smaller errors
    risk = next(line for line in lines if line.startswith("expected error risk value"))
    with dp_app.app_context():
        settings = DpSettings(year_epsilon=400.0)
        who, _ = store.period_population("risk", OCTOBER, date(2026, 10, 31))
        parts = indicators.parts("risk", store.period_records("risk", OCTOBER, date(2026, 10, 31), who))
        small = indicators.expected_errors(
            "risk", parts, [], indicators.release_noise("risk", Plan.of(settings, 2026))
        )
    assert small[0].absolute < float(risk.split("±")[1].split()[0]) / 5


def test_the_about_page_and_json_say_the_budget_in_one_sentence(dp_app, client):
    population(client)
    assert invoke(dp_app, "stats_release").exit_code == 0
    spent = budget_json(dp_app)["epsilon_spent"]
    shown = f"{spent:.2f}".rstrip("0").rstrip(".")
    with dp_app.test_client() as http:
        about = http.get("/about.json").get_json()["privacy"]
        assert about["mode"] == "dp" and about["epsilon_spent"] == pytest.approx(spent)
        assert about["sentence"] == (
            f"Each organisation's 2026 contribution is protected at ε = {shown} of 4 (δ = 1e-07, differential privacy)."
        )
        english = http.get("/about").get_data(as_text=True)
        french = http.get("/about?lang=fr").get_data(as_text=True)
    assert f"2026 contribution is protected at ε = {shown} of 4" in english.replace("&#39;", "'")
    assert f"2026 est protégée à ε = {shown} sur 4" in french


def test_weekly_periods(make_app, app, client):
    population(client, months=[(2026, 10)])
    weekly = make_app(FEDERATION_DP=True, FEDERATION_DP_PERIOD="week")
    assert invoke(weekly, "stats_release").exit_code == 0
    with weekly.app_context():
        made = rows(type="risk")
        assert [(r.date, r.period) for r in made] == [
            (date(2026, 10, 5), "week"),
            (date(2026, 10, 19), "week"),
        ]
        assert (
            made[0].payload["dp"]["label"] == "2026-W41" and made[0].payload["dp"]["date_to"] == "2026-10-11"
        )
    assert [s for s, _ in periods(date(2026, 12, 30), date(2027, 1, 10), "week")] == [
        date(2026, 12, 28),
        date(2027, 1, 4),
    ]


def test_back_in_exact_mode_no_day_of_a_dp_period_is_released_exactly(dp_app, app, client, cli):
    population(client)
    assert invoke(dp_app, "stats_release", "--date-to", "2026-09-30").exit_code == 0
    assert cli.invoke(args=["stats_release"]).exit_code == 0  # the default app: exact mode
    made = rows()
    assert {(r.period, r.date.month) for r in made} == {("month", 9), ("day", 10)}


def test_the_documented_noise_is_the_noise_drawn(app, client):
    """Over many draws, each noisy sum minus the organisations' bounded sum, divided by the σ the
    release documents (``dp.noise``), has a standard deviation of 1."""
    population(client, orgs=6)
    settings = DpSettings(year_epsilon=2000.0)
    plan = Plan.of(settings, 2026)
    end = date(2026, 10, 31)
    for stats_type in ("risk", "threat"):
        who, _ = store.period_population(stats_type, OCTOBER, end)
        parts = indicators.parts(stats_type, store.period_records(stats_type, OCTOBER, end, who))
        keys = indicators.candidates(parts, 3)[:20]
        indicator = indicators.INDICATORS[stats_type]
        chosen = keys if indicator.kind == "objects" else indicators.grid(stats_type)
        noise = indicators.release_noise(stats_type, plan)
        exact = {
            b.name: [
                sum(v)
                for v in zip(
                    *(indicators.block_vector(indicator, b, p, chosen) for p in parts.values()), strict=True
                )
            ]
            for b in indicator.blocks
        }
        ratios = {b.name: [] for b in noise}
        for _ in range(150):  # the count of organisations is one number: 150 draws of it
            drawn = indicators.draw(stats_type, parts, chosen, noise)
            for block in noise:
                ratios[block.name] += [
                    (d - e) / block.scale for d, e in zip(drawn[block.name], exact[block.name], strict=True)
                ]
        for name, found in ratios.items():
            spread = math.sqrt(statistics.fmean(r * r for r in found))
            assert 0.75 < spread < 1.25, (stats_type, name, spread, len(found))


def test_without_dp_a_newcomer_is_read_off_exactly(app, client):
    """The limit DP mode answers (docs/PRIVACY.md): exact releases of two days around a newcomer
    give its values by subtraction."""
    gen = Generator(seed=11, anrs=4)
    before, after = date(2026, 3, 2), date(2026, 3, 3)
    for org in range(4):
        _, token = registry.create_client(f"Org {org}")
        upload(client, token, snapshots(gen, org, [after] if org == 3 else [before, after]))
    rules = ReleaseRules.from_config(app.config)
    sums = []
    for day in (before, after):
        counted = store.day_input("risk", day, "", rules.min_clients, store.sharing())
        exact = build(counted, rules)
        assert isinstance(exact, Outgoing)
        n = exact.payload["n"]
        sums.append(
            {
                (s, k, e["level"]): e["value"] * n
                for s, kinds in exact.payload["data"]["risks"].items()
                for k, levels in kinds.items()
                for e in levels
            }
        )
    victim = REGISTRY["risk"].load(snapshots(gen, 3, [after])[0]["data"])
    truth = {
        (state, kind, entry["level"]): entry["value"]
        for state, kinds in victim["risks"].items()
        for kind, levels in kinds.items()
        for entry in levels
    }
    for key, value in sums[1].items():  # every released level
        assert value - sums[0].get(key, 0.0) == pytest.approx(truth.get(key, 0.0), abs=1e-6)
    assert len(sums[1]) >= 6


def test_a_global_hub_takes_dp_releases_beside_exact_ones(dp_app, make_app, app, client):
    population(client)
    assert invoke(dp_app, "stats_release").exit_code == 0
    with dp_app.app_context():
        dp_payloads = [r.payload for r in rows()]
    exact_app = make_app()
    with exact_app.app_context():
        db.session.execute(delete(PublicRelease))
        db.session.commit()
    # the exact releases of another hub: the same data, exact mode, days of October
    assert invoke(exact_app, "stats_release", "--date-from", "2026-10-01").exit_code == 0
    with exact_app.app_context():
        exact_payloads = [r.payload for r in rows(status="released")]
        assert exact_payloads and all("dp" not in p for p in exact_payloads)
    world = make_app(MODE="global")
    with world.app_context():
        db.session.execute(delete(PublicRelease))
        db.session.commit()
        _, dp_hub = registry.create_client("hub-dp", local=False)
        _, exact_hub = registry.create_client("hub-exact", local=False)
    with world.test_client() as http:
        upload(http, dp_hub, dp_payloads)
        upload(http, exact_hub, exact_payloads)
        upload(http, dp_hub, dp_payloads)  # a retry of the very same releases is idempotent
        with world.app_context():
            declared = list(db.session.scalars(select(HubPrivacy)))
            assert len(declared) == len(dp_payloads) and {d.epsilon for d in declared} == {4.0}
        privacy = http.get("/about.json").get_json()["privacy"]
        assert privacy["mode"] == "global"
        assert (privacy["dp_releases"], privacy["exact_releases"]) == (len(dp_payloads), len(exact_payloads))
        (budget,) = privacy["budgets"]
        assert (budget["epsilon"], budget["delta"], budget["period"], budget["hubs"]) == (
            4.0,
            1e-7,
            "month",
            1,
        )
        assert (budget["first_date"], budget["last_date"]) == ("2026-09-01", "2026-10-31")
        assert (
            f"{len(dp_payloads)} of the {len(dp_payloads) + len(exact_payloads)} hub aggregates"
            in privacy["sentence"]
        )
        page = http.get("/about").get_data(as_text=True)
        assert "ε = 4 per organisation and year (δ = 1e-07), by month: 10 releases from 1 hubs" in page
        french = http.get("/about?lang=fr").get_data(as_text=True)
        assert "par mois" in french
        # the community series sums the noisy releases of DP hubs with the exact ones
        series = http.get("/stats/risks.json", query_string={**WINDOW, "processor": "risk_averages_on_date"})
        dates = {
            p["date"]
            for kinds in series.get_json()["data"].values()
            for levels in kinds.values()
            for points in levels.values()
            for p in points
        }
        assert "2026-10-01" in dates and "2026-10-20" in dates
        # a withdrawn DP release takes its declaration with it
        first = dp_payloads[0]
        assert http.delete(f"/api/v1/stats/{first['anr']}", headers={"X-API-KEY": dp_hub}).status_code == 204
        with world.app_context():
            assert db.session.scalar(select(func.count()).select_from(HubPrivacy)) == len(dp_payloads) - 1


@pytest.mark.parametrize(
    "block",
    [
        {"period": "year", "date_to": "2026-09-30", "year": 2026, "epsilon": 4, "delta": 1e-7},
        {"period": "month", "date_to": "2026-08-30", "year": 2026, "epsilon": 4, "delta": 1e-7},
        {"period": "month", "date_to": "2026-09-30", "year": 2026, "epsilon": -1, "delta": 1e-7},
        {"period": "month", "date_to": "2026-09-30", "year": 2026, "epsilon": "NaN", "delta": 1e-7},
        {"period": "month", "date_to": "2026-09-30", "year": 2026, "epsilon": 4, "delta": 1e-7, "secret": 1},
        {"period": "month", "date_to": "2026-09-30", "year": 2026, "epsilon": 4, "delta": 2},
        {"period": "month", "date_to": "30/09/2026", "year": 2026, "epsilon": 4, "delta": 1e-7},
        {"period": "month", "date_to": "2026-09-30", "year": "2026", "epsilon": 4, "delta": 1e-7},
        "dp",
    ],
)
def test_a_bad_dp_block_is_a_clear_422(make_app, app, client, block):
    world = make_app(MODE="global")
    with world.app_context():
        _, hub = registry.create_client("hub", local=False)
    record = {
        "anr": "00000000-0000-4000-8000-000000000001",
        "type": "risk",
        "date": "2026-09-01",
        "n": 5,
        "data": {"risks": {"current": {"informational": [{"level": "High risks", "value": 1}]}}},
        "dp": block,
    }
    with world.test_client() as http:
        response = http.post("/api/v1/stats/", json=[record], headers={"X-API-KEY": hub})
        assert response.status_code == 422 and response.is_json, response.get_data(as_text=True)
        assert any(key.startswith("0.dp") for key in response.get_json()["errors"]), response.get_json()
    # a Front Office (a local client) never says it is a DP release
    _, token = registry.create_client("FO")
    local = {
        **record,
        "dp": {"period": "month", "date_to": "2026-09-30", "year": 2026, "epsilon": 4, "delta": 1e-7},
    }
    del local["n"]
    response = client.post("/api/v1/stats/", json=[local], headers={"X-API-KEY": token})
    assert response.status_code == 422 and "0.dp" in response.get_json()["errors"]
