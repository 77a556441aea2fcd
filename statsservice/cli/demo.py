"""``flask stats_demo``: fill an empty hub with realistic demo data, so a fresh install shows a
living dashboard. The data belongs to clearly named demo clients that never share upward: they
are marked ``is_demo``; a day only they hold is released for this hub's public face and never
pushed, and beside a real client's data theirs is left out (``storage.release.population``). The
command releases the days it filled (``stats_release``), so the dashboard shows them at once."""

from __future__ import annotations

from datetime import date

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from statsservice.cli.release import release_days, report
from statsservice.demo.payloads import Generator
from statsservice.domain.registry import REGISTRY
from statsservice.extensions import db
from statsservice.observability.cli import command
from statsservice.storage import clients as registry
from statsservice.storage import release
from statsservice.storage.models import Stats
from statsservice.storage.stats import NewRecord, upsert_records
from statsservice.text import plural

DEMO_PREFIX = "Demo client"
#: (place, latitude, longitude); None: a demo client the map cannot show. Three share one map
#: area (0.1°), so with k = 3 the map shows it; Brussels is alone in its area: not on the map.
DEMO_SITES: tuple[tuple[str, float | None, float | None], ...] = (
    ("Luxembourg", 49.61, 6.13),
    ("Brussels", 50.85, 4.35),
    ("Luxembourg-Limpertsberg", 49.62, 6.12),
    ("Luxembourg-Gasperich", 49.60, 6.14),
    ("no coordinates", None, None),
)


def demo_name(index: int) -> str:
    place = DEMO_SITES[index][0]
    return f"{DEMO_PREFIX} {index + 1} ({place})"


def demo_client_ids() -> list[int]:
    names = [demo_name(i) for i in range(len(DEMO_SITES))]
    return [client.id for client in registry.list_clients() if client.name in names]


def _other_clients_have_stats(demo_ids: list[int]) -> bool:
    query = select(Stats.id).limit(1)
    if demo_ids:
        query = query.where(Stats.client_id.not_in(demo_ids))
    return db.session.scalar(query) is not None


def _ensure_demo_client(index: int) -> int:
    name = demo_name(index)
    client = registry.get_by_name(name)
    if client is None:
        client, _token = registry.create_client(name, is_demo=True)
    if not client.is_demo or not client.is_sharing_enabled:  # a demo made by an older version
        client.is_demo = client.is_sharing_enabled = True
    _place, latitude, longitude = DEMO_SITES[index]
    if client.latitude != latitude or client.longitude != longitude:
        registry.set_coordinates(client.uuid, latitude, longitude)
    return client.id


def fill(analyses: int, days: int, *, seed: int = 1, end: date | None = None, weather: bool = False) -> int:
    """Store ``days`` days of ``analyses`` analyses spread over the demo clients; return the count.
    ``weather``: the generator's mode with trends, seasons and change points (``stats_demo``'s)."""
    generator = Generator(seed=seed, anrs=analyses, weather=weather, end=end)
    client_ids = [_ensure_demo_client(i) for i in range(min(analyses, len(DEMO_SITES)))]
    owner = {anr["uuid"]: client_ids[i % len(client_ids)] for i, anr in enumerate(generator.anrs)}
    stored = 0
    for day, anr_uuid, batch in generator.iter_batches(days, end):
        records = [
            NewRecord(
                anr=item["anr"], type=item["type"], date=day, data=REGISTRY[item["type"]].load(item["data"])
            )
            for item in batch
        ]
        stored += len(upsert_records(owner[anr_uuid], records))
        if anr_uuid == generator.anrs[-1]["uuid"]:
            db.session.commit()  # one transaction per day keeps memory flat
    db.session.commit()
    return stored


@command("stats_demo")
@click.option("--analyses", type=click.IntRange(1, 500), default=10, show_default=True, help="Analyses.")
@click.option("--days", type=click.IntRange(1, 3660), default=90, show_default=True, help="Days up to today.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the generator (reproducible).")
@click.option(
    "--weather/--no-weather",
    default=True,
    show_default=True,
    help="Trends, seasons and a few recent changes in the data, for the cyber weather to show.",
)
@click.option("--force", is_flag=True, help="Add the demo even though other clients have stats.")
@click.option("--remove", is_flag=True, help="Delete the demo clients and all their stats, then stop.")
@with_appcontext
def stats_demo(analyses: int, days: int, seed: int, weather: bool, force: bool, remove: bool) -> None:
    """Fill an empty hub with realistic demo data under clearly named demo clients."""
    demo_ids = demo_client_ids()
    if remove:
        removed = 0
        for client in registry.list_clients():
            if client.id in demo_ids:
                removed += registry.delete_client(client.uuid)
        forgotten = release.forget_demo()
        db.session.commit()
        run = release_days()  # days real clients hold are released from their data alone
        click.echo(
            f"removed {plural(len(demo_ids), 'demo client')}, {plural(removed, 'record')} and "
            f"{plural(forgotten, 'demo release')}; {report(run)}"
        )
        return
    if not force and _other_clients_have_stats(demo_ids):
        raise click.ClickException(
            "this hub already has real stats; the demo is for an empty hub (use --force to add it anyway)"
        )
    stored = fill(analyses, days, seed=seed, weather=weather)
    run = release_days()
    click.echo(
        f"stored {plural(stored, 'demo record')}: {plural(analyses, 'analysis', 'analyses')} x "
        f"{plural(days, 'day')} under {plural(min(analyses, len(DEMO_SITES)), 'client')} "
        f"named '{DEMO_PREFIX} ...' (on this hub's dashboard, never pushed); {report(run)}; "
        "remove them with: flask --app statsservice stats_demo --remove"
    )


def register(app: Flask) -> None:
    app.cli.add_command(stats_demo)
