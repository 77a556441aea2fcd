"""Selections of analyses are answered from maintained sums: the client's own day sums when the
selection holds all of its analyses, each record's own stored sums otherwise
(``storage.record_sums``). Both must give what exploding the selected records' JSON gives
(``processed._from_exploded``, the previous way), for every type, plan and period; spoiling the
JSON changes no such answer, spoiling the sums does; and the stored sums follow every write:
uploads, replacements, deletes, purges, a client's deletion."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from statsservice.demo.payloads import Generator
from statsservice.domain.processors import PERIODS, Plan
from statsservice.domain.registry import REGISTRY, TYPE_NAMES
from statsservice.domain.sums import covers
from statsservice.extensions import db
from statsservice.storage import processed, retention
from statsservice.storage.models import Client, ClientDay, Stats
from statsservice.storage.stats import StatsFilter
from tests.api_support import assert_record_sums_consistent, assert_sums_consistent, auth, new_client
from tests.test_explode_sql import CORNERS

DAY = date(2026, 10, 1)
DAYS = 6
#: values a record's sums cannot keep in hundredths: thirds, beyond a smallint, negative zero
ODD_THREAT = [
    {
        "uuid": "1b7e2c4d-1a3f-4e5b-8c9d-2e3f4a5b6c7d",
        "count": 400000,
        "maxRisk": "0.333",
        "averageRate": "-0",
    },
    {"uuid": "2b7e2c4d-1a3f-4e5b-8c9d-2e3f4a5b6c7d", "count": 3, "maxRisk": 12, "averageRate": "1.005"},
]


def _post(client: Any, token: str, records: list[dict]) -> None:
    response = client.post("/api/v1/stats/", json=records, headers=auth(token))
    assert response.status_code == 201, response.get_json()


def _load(client: Any) -> dict[str, list[str]]:
    """Front Office A (three analyses), B (two), a hub sending weighted corners; odd values from A.
    Returns each client's analyses."""
    tokens = {"A": new_client("fo-a"), "B": new_client("fo-b"), "hub": new_client("hub", local=False)}
    generator = Generator(seed=5, anrs=5, php_quirks=True)
    owners = {"A": range(3), "B": range(3, 5)}
    for offset in range(DAYS):
        day = DAY + timedelta(days=offset)
        for name, indexes in owners.items():
            _post(client, tokens[name], [r for i in indexes for r in generator.day_batch(i, day)])
        corners = [
            {"anr": CORNERS_ANR, "type": t, "date": day.isoformat(), "data": d, "n": 20} for t, d in CORNERS
        ]
        _post(client, tokens["hub"], corners[:2])
        _post(client, tokens["A"], [{k: v for k, v in r.items() if k != "n"} for r in corners[2:]])
        _post(
            client,
            tokens["A"],
            [{"anr": ODD_ANR, "type": "threat", "date": day.isoformat(), "data": ODD_THREAT}],
        )
    anrs = {name: [generator.anrs[i]["uuid"] for i in indexes] for name, indexes in owners.items()}
    anrs["A"] += [CORNERS_ANR, ODD_ANR]
    return anrs


CORNERS_ANR = "6a8f4c2e-3b1d-4e5f-9a7b-0c1d2e3f4a5b"
ODD_ANR = "7a8f4c2e-3b1d-4e5f-9a7b-0c1d2e3f4a5b"


def _plans(stats_type: str) -> list[Plan]:
    plans = [Plan(record_weights=True)]
    if stats_type == "compliance":
        plans.append(Plan(match={"k3": ("",)}, record_weights=True))
    if stats_type in ("risk", "cartography"):
        plans.append(
            Plan(match={"k1": ("current",), "k2": ("informational", "operational")}, record_weights=True)
        )
    return plans


def _cells(result: tuple) -> tuple[dict, dict]:
    cells, weights = result
    return {(c.bucket, c.key): (c.n, *c.sums) for c in cells}, weights


@pytest.mark.parametrize("stats_type", TYPE_NAMES)
def test_selections_sum_what_the_records_explode_to(client, app, stats_type):
    anrs = _load(client)
    a = db.session.scalar(select(Client.id).where(Client.name == "fo-a"))
    window = {"date_from": DAY + timedelta(days=1), "date_to": DAY + timedelta(days=DAYS - 2)}
    scopes = {
        "all of A": StatsFilter(type=stats_type, client_id=a, anrs=tuple(anrs["A"]), **window),
        "all of A, no window": StatsFilter(type=stats_type, client_id=a, anrs=tuple(anrs["A"])),
        "some of A": StatsFilter(type=stats_type, client_id=a, anrs=tuple(anrs["A"][1:]), **window),
        "across clients": StatsFilter(
            type=stats_type, anrs=(anrs["A"][0], anrs["B"][1], CORNERS_ANR), **window
        ),
        "all of A, local only": StatsFilter(
            type=stats_type, client_id=a, anrs=tuple(anrs["A"]), local_only=True
        ),
    }
    checked = 0
    for scope, f in scopes.items():
        for plan in _plans(stats_type):
            kept = covers(REGISTRY[stats_type].record_sums_match, plan.match)
            for period in (None, *PERIODS):
                expected, expected_weights = _cells(processed._from_exploded(f, period, plan))
                actual, weights = _cells(processed._from_records(f, period, plan))
                assert set(actual) == set(expected), (scope, plan, period, kept)
                for key, sums in expected.items():
                    assert actual[key] == pytest.approx(sums, rel=1e-12, abs=1e-12), (scope, key)
                assert weights == pytest.approx(expected_weights), (scope, period)
                checked += len(expected)
    assert checked > 0


