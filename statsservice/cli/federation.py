"""``stats_push`` and ``stats_pull``: the local hub's side of federation (SPEC §7)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta

import click
import requests
from flask import Flask, current_app
from flask.cli import with_appcontext

from statsservice import clock
from statsservice.cli.options import DAY
from statsservice.config import instance_secret
from statsservice.domain.federation.aggregates import Outgoing, Withheld, build
from statsservice.domain.federation.remote import RemoteHub
from statsservice.domain.stats_types import TYPE_NAMES
from statsservice.extensions import db
from statsservice.observability.cli import command
from statsservice.observability.metrics import record_job
from statsservice.storage import federation as store
from statsservice.text import plural

SECRET_FILE = "federation_key"


@dataclass
class PushPlan:
    send: list[Outgoing] = field(default_factory=list)
    delete: list[tuple[str, date, str]] = field(default_factory=list)  # (type, day, pseudonym)
    unchanged: int = 0
    withheld: list[Withheld] = field(default_factory=list)


def _remote() -> RemoteHub:
    cfg = current_app.config
    if not cfg.get("REMOTE_STATS_SERVER") or not cfg.get("REMOTE_STATS_TOKEN"):
        raise click.ClickException("REMOTE_STATS_SERVER and REMOTE_STATS_TOKEN must be configured")
    return RemoteHub(
        cfg["REMOTE_STATS_SERVER"],
        cfg["REMOTE_STATS_TOKEN"],
        retries=cfg["FEDERATION_RETRIES"],
        backoff=cfg["FEDERATION_BACKOFF"],
        timeout=cfg["FEDERATION_TIMEOUT"],
    )


def plan_push(date_from: date, date_to: date) -> PushPlan:
    """Compare the aggregates of the window with what was delivered before."""
    from statsservice.domain.deidentify import pseudonym

    cfg = current_app.config
    secret = instance_secret(current_app.instance_path, SECRET_FILE)
    delivered = store.deliveries(date_from, date_to)
    plan = PushPlan()
    seen: set[tuple[str, date]] = set()
    for stats_type in TYPE_NAMES:
        for day, records in store.iter_shared_days(stats_type, date_from, date_to):
            result = build(
                stats_type,
                day,
                records,
                secret=secret,
                min_analyses=cfg["FEDERATION_MIN_ANALYSES"],
                strip=cfg["FEDERATION_STRIP_LABELS"],
            )
            if isinstance(result, Withheld):
                plan.withheld.append(result)
                continue
            seen.add((stats_type, day))
            previous = delivered.get((stats_type, day))
            if previous is not None and previous.digest == result.digest:
                plan.unchanged += 1
            else:
                plan.send.append(result)
    for stats_type, day in sorted(set(delivered) - seen):
        # delivered before, now withheld or gone: withdraw it from the global hub
        plan.delete.append((stats_type, day, pseudonym(secret, stats_type, day)))
    return plan


def _stored_indexes(response: requests.Response, size: int) -> set[int]:
    """Which records of a batch the global hub stored (201: all; 207: all but the refused)."""
    if response.status_code == 201:
        return set(range(size))
    if response.status_code == 207:
        try:
            refused = {int(i) for i in response.json().get("refused", [])}
        except (ValueError, TypeError, AttributeError):
            return set()
        return set(range(size)) - refused
    return set()


def _describe(response: requests.Response) -> str:
    try:
        return f"HTTP {response.status_code}: {response.json().get('message', '')}"
    except ValueError:
        return f"HTTP {response.status_code}"


def _failure(exc: requests.RequestException, server: str) -> str:
    """What failed and where: the exception class and the URL (never a header: the token is one)."""
    url = getattr(exc.request, "url", None) or server
    return f"{exc.__class__.__name__} at {url}"


@command("stats_push")
@click.option("--date-from", type=DAY, help="First day (default: window before today).")
@click.option("--date-to", type=DAY, help="Last day (default: today).")
@click.option("--dry-run", is_flag=True, help="Print exactly what would leave the hub; send nothing.")
@with_appcontext
def stats_push(date_from, date_to, dry_run: bool) -> None:
    """Push de-identified aggregates of sharing clients to the global hub."""
    cfg = current_app.config
    day_to = date_to.date() if date_to else clock.today()
    day_from = date_from.date() if date_from else day_to - timedelta(days=cfg["FEDERATION_WINDOW_DAYS"])
    if day_from > day_to:
        raise click.ClickException("--date-from is after --date-to")
    plan = plan_push(day_from, day_to)
    for item in plan.withheld:
        click.echo(
            f"withheld {item.type} {item.date}: {plural(item.analyses, 'analysis', 'analyses')} "
            f"< {cfg['FEDERATION_MIN_ANALYSES']}"
        )
    if dry_run:
        for item in plan.send:
            click.echo(json.dumps(item.payload, sort_keys=True, ensure_ascii=False))
        for stats_type, day, anr in plan.delete:
            click.echo(json.dumps({"delete": anr, "type": stats_type, "date": day.isoformat()}))
        click.echo(
            f"dry run: would send {len(plan.send)}, delete {len(plan.delete)}; "
            f"unchanged {plan.unchanged}, withheld {len(plan.withheld)}"
        )
        return

    remote = _remote()
    sent = failed = deleted = 0
    size = max(1, cfg["FEDERATION_BATCH_SIZE"])
    batches = [plan.send[i : i + size] for i in range(0, len(plan.send), size)]
    for number, batch in enumerate(batches, 1):
        try:
            response = remote.post_stats([item.payload for item in batch])
            stored, reason = _stored_indexes(response, len(batch)), _describe(response)
        except requests.RequestException as exc:
            stored, reason = set(), _failure(exc, cfg["REMOTE_STATS_SERVER"])
        for index in stored:
            item = batch[index]
            store.mark_delivered(item.type, item.date, item.digest, item.analyses)
        db.session.commit()  # what was delivered stays recorded even if a later batch fails
        sent += len(stored)
        failed += len(batch) - len(stored)
        status = "ok" if len(stored) == len(batch) else f"failed {len(batch) - len(stored)} ({reason})"
        click.echo(f"batch {number}/{len(batches)}: {len(stored)} sent, {status}")
    for stats_type, day, anr in plan.delete:
        try:
            response = remote.delete_analysis(anr)
            ok = response.status_code in (204, 404)
        except requests.RequestException:
            ok = False
        if ok:
            store.forget_delivery(stats_type, day)
            db.session.commit()
            deleted += 1
        else:
            failed += 1
    click.echo(
        f"summary: sent {sent}, unchanged {plan.unchanged}, withheld {len(plan.withheld)}, "
        f"withdrawn {deleted}, failed {failed}"
    )
    record_job("push", failed == 0)
    if failed:
        raise click.ClickException(
            f"{plural(failed, 'aggregate')} not delivered to {cfg['REMOTE_STATS_SERVER']}; the next run retries"
        )


@command("stats_pull")
@with_appcontext
def stats_pull() -> None:
    """Fetch community series from the global hub (every processor it lists); replaces the last pull."""
    cfg = current_app.config
    remote = _remote()
    period = cfg["FEDERATION_PULL_PERIOD"]
    params = {
        "aggregation_period": period,
        "date_from": (clock.today() - timedelta(days=cfg["FEDERATION_PULL_DAYS"])).isoformat(),
        "date_to": clock.today().isoformat(),
    }
    try:
        listing = remote.session.get(f"{remote.base_url}/stats/processed/list", timeout=remote.timeout)
        listing.raise_for_status()
        names = [item["name"] for item in listing.json()]
        series = []
        for name in names:
            response = remote.processed({**params, "processor": name})
            if response.status_code != 200:
                raise click.ClickException(f"processor {name}: {_describe(response)}")
            body = response.json()
            series.append({"processor": name, "period": period, "type": body["type"], "data": body["data"]})
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        record_job("pull", False)
        where = (
            _failure(exc, remote.base_url)
            if isinstance(exc, requests.RequestException)
            else f"{exc.__class__.__name__} (an unexpected answer from {remote.base_url})"
        )
        raise click.ClickException(f"could not pull from the global hub: {where}") from None
    except click.ClickException:
        record_job("pull", False)
        raise
    store.replace_community_series(series)
    db.session.commit()
    record_job("pull", True)
    click.echo(
        f"pulled {plural(len(series), 'community series', 'community series')} ({period}, last {cfg['FEDERATION_PULL_DAYS']} days)"
    )


def register(app: Flask) -> None:
    app.cli.add_command(stats_push)
    app.cli.add_command(stats_pull)
