"""Retention commands on real data: ``stats_purge`` deletes exactly what is older than N months
(the per-day sums with it), ``stats_remove_duplicate`` only repeated snapshots, ``stats_delete`` only one
client's records; ``stats_list_last`` tells who uploaded when."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from statsservice.demo.payloads import Generator
from statsservice.domain.registry import REGISTRY
from statsservice.extensions import db
from statsservice.storage import clients as registry
from statsservice.storage import partitions, retention
from statsservice.storage.models import ClientDay, ClientLabel, FederationDelivery, Stats
from statsservice.storage.stats import NewRecord, upsert_records
from tests import frozen_clock
from tests.api_support import assert_sums_consistent


def shift_months(day: date, months: int) -> date:
    """Independent month arithmetic for the expectations: step back month by month."""
    year, month = day.year, day.month
    for _ in range(months):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def store(client_name: str, days: list[date], *, anr_index: int = 0, types=("threat", "risk")) -> int:
    """Store one analysis's records of ``types`` for each day (as an upload would); the client id."""
    client = registry.get_by_name(client_name) or registry.create_client(client_name)[0]
    generator = Generator(seed=3, anrs=anr_index + 1)
    records = [
        NewRecord(
            anr=item["anr"], type=item["type"], date=day, data=REGISTRY[item["type"]].load(item["data"])
        )
        for day in days
        for item in generator.day_batch(anr_index, day)
        if item["type"] in types
    ]
    upsert_records(client.id, records)
    db.session.commit()
    return client.id


def dates_left() -> set[date]:
    return set(db.session.scalars(select(Stats.date).distinct()))


def sums_of(days: list[date]) -> int:
    return db.session.scalar(select(func.count()).select_from(ClientDay).where(ClientDay.date.in_(days)))


def test_purge_drops_whole_months_and_a_late_record_brings_its_month_back(app, cli):
    """On PostgreSQL a month wholly before the cutoff goes as a whole partition and the cutoff's
    own month row by row; a record of a dropped month uploaded afterwards is stored (its partition
    is created again). SQLite keeps one table: the same records go, the same stay."""
    postgres = db.engine.dialect.name == "postgresql"
    cutoff = date(2026, 9, 15)
    kept = [cutoff, date(2026, 11, 2)]
    purged = [date(2026, 7, 31), date(2026, 8, 1), cutoff - timedelta(days=1)]
    store("Partitioned FO", kept + purged)
    # other tests' months may be there too: only those of this test's days are asserted
    stored = {date(2026, m, 1) for m in (7, 8, 9, 11)}
    assert (stored <= set(partitions.existing())) == postgres
    removed = retention.purge_before(cutoff)
    db.session.commit()
    assert removed == 2 * len(purged)
    db.session.expire_all()
    assert dates_left() == set(kept)
    left = set(partitions.existing())
    assert all(month >= date(2026, 9, 1) for month in left)
    assert ({date(2026, 9, 1), date(2026, 11, 1)} <= left) == postgres
    assert assert_sums_consistent() == sums_of(kept)
    store("Partitioned FO", [date(2026, 8, 20)])
    assert dates_left() == {*kept, date(2026, 8, 20)}
    assert (date(2026, 8, 1) in partitions.existing()) == postgres
    assert assert_sums_consistent() == sums_of([*kept, date(2026, 8, 20)])


@pytest.mark.parametrize("months", [1, 3, 12, 36])
def test_purge_removes_exactly_what_is_older_than_n_months(app, cli, months):
    today = frozen_clock.today()
    cutoff = shift_months(today, months)
    kept = [cutoff, cutoff + timedelta(days=1), today]
    purged = [cutoff - timedelta(days=1), cutoff - timedelta(days=40)]
    store("Retention FO", kept + purged)
    sums_of_kept = sums_of(kept)
    assert sums_of_kept > 0 and sums_of(purged) > 0

    dry = cli.invoke(args=["stats_purge", "--nb-month", str(months), "--dry-run"])
    assert (
        dry.exit_code == 0 and f"would delete {2 * len(purged)} records dated before {cutoff}" in dry.output
    )
    assert dates_left() == set(kept + purged)

    result = cli.invoke(args=["stats_purge", "--nb-month", str(months)])
    assert result.exit_code == 0, result.output
    assert f"deleted {2 * len(purged)} records dated before {cutoff}" in result.output
    db.session.expire_all()
    assert dates_left() == set(kept)
    # the per-day sums of purged days went with them, those of kept days are untouched
    assert assert_sums_consistent() == sums_of_kept and sums_of(purged) == 0
    # on PostgreSQL the purge makes next month's partition ahead of its first upload
    next_month = (today.replace(day=1) + timedelta(days=31)).replace(day=1)
    assert (next_month in partitions.existing()) == (db.engine.dialect.name == "postgresql")


def test_purge_default_comes_from_config_keeps_releases_and_drops_orphan_labels(app, cli):
    """Released days stay recorded (each day is released once, whatever is purged); a client's
    labels go with its last record of their type."""
    app.config["PURGE_NB_MONTHS"] = 2
    today = frozen_clock.today()
    cutoff = shift_months(today, 2)
    kept_id = store("Config FO", [cutoff - timedelta(days=1), cutoff])
    gone_id = store("Old FO", [cutoff - timedelta(days=2)], anr_index=1)
    for day in (cutoff - timedelta(days=1), cutoff):
        db.session.add(FederationDelivery(type="threat", date=day, digest="d" * 64, analyses=3))
    db.session.commit()
    result = cli.invoke(args=["stats_purge"])
    assert result.exit_code == 0 and "older than 2 months" in result.output
    db.session.expire_all()
    assert dates_left() == {cutoff}
    assert set(db.session.scalars(select(FederationDelivery.date))) == {cutoff - timedelta(days=1), cutoff}
    owners = set(db.session.scalars(select(ClientLabel.client_id)))
    assert kept_id in owners and gone_id not in owners


