"""Hub aggregates on a global hub: added to the shared ``rollup_day`` rows as they arrive
(``storage.sums.accumulate``, so a hub's push costs the same whatever the number of hubs behind the
day), summed again over every hub when one is replaced or withdrawn (``recompute``). Either way
``rollup_day`` stays the hubs' ``client_day`` summed (``assert_sums_consistent``), the
organisations behind each row exact, and ``top`` (the largest share one hub holds) never below
the true share; after a recompute it is the true share again."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from statsservice.demo.payloads import Generator
from statsservice.domain.deidentify import aggregate_anr
from statsservice.domain.registry import REGISTRY
from statsservice.extensions import db
from statsservice.storage.cells import key_sums
from statsservice.storage.models import Client, ClientDay, RollupDay
from statsservice.storage.stats import NewRecord, upsert_records
from tests.api_support import assert_sums_consistent, auth, new_client

DAY = date(2026, 9, 14)


def aggregates(gen: Generator, anr_index: int, days: list[date], n: int) -> list[dict]:
    """A hub's aggregates of some days: generator records weighing ``n`` analyses each."""
    return [{**rec, "n": n} for day in days for rec in gen.day_batch(anr_index, day)]


def truth() -> dict[tuple[date, int], tuple[int, float]]:
    """(day, key) -> (hubs, largest share of one hub), from the hubs' ``client_day`` rows."""
    rows = db.session.execute(key_sums([ClientDay.date], [Client.local.is_(False)], by_id=True))
    return {(day, key_id): (int(clients), float(top)) for day, key_id, *_sums, clients, top in rows}


def kept() -> dict[tuple[date, int], tuple[int, float]]:
    rows = db.session.execute(
        select(RollupDay.date, RollupDay.key_id, RollupDay.clients, RollupDay.top).where(
            RollupDay.local.is_(False)
        )
    )
    return {(day, key_id): (clients, top) for day, key_id, clients, top in rows}


def assert_hub_rows(exact: set[tuple[date, int]] = frozenset()) -> int:
    """Sums consistent, organisations exact, ``top`` at or above the truth (equal on ``exact``);
    returns the number of hub rows."""
    assert_sums_consistent()
    expected, found = truth(), kept()
    assert found.keys() == expected.keys()
    for pair, (clients, top) in expected.items():
        assert found[pair][0] == clients, pair
        assert found[pair][1] >= top - 1e-9, pair
        if pair in exact:
            assert found[pair][1] == pytest.approx(top), pair
    return len(found)


def pairs_of(name: str) -> set[tuple[date, int]]:
    """The (day, key) pairs a client holds ``client_day`` rows for."""
    client = db.session.scalar(select(Client).where(Client.name == name))
    rows = db.session.execute(
        select(ClientDay.date, ClientDay.key_id).where(ClientDay.client_id == client.id)
    )
    return {(day, key_id) for day, key_id in rows}


def test_hubs_add_to_shared_days_and_a_replacement_or_withdrawal_sums_them_again(client):
    gen = Generator(seed=5, anrs=6)
    hubs = {f"hub {i}": new_client(f"hub {i}", local=False) for i in range(4)}
    db.session.commit()
    days = [DAY, DAY + timedelta(days=1)]
    for i, token in enumerate(hubs.values()):  # every hub the first day, two of them the second too
        batch = aggregates(gen, i, days if i % 2 == 0 else days[:1], n=3 + 7 * i)
        response = client.post("/api/v1/stats/", json=batch, headers=auth(token))
        assert response.status_code == 201, response.get_json()
        assert assert_hub_rows() > 0
    assert {clients for clients, _top in kept().values()} >= {1, 2, 3, 4}

    # the same aggregates again (a retry): replaced, so their days are summed again over every hub
    retry = aggregates(gen, 0, days, n=3)
    assert client.post("/api/v1/stats/", json=retry, headers=auth(hubs["hub 0"])).status_code == 201
    assert_hub_rows(exact=pairs_of("hub 0"))

    # a hub withdraws its threats of the second day: that (type, day) summed again without it
    withdrawn = pairs_of("hub 2")
    anr = aggregate_anr("threat", days[1])
    assert client.delete(f"/api/v1/stats/{anr}", headers=auth(hubs["hub 2"])).status_code == 204
    assert withdrawn - pairs_of("hub 2")  # its threat keys of that day are gone
    assert_hub_rows(exact=withdrawn & set(truth()))

    # a second aggregate of a (type, day) a hub holds (the API names a hub's aggregate by its type
    # and day, so only the storage layer can be asked this): no new organisation behind its keys
    hub_1 = db.session.scalar(select(Client.id).where(Client.name == "hub 1"))
    held, before = pairs_of("hub 1"), kept()
    records = [
        NewRecord(
            anr="another", type=rec["type"], date=DAY, data=REGISTRY[rec["type"]].load(rec["data"]), n=4
        )
        for rec in gen.day_batch(5, DAY)
    ]
    upsert_records(hub_1, records)
    db.session.commit()
    after = kept()
    assert {pair: after[pair][0] for pair in held} == {pair: before[pair][0] for pair in held}
    assert_hub_rows()


def test_a_lone_hub_holds_its_whole_rows_and_nothing_is_shared_with_front_offices(client):
    gen = Generator(seed=9, anrs=2)
    hub = new_client("hub", local=False)
    office = new_client("office")
    db.session.commit()
    assert (
        client.post("/api/v1/stats/", json=aggregates(gen, 0, [DAY], n=5), headers=auth(hub)).status_code
        == 201
    )
    batch = gen.day_batch(1, DAY)
    assert client.post("/api/v1/stats/", json=batch, headers=auth(office)).status_code == 201
    rows = assert_hub_rows()
    assert rows == len(pairs_of("hub"))  # the Front Office's upload reached no shared row
    assert {clients for clients, _top in kept().values()} == {1}
    assert {top for _clients, top in kept().values()} <= {0.0, 1.0}
