"""Helpers of the two-hub tests (federation end to end, privacy attacks): uploads, processed
answers, push reports, and the exactness check of released values."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
import requests

from tests.live import LiveHub

SERIES = [
    ("threat", "threat_average_on_date"),
    ("vulnerability", "vulnerability_average_on_date"),
    ("risk", "risk_averages_on_date"),
]


def upload(hub: LiveHub, token: str, records: list[dict], status: int = 201) -> requests.Response:
    response = requests.post(
        f"{hub.url}/api/v1/stats/", json=records, headers={"X-API-KEY": token}, timeout=60
    )
    assert response.status_code == status, response.text
    return response


def processed(hub: LiveHub, token: str, **params: Any) -> Any:
    response = requests.get(
        f"{hub.url}/api/v1/stats/processed/", json=params, headers={"X-API-KEY": token}, timeout=60
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def summary(output: str) -> dict[str, int]:
    line = next(line for line in output.splitlines() if line.startswith("summary:"))
    return {name: int(count) for name, count in re.findall(r"(\w+) (\d+)", line)}


def day_points(stats_type: str, data: Any) -> dict[tuple[str, ...], float]:
    """Every (element or leaf, date, field) of a day series, flattened."""
    points: dict[tuple[str, ...], float] = {}
    if stats_type == "risk":
        for state, kinds in data.items():
            for kind, levels in kinds.items():
                for level, values in levels.items():
                    for value in values:
                        points[(state, kind, level, value["date"])] = value["value"]
        return points
    for item in data:
        for value in item["values"]:
            for name in ("count", "maxRisk", "averageRate"):
                points[(item["object"], value["date"], name)] = value[name]
    return points


def assert_released_exact(
    local: LiveHub, admin: str, world: LiveHub, hub_token: str, anrs: list[str], days: list[date]
) -> int:
    """Every value the global hub serves equals the raw mean over the contributing analyses
    (the local admin's answer over ``anrs``), day by day; returns how many were compared."""
    window = {"date_from": days[0].isoformat(), "date_to": days[-1].isoformat(), "aggregation_period": "day"}
    compared = 0
    for stats_type, name in SERIES:
        expected = day_points(
            stats_type, processed(local, admin, type=stats_type, processor=name, anrs=anrs, **window)
        )
        actual = day_points(
            stats_type, processed(world, hub_token, type=stats_type, processor=name, **window)
        )
        assert actual, name
        for key, value in actual.items():
            if stats_type == "risk" and value == 0.0 and expected.get(key, 0.0) != 0.0:
                continue  # a suppressed level reads 0 in the risk series (docs/PRIVACY.md)
            assert value == pytest.approx(expected[key], rel=1e-9, abs=1e-9), (name, key)
            compared += 1
    return compared
