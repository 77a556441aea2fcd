"""Differential-privacy mode of the push (``FEDERATION_DP_EPSILON``, docs/PRIVACY.md): a newcomer
between two releases is read back only through noise at least the documented Laplace scale,
released means stay within the documented error, and the global hub's checks accept every noisy
aggregate. Noise is drawn by OpenDP (no seed): each assertion is over hundreds of draws with a
bound several standard errors from what the draws give, so none of them is flaky."""

from __future__ import annotations

import copy
import json
import math
import statistics
from datetime import date
from typing import Any

import pytest

from statsservice.api.v1.schemas import HubLimits, StatsRecordSchema
from statsservice.demo.payloads import Generator
from statsservice.domain.federation.aggregates import Outgoing, build
from statsservice.domain.federation.noise import BOUNDS, DifferentialPrivacy, contributions
from statsservice.domain.registry import REGISTRY, TYPE_NAMES
from statsservice.domain.release import ReleaseRules
from statsservice.storage import clients as registry
from statsservice.storage import release as store

BEFORE, AFTER = date(2026, 3, 2), date(2026, 3, 3)
LEVELS = ("Low risks", "Medium risks", "High risks")
DRAWS = 200


def upload(http, token: str, records: list[dict]) -> None:
    response = http.post("/api/v1/stats/", json=records, headers={"X-API-KEY": token})
    assert response.status_code == 201, response.get_json()


def redated(records: list[dict], day: date) -> list[dict]:
    """The same snapshots on another day: the only change between the days is the newcomer."""
    out = copy.deepcopy(records)
    for record in out:
        record["date"] = day.isoformat()
    return out


def newcomer_scene(http) -> dict[str, Any]:
    """Three organisations on both days, unchanged; a victim joins on the second day."""
    gen = Generator(seed=11, anrs=4)
    for org in range(3):
        _, token = registry.create_client(f"Org {org}")
        batch = gen.day_batch(org, BEFORE)
        upload(http, token, batch + redated(batch, AFTER))
    _, token = registry.create_client("Victim")
    victim = redated(gen.day_batch(3, BEFORE), AFTER)
    upload(http, token, victim)
    return next(r["data"] for r in victim if r["type"] == "risk")


def inputs(stats_type: str, day: date, rules: ReleaseRules):
    label_type = stats_type if REGISTRY[stats_type].labelled else ""
    who = store.sharing()
    counted = store.day_input(stats_type, day, label_type, rules.min_clients, who)
    return counted, contributions(stats_type, store.day_records(stats_type, day, who))


def risk_sums(outgoing: Outgoing) -> dict[tuple[str, str, str], float]:
    """What an attacker multiplies back: ``mean × n`` per released risk level."""
    n = outgoing.payload["n"]
    return {
        (state, kind, entry["level"]): entry["value"] * n
        for state, kinds in outgoing.payload["data"]["risks"].items()
        for kind, levels in kinds.items()
        for entry in levels
    }


def test_a_newcomer_is_recovered_exactly_without_noise_and_only_through_noise_with_it(app, client):
    victim = newcomer_scene(client)
    truth = {
        (state, kind, entry["level"]): float(entry["value"])
        for state, kinds in victim["risks"].items()
        for kind, levels in kinds.items()
        for entry in levels
    }
    rules = ReleaseRules.from_config(app.config)
    before, after = inputs("risk", BEFORE, rules), inputs("risk", AFTER, rules)

    # DP off: subtraction of the two exact releases gives the newcomer's values exactly
    exact_before, exact_after = build(before[0], rules), build(after[0], rules)
    assert isinstance(exact_before, Outgoing) and isinstance(exact_after, Outgoing)
    sums_before, sums_after = risk_sums(exact_before), risk_sums(exact_after)
    for key in sums_after:
        assert sums_after[key] - sums_before.get(key, 0.0) == pytest.approx(truth.get(key, 0.0), abs=1e-6)

    # DP on: the same subtraction is off by noise of at least the Laplace scale of one sum
    privacy = DifferentialPrivacy(epsilon=100.0)
    errors: list[float] = []
    scale = 0.0
    for _ in range(DRAWS):
        noisy_before = build(before[0], rules, privacy=privacy, parts=before[1])
        noisy_after = build(after[0], rules, privacy=privacy, parts=after[1])
        assert isinstance(noisy_before, Outgoing) and isinstance(noisy_after, Outgoing)
        sums_before, sums_after = risk_sums(noisy_before), risk_sums(noisy_after)
        for key in sums_after:
            errors.append(sums_after[key] - sums_before.get(key, 0.0) - truth.get(key, 0.0))
    _, (scale,) = privacy.scales("risk", len(sums_after))
    assert scale > 10  # ε = 100 over a dozen numbers, each moved by ≤ 5 × 100: a real scale
    rms = math.sqrt(statistics.fmean(e * e for e in errors))
    # two independent Laplace(scale) draws differ by 2 × scale in RMS; clamping means into their
    # bounds takes a little off. 2400 errors: the RMS is within a few % of its expectation.
    assert rms >= scale, (rms, scale)
    assert statistics.median(abs(e) for e in errors) >= scale / 2