def test_answers_read_the_maintained_sums_not_the_json(client, app):
    """Spoil the records' JSON: selections still answer the same (they read sums); spoil the
    client's day sums: a selection of all its analyses changes, one of some does not; spoil the
    records' own sums: that one changes too."""
    anrs = _load(client)
    a = db.session.scalar(select(Client.id).where(Client.name == "fo-a"))
    plan = Plan()
    selections = {
        "all": StatsFilter(type="threat", client_id=a, anrs=tuple(anrs["A"])),
        "some": StatsFilter(type="threat", client_id=a, anrs=tuple(anrs["A"][:2])),
    }
    before = {name: _cells(processed._from_records(f, "day", plan))[0] for name, f in selections.items()}
    assert all(before.values())
    db.session.execute(update(Stats).values(data=[]))  # Core: no ORM hook recomputes the sums
    assert {
        name: _cells(processed._from_records(f, "day", plan))[0] for name, f in selections.items()
    } == before
    db.session.execute(update(ClientDay).values(s1=ClientDay.s1 + 1000))
    after = {name: _cells(processed._from_records(f, "day", plan))[0] for name, f in selections.items()}
    assert after["all"] != before["all"] and after["some"] == before["some"]
    db.session.execute(update(Stats).values(sum_q1=None, sum_f1=None))
    assert _cells(processed._from_records(selections["some"], "day", plan))[0] != before["some"]
    db.session.rollback()


def test_odd_values_are_kept_as_floats(client, app):
    _load(client)
    rows = db.session.execute(
        select(
            Stats.sum_q1, Stats.sum_q2, Stats.sum_q3, Stats.sum_f1, Stats.sum_f2, Stats.sum_f3, Stats.sum_n
        ).where(Stats.anr == ODD_ANR)
    ).all()
    assert rows
    for q1, q2, q3, f1, f2, f3, weights in rows:
        # counts beyond a smallint, thirds and 1.005 (not 100.5 hundredths exactly) are floats
        assert (q1, q2, q3) == (None, None, None) and f1 and f2 and f3 and weights is None
    hub = db.session.scalar(select(Client.id).where(Client.name == "hub"))
    hub_rows = db.session.execute(select(Stats.sum_n).where(Stats.client_id == hub)).all()
    assert hub_rows and any(weights is not None for (weights,) in hub_rows)  # an aggregate's element weights
    assert assert_record_sums_consistent() > 0


def test_sums_follow_replacements_deletes_purges_and_client_deletion(client, app, cli):
    anrs = _load(client)
    token = new_client("fo-c")
    generator = Generator(seed=9, anrs=2)
    day = DAY + timedelta(days=1)
    _post(client, token, [r for i in range(2) for r in generator.day_batch(i, day)])
    # a forced re-collection: the same keys with other values replace the records and their sums
    again = Generator(seed=10, anrs=2)
    replaced = [
        {**r, "anr": generator.anrs[int(i)]["uuid"]} for i in "01" for r in again.day_batch(int(i), day)
    ]
    _post(client, token, replaced)
    assert_sums_consistent()
    response = client.delete(f"/api/v1/stats/{anrs['A'][0]}", headers=auth(db_token(client, "fo-a")))
    assert response.status_code == 204
    assert_sums_consistent()
    retention.purge_before(DAY + timedelta(days=2))
    db.session.commit()
    assert_sums_consistent()
    uuid = db.session.scalar(select(Client.uuid).where(Client.name == "fo-b"))
    result = cli.invoke(args=["client_delete", "--uuid", uuid, "-y"])
    assert result.exit_code == 0, result.output
    assert assert_record_sums_consistent() > 0
    assert_sums_consistent()
    f = StatsFilter(type="threat", anrs=tuple(anrs["A"] + anrs["B"]))
    expected, _ = _cells(processed._from_exploded(f, "day", Plan()))
    actual, _ = _cells(processed._from_records(f, "day", Plan()))
    assert expected and set(actual) == set(expected)
    for key, sums in expected.items():
        assert actual[key] == pytest.approx(sums, rel=1e-12, abs=1e-12), key


def db_token(client: Any, name: str) -> str:
    """A fresh token for an existing client (the API never shows one twice)."""
    from statsservice.storage import clients as registry

    uuid = db.session.scalar(select(Client.uuid).where(Client.name == name))
    return registry.rotate_token(uuid)[1]
