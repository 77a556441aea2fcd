"""Each stats type's ``explode_sql`` gives, in the database, the sums its Python ``explode`` gives:
a selection of analyses is answered in SQL, so the two must agree on every record the API accepts
(generator records with PHP encodings, plus the corners ``explode`` handles: weights on some
elements only, an element on one side only, controls on one side only, empty maps)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from statsservice.demo.payloads import Generator
from statsservice.domain.processors import PERIODS
from statsservice.domain.registry import REGISTRY, TYPE_NAMES
from statsservice.domain.sums import selection_cells
from statsservice.extensions import db
from statsservice.storage import processed
from statsservice.storage.models import Stats
from statsservice.storage.stats import StatsFilter
from statsservice.storage.stats import _apply as apply_filter
from tests.api_support import auth, new_client

DAY = date(2026, 10, 1)
REF = "6a8f4c2e-3b1d-4e5f-9a7b-0c1d2e3f4a5b"
OBJECT = "0b7e2c4d-1a3f-4e5b-8c9d-2e3f4a5b6c7d"

#: hand-made records the generator never sends: (type, data), uploaded by an aggregating hub
#: (weights ``n`` on elements) and by a Front Office (no weights)
CORNERS: list[tuple[str, Any]] = [
    ("threat", [{"uuid": OBJECT, "count": 3, "maxRisk": 12, "averageRate": "2.5", "n": 4}]),
    (
        "compliance",
        [
            {
                "referential": REF,
                "n": 12,
                "current": [
                    {"label1": "A", "value": "0.5", "n": 4, "controls": [{"code": "1.1", "value": 1}]},
                    {"label1": "B", "value": 1, "controls": []},
                ],
                "target": [
                    {"label1": "A", "value": 1, "controls": [{"code": "1.2", "value": 2, "n": 5}]},
                    {"label1": "C", "value": 2, "n": 7, "controls": [{"code": "9", "value": 3}]},
                ],
            }
        ],
    ),
    ("compliance", [{"referential": REF, "current": [], "target": [{"label1": "T", "value": 1}]}]),
    ("risk", {"risks": {"current": {"informational": [], "operational": []}, "residual": []}}),
    ("cartography", {"scales": [], "risks": {"current": {"informational": [[], {"1": 2, "3": 4}]}}}),
]


def _load(client: Any) -> None:
    """Two weeks of generator records for three analyses, and every corner once per day."""
    token = new_client("fo")
    hub = new_client("hub", local=False)
    generator = Generator(seed=11, anrs=3, php_quirks=True)
    for offset in range(14):
        day = DAY + timedelta(days=offset)
        batch = [record for anr in range(3) for record in generator.day_batch(anr_index=anr, day=day)]
        assert client.post("/api/v1/stats/", json=batch, headers=auth(token)).status_code == 201
        corners = [
            {"anr": REF, "type": kind, "date": day.isoformat(), "data": data, "n": 20}
            for kind, data in CORNERS
        ]
        response = client.post("/api/v1/stats/", json=corners[:2], headers=auth(hub))
        assert response.status_code == 201, response.get_json()
        plain = [{k: v for k, v in record.items() if k != "n"} for record in corners[2:]]
        response = client.post("/api/v1/stats/", json=plain, headers=auth(token))
        assert response.status_code == 201, response.get_json()


def _python(f: StatsFilter, period: str | None, match: dict) -> dict:
    query = apply_filter(select(Stats.date, Stats.data, Stats.n), f)
    cells, weights = selection_cells(REGISTRY[f.type], db.session.execute(query), period, match)
    return {(c.bucket, c.key): (c.n, *c.sums) for c in cells}, weights


def _sql(f: StatsFilter, period: str | None, match: dict) -> dict:
    from statsservice.domain.processors import Plan

    cells, weights = processed._from_records(f, period, Plan(match=match, record_weights=True))
    return {(c.bucket, c.key): (c.n, *c.sums) for c in cells}, weights


@pytest.mark.parametrize("stats_type", TYPE_NAMES)
def test_sql_explode_sums_what_python_explode_sums(client, app, stats_type):
    _load(client)
    with app.app_context():
        anrs = tuple(db.session.scalars(select(Stats.anr).where(Stats.type == stats_type).distinct()))
        assert len(anrs) >= 2
        matches: list[dict] = [{}]
        if stats_type == "compliance":
            matches.append({"k3": ("",)})
        if stats_type in ("risk", "cartography"):
            matches.append({"k1": ("current",), "k2": ("informational", "operational")})
        checked = 0
        for period in (None, *PERIODS):
            for match in matches:
                f = StatsFilter(type=stats_type, anrs=anrs, date_from=DAY + timedelta(days=2))
                expected, expected_weights = _python(f, period, match)
                actual, weights = _sql(f, period, match)
                assert set(actual) == set(expected), (period, match)
                for key, sums in expected.items():
                    assert actual[key] == pytest.approx(sums, rel=1e-12, abs=1e-12), key
                assert weights == pytest.approx(expected_weights)
                checked += len(expected)
        assert checked > 0