def leaves(data: Any, weight: float, path: tuple = ()) -> dict[tuple, tuple[float, float]]:
    """Every released mean of an aggregate by its path, with the weight it is a mean over: its
    element's ``n`` when it has one, else the aggregate's (``weight``)."""
    found: dict[tuple, tuple[float, float]] = {}
    if isinstance(data, dict):
        weight = data.get("n", weight)
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        if key == "n" or (isinstance(key, str) and key.startswith("label")):
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[(*path, key)] = (float(value), float(weight))
        else:
            found.update(leaves(value, weight, (*path, key)))
    return found


def metric_of(stats_type: str, path: tuple) -> int:
    """Which bound of ``BOUNDS`` a released value is clipped to."""
    if stats_type in ("threat", "vulnerability"):
        return ("count", "maxRisk", "averageRate").index(path[-1])
    if stats_type == "compliance":
        return 0 if "current" in path else 1
    return 0


def test_released_means_stay_within_the_documented_error(app, client):
    gen = Generator(seed=3, anrs=10)
    for org in range(5):  # five organisations of two analyses
        _, token = registry.create_client(f"Org {org}")
        upload(client, token, [r for i in (2 * org, 2 * org + 1) for r in gen.day_batch(i, BEFORE)])
    rules = ReleaseRules.from_config(app.config)
    privacy = DifferentialPrivacy(epsilon=10_000.0)
    checked = 0
    for stats_type in TYPE_NAMES:
        counted, parts = inputs(stats_type, BEFORE, rules)
        exact = build(counted, rules)
        assert isinstance(exact, Outgoing), stats_type
        truth = leaves(exact.payload["data"], exact.payload["n"])
        released = len(counted.cells) - sum(exact.suppressed.values())
        bounds = BOUNDS[stats_type].sums
        # error / documented error of each released mean (no organisation has more analyses
        # than FEDERATION_DP_MAX_ANALYSES here: the exact weights are the clipped ones)
        ratios: dict[int, list[float]] = {i: [] for i in range(len(bounds))}
        for _ in range(20):
            noisy = build(counted, rules, privacy=privacy, parts=parts)
            assert isinstance(noisy, Outgoing)
            values = leaves(noisy.payload["data"], noisy.payload["n"])
            assert values.keys() == truth.keys()  # noise changes values, never which cells
            for path, (value, _) in values.items():
                metric = metric_of(stats_type, path)
                assert 0.0 <= value <= bounds[metric]  # a mean never leaves its bounds
                exact_value, weight = truth[path]
                documented = privacy.typical_error(stats_type, released, weight)[metric]
                assert documented < bounds[metric] / 4  # a meaningful check, not the bound
                ratios[metric].append(abs(value - exact_value) / documented)
        for metric, found in ratios.items():
            assert statistics.median(found) <= 1.0, (stats_type, metric, statistics.median(found))
            checked += 1
    assert checked == 10


def test_every_noisy_aggregate_passes_the_global_hubs_checks(make_app, app, client):
    gen = Generator(seed=5, anrs=3)
    for org in range(3):  # the smallest population that passes k: noise is largest here
        _, token = registry.create_client(f"Org {org}")
        upload(client, token, gen.day_batch(org, BEFORE))
    dp_app = make_app(FEDERATION_DP_EPSILON=1.0)
    with dp_app.app_context():  # the CLI runs in the innermost app context
        result = dp_app.test_cli_runner().invoke(
            args=[
                "stats_push",
                "--date-from",
                BEFORE.isoformat(),
                "--date-to",
                BEFORE.isoformat(),
                "--dry-run",
            ]
        )
    assert result.exit_code == 0, result.output
    payloads = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert {p["type"] for p in payloads} >= {"risk", "threat", "vulnerability"}
    spent = f"{len(payloads)} releases: ε {len(payloads):g} spent by this run"
    assert f"differential privacy: ε 1 per (type, day) release, {spent}" in result.output
    # the global hub's own validation (k = 3, at most 100,000), over many draws
    schema = StatsRecordSchema(hub_client=True, limits=HubLimits(min_weight=3, max_weight=100_000))
    rules = ReleaseRules.from_config(app.config)
    privacy = DifferentialPrivacy(epsilon=1.0)
    for stats_type in TYPE_NAMES:
        counted, parts = inputs(stats_type, BEFORE, rules)
        for _ in range(50):
            noisy = build(counted, rules, privacy=privacy, parts=parts)
            if isinstance(noisy, Outgoing):
                schema.load(noisy.payload)  # raises on any refusal
                assert isinstance(noisy.payload["n"], int) and 3 <= noisy.payload["n"] <= 100_000
    # and a real one: a hub client posting the dry run's aggregates is answered 201
    _, hub_token = registry.create_client("hub", local=False)
    upload(client, hub_token, payloads)


def test_dp_is_off_by_default_and_spends_at_most_epsilon(app, client):
    assert DifferentialPrivacy.from_config(app.config) is None
    assert DifferentialPrivacy.from_config({"FEDERATION_DP_EPSILON": 0.5}) == DifferentialPrivacy(0.5, 5.0)
    newcomer_scene(client)
    rules = ReleaseRules.from_config(app.config)
    counted, parts = inputs("threat", AFTER, rules)
    released = [cell.sums for cell in counted.cells if not rules.reason(cell.clients, cell.sums.n, cell.top)]
    noisy = DifferentialPrivacy(0.5).release("threat", released, parts, min_weight=3, max_weight=100_000)
    assert 0.49 < noisy.spent <= 0.5 * (1 + 1e-9)  # OpenDP's privacy maps, summed
    assert [c.key for c in noisy.cells] == [c.key for c in released]