@pytest.mark.parametrize("setting", [0, -3, "soon"])
def test_purge_refuses_a_bad_setting_with_one_line(app, cli, setting):
    app.config["PURGE_NB_MONTHS"] = setting
    store("Bad config FO", [frozen_clock.today() - timedelta(days=5000)])
    result = cli.invoke(args=["stats_purge"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: PURGE_NB_MONTHS must be a whole number of months >= 1, not {setting!r}"
    ]
    assert len(dates_left()) == 1
    assert cli.invoke(args=["stats_purge", "--nb-month", "0"]).exit_code == 2  # usage error
    assert len(dates_left()) == 1


def test_remove_duplicate_keeps_changes_and_the_first_of_each_month(app, cli):
    client_id = store("Old system FO", [])
    generator = Generator(seed=3, anrs=2)
    same, other = (generator.day_batch(0, date(2024, 1, 1))[1], generator.day_batch(0, date(2024, 1, 3))[1])
    assert same["type"] == "threat" and same["data"] != other["data"]

    def snapshot(day: date, item: dict, anr: str | None = None) -> NewRecord:
        return NewRecord(
            anr=anr or item["anr"], type="threat", date=day, data=REGISTRY["threat"].load(item["data"])
        )

    series = [  # day, content; True where the record repeats the previous one in the same month
        (date(2024, 1, 30), same, False),
        (date(2024, 1, 31), same, True),
        (date(2024, 2, 1), same, False),  # first of February: kept
        (date(2024, 2, 2), same, True),
        (date(2024, 2, 3), other, False),  # changed
        (date(2024, 2, 4), same, False),  # changed back
        (date(2024, 2, 5), same, True),
    ]
    upsert_records(client_id, [snapshot(day, item) for day, item, _dup in series])
    # the same content in another analysis is another series: nothing there is a duplicate of ours
    upsert_records(client_id, [snapshot(date(2024, 1, 31), same, anr=generator.anrs[1]["uuid"])])
    db.session.commit()
    duplicate_days = {day for day, _item, dup in series if dup}

    dry = cli.invoke(args=["stats_remove_duplicate", "--dry-run"])
    assert dry.exit_code == 0 and f"{len(duplicate_days)} duplicate records found" in dry.output
    refused = cli.invoke(args=["stats_remove_duplicate"], input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert db.session.scalar(select(func.count()).select_from(Stats)) == len(series) + 1

    result = cli.invoke(args=["stats_remove_duplicate", "--type", "threat", "-y"])
    assert result.exit_code == 0 and f"deleted {len(duplicate_days)} duplicate records" in result.output
    db.session.expire_all()
    left = set(db.session.execute(select(Stats.anr, Stats.date)).all())
    ours = generator.anrs[0]["uuid"]
    assert {day for anr, day in left if anr == ours} == {day for day, _i, _d in series} - duplicate_days
    assert (generator.anrs[1]["uuid"], date(2024, 1, 31)) in left
    assert_sums_consistent()  # the per-day sums follow the deleted records
    assert "0 duplicate records found" in cli.invoke(args=["stats_remove_duplicate", "-y"]).output


def test_list_last_and_delete_one_clients_records(app, cli):
    today = frozen_clock.today()
    first = store("First FO", [today - timedelta(days=3), today - timedelta(days=1)])
    store("First FO", [today - timedelta(days=1)], anr_index=1)
    store("Second FO", [today - timedelta(days=2)])
    first_uuid = registry.get_by_name("First FO").uuid

    listing = cli.invoke(args=["stats_list_last", "--type", "threat"])
    assert listing.exit_code == 0
    lines = listing.output.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{today - timedelta(days=1)}  threat")
    assert first_uuid in lines[0] and "analyses=2 records=3" in lines[0]
    assert "Second FO" in lines[1] and "analyses=1 records=1" in lines[1]
    mine = cli.invoke(args=["stats_list_last", "--client-uuid", first_uuid]).output.strip().splitlines()
    assert len(mine) == 2 and all("First FO" in line for line in mine)  # threat and risk

    unknown = cli.invoke(args=["stats_delete", "--client-uuid", "0b7c6c3e-0000-4000-8000-000000000000", "-y"])
    assert unknown.exit_code == 1
    assert unknown.output.strip() == "Error: no client with uuid 0b7c6c3e-0000-4000-8000-000000000000"
    declined = cli.invoke(args=["stats_delete", "--client-uuid", first_uuid], input="n\n")
    assert declined.exit_code == 1
    assert db.session.scalar(select(func.count()).select_from(Stats).where(Stats.client_id == first)) == 6

    result = cli.invoke(args=["stats_delete", "--client-uuid", first_uuid, "-y"])
    assert result.exit_code == 0 and f"deleted 6 records of client {first_uuid}" in result.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Stats).where(Stats.client_id == first)) == 0
    assert db.session.scalar(select(func.count()).select_from(Stats)) == 2  # the other client's
    assert registry.get_by_uuid(first_uuid) is not None  # the client stays registered
    assert_sums_consistent()  # the per-day sums follow the deleted records
    assert cli.invoke(args=["stats_list_last", "--client-uuid", first_uuid]).output.strip() == "no records"
