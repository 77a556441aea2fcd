"""``flask stats_demo``: realistic demo data under clearly named demo clients, for an empty hub."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from statsservice.demo.payloads import TYPES, Generator
from statsservice.extensions import db
from statsservice.storage import clients as registry
from statsservice.storage.models import Client, PublicRelease, Stats
from tests import frozen_clock
from tests.api_support import assert_sums_consistent

ANALYSES, DAYS = 3, 4


def demo(cli, *args: str):
    return cli.invoke(args=["stats_demo", "--analyses", str(ANALYSES), "--days", str(DAYS), *args])


def stats_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Stats))


def test_demo_fills_an_empty_hub_under_demo_clients(cli, app):
    result = demo(cli)
    assert result.exit_code == 0, result.output
    assert stats_count() == ANALYSES * DAYS * len(TYPES)
    assert f"stored {ANALYSES * DAYS * len(TYPES)} demo records" in result.output

    clients = list(db.session.scalars(select(Client)))
    assert len(clients) == ANALYSES  # one analysis per demo client while there are fewer than sites
    assert all(c.name.startswith("Demo client") for c in clients)
    assert all(c.is_demo for c in clients)
    # demo data never leaves the hub: a push of every day of it would release nothing
    pushed = cli.invoke(
        args=["stats_push", "--dry-run", "--date-from", str(frozen_clock.today() - timedelta(days=DAYS))]
    )
    assert pushed.exit_code == 0, pushed.output
    assert "would release 0;" in pushed.output, pushed.output
    assert any(c.latitude is not None and c.longitude is not None for c in clients)
    # the records are the generator's, for the last DAYS days, with their per-day sums for the processors
    expected = Generator(seed=1, anrs=ANALYSES)
    stored_anrs = set(db.session.scalars(select(Stats.anr).distinct()))
    assert stored_anrs == {anr["uuid"] for anr in expected.anrs}
    days = set(db.session.scalars(select(Stats.date).distinct()))
    assert days == {frozen_clock.today() - timedelta(days=d) for d in range(DAYS)}
    assert assert_sums_consistent() > 0


def test_demo_is_idempotent_and_removable(cli, app):
    assert demo(cli).exit_code == 0
    first = stats_count()
    assert demo(cli).exit_code == 0
    assert stats_count() == first  # records are replaced, never doubled

    result = cli.invoke(args=["stats_demo", "--remove"])
    assert result.exit_code == 0, result.output
    assert f"removed {ANALYSES} demo clients, {first} records and " in result.output
    assert db.session.scalar(select(func.count()).select_from(PublicRelease)) == 0  # its releases too
    assert stats_count() == 0
    assert db.session.scalar(select(func.count()).select_from(Client)) == 0


def test_demo_refuses_a_hub_with_real_stats_unless_forced(cli, app):
    client, _ = registry.create_client("Real client")
    db.session.add(Stats(client_id=client.id, anr="a" * 36, type="risk", date=frozen_clock.today(), data={}))
    db.session.commit()

    result = demo(cli)
    assert result.exit_code != 0
    assert "already has real stats" in result.output
    assert stats_count() == 1

    assert demo(cli, "--force").exit_code == 0
    assert stats_count() == 1 + ANALYSES * DAYS * len(TYPES)
    assert cli.invoke(args=["stats_demo", "--remove"]).exit_code == 0
    assert stats_count() == 1  # only the demo clients went away
    assert registry.get_by_name("Real client") is not None


def test_demo_rejects_bad_options(cli, app):
    for args in (["--analyses", "0"], ["--days", "-1"], ["--analyses", "many"]):
        result = cli.invoke(args=["stats_demo", *args])
        assert result.exit_code != 0 and "Invalid value" in result.output, args
    assert stats_count() == 0
