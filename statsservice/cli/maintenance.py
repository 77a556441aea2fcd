"""Retention and housekeeping commands: ``stats_purge``, ``stats_remove_duplicate``,
``stats_list_last`` and ``stats_delete``."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from statsservice import clock
from statsservice.domain.dates import months_before
from statsservice.domain.registry import TYPE_NAMES
from statsservice.domain.retention import duplicates
from statsservice.extensions import db
from statsservice.observability.cli import command
from statsservice.observability.metrics import record_job
from statsservice.storage import clients as registry
from statsservice.storage import partitions, retention
from statsservice.storage.clients import ClientError
from statsservice.text import plural


def _configured_months() -> int:
    value = current_app.config.get("PURGE_NB_MONTHS")
    try:
        months = int(value)
    except (TypeError, ValueError):
        months = 0
    if months < 1:
        raise click.ClickException(f"PURGE_NB_MONTHS must be a whole number of months >= 1, not {value!r}")
    return months


@command("stats_purge")
@click.option(
    "--nb-month",
    type=click.IntRange(min=1),
    default=None,
    help="Delete records older than this many months (default: PURGE_NB_MONTHS).",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@with_appcontext
def stats_purge(nb_month: int | None, dry_run: bool) -> None:
    """Delete the records dated before the same day N months ago (their rollups go too)."""
    months = nb_month or _configured_months()
    cutoff = months_before(clock.today(), months)
    if dry_run:
        click.echo(
            f"dry run: would delete {plural(retention.count_before(cutoff), 'record')} dated before {cutoff}"
        )
        return
    try:
        removed = retention.purge_before(cutoff)
        db.session.commit()
        partitions.ensure(partitions.this_and_next_month(clock.today()))
    except SQLAlchemyError as exc:
        db.session.rollback()
        record_job("purge", False)
        raise click.ClickException(f"nothing deleted: database error ({exc.__class__.__name__})") from None
    record_job("purge", True)
    click.echo(
        f"deleted {plural(removed, 'record')} dated before {cutoff} (older than {plural(months, 'month')})"
    )


@command("stats_remove_duplicate")
@click.option("--type", "stats_type", type=click.Choice(TYPE_NAMES), help="Only this type (default: all).")
@click.option(
    "--nb-month",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Only records older than this many months (0: all).",
)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Only count the duplicates.")
@with_appcontext
def stats_remove_duplicate(stats_type: str | None, nb_month: int, yes: bool, dry_run: bool) -> None:
    """Delete repeated snapshots imported from older systems.

    Within one analysis's history of one type, a record whose data equals the previous record's
    in the same calendar month is removed; the first record of every month is kept.
    """
    before = months_before(clock.today(), nb_month) if nb_month else None
    found = list(duplicates(retention.iter_snapshots(stats_type, before)))
    if dry_run or not found:
        click.echo(f"{'dry run: ' if dry_run else ''}{plural(len(found), 'duplicate record')} found")
        return
    if not yes:
        click.confirm(f"Delete {len(found)} duplicate records?", abort=True)
    removed = retention.delete_ids(found)
    db.session.commit()
    click.echo(f"deleted {plural(removed, 'duplicate record')}")


@command("stats_list_last")
@click.option("--type", "stats_type", type=click.Choice(TYPE_NAMES), help="Only this type.")
@click.option("--client-uuid", help="Only this client.")
@with_appcontext
def stats_list_last(stats_type: str | None, client_uuid: str | None) -> None:
    """For each client and type: the last day with records, its analyses, and all records."""
    client_id = None
    if client_uuid:
        try:
            client_id = registry.require_by_uuid(client_uuid).id
        except ClientError as exc:
            raise click.ClickException(str(exc)) from None
    rows = retention.last_uploads(stats_type, client_id)
    if not rows:
        click.echo("no records")
        return
    for uuid, name, kind, last_date, analyses, records in rows:
        click.echo(f"{last_date}  {kind:<13} {uuid}  {name}  analyses={analyses} records={records}")


@command("stats_delete")
@click.option("--client-uuid", required=True, help="The client whose records are deleted.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def stats_delete(client_uuid: str, yes: bool) -> None:
    """Delete every record of one client (the client stays registered)."""
    try:
        client = registry.require_by_uuid(client_uuid)
    except ClientError as exc:
        raise click.ClickException(str(exc)) from None
    if not yes:
        click.confirm(f"Delete all records of client {client.name!r}?", abort=True)
    removed = retention.delete_client_stats(client.id)
    db.session.commit()
    click.echo(f"deleted {plural(removed, 'record')} of client {client_uuid}")


def register(app: Flask) -> None:
    for cmd in (stats_purge, stats_remove_duplicate, stats_list_last, stats_delete):
        app.cli.add_command(cmd)
