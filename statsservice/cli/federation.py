"""``stats_push`` and ``stats_pull``: the local hub's side of federation (SPEC §7)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import click
import requests
from flask import Flask, current_app
from flask.cli import with_appcontext

from statsservice import clock, jsontext
from statsservice.cli import dp as dp_mode
from statsservice.cli.options import DAY
from statsservice.cli.release import ReleaseRun, echo_privacy, refuse_loudly, release_days
from statsservice.domain.deidentify import aggregate_anr
from statsservice.domain.federation.aggregates import (
    FREE_TEXT_KEYS,
    Outgoing,
    Withheld,
    last_final_day,
    strip_labels,
)
from statsservice.domain.registry import TYPE_NAMES
from statsservice.extensions import db
from statsservice.federation_http import RemoteHub
from statsservice.observability.cli import command
from statsservice.observability.metrics import record_job
from statsservice.storage import federation as store
from statsservice.storage import release as release_store
from statsservice.text import plural
from statsservice.web import community


@dataclass
class PushPlan:
    """Releases this run queues for the global hub, the days it leaves out, and what was released
    before this run made its own (``run``)."""

    run: ReleaseRun
    release: list[Outgoing] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)
    already: int = 0

    @property
    def suppressed(self) -> Counter:
        total: Counter = Counter()
        for item in [*self.release, *self.withheld]:
            total.update(item.suppressed)
        return total


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


def _suppressed(row: release_store.PublicRelease) -> Counter:
    return Counter({"k": row.suppressed_k, "dominance": row.suppressed_dominance})


def plan_push(date_from: date, date_to: date, *, dry_run: bool = False) -> PushPlan:
    """Release the due days (``stats_release``), then take the window's releases the outbox does
    not hold: the push sends the very cells the public faces show. Demo releases never leave;
    with ``FEDERATION_STRIP_LABELS`` labels are emptied and compliance (keyed by free text) stays."""
    strip = current_app.config["FEDERATION_STRIP_LABELS"]
    run = release_days(date_from if dry_run else None, date_to, dry_run=dry_run)
    plan = PushPlan(run)
    queued = store.releases(date_from, date_to)
    found: dict[tuple[str, date], Outgoing | Withheld] = {}
    for row in release_store.releases_of().values():
        if not date_from <= row.date <= date_to or row.demo:
            continue
        if row.status == release_store.RELEASED and row.payload is not None:
            found[(row.type, row.date)] = Outgoing(
                row.type, row.date, row.analyses, row.payload, _suppressed(row)
            )
        elif row.status == release_store.WITHHELD:
            found[(row.type, row.date)] = Withheld(
                row.type, row.date, row.analyses, row.organisations, row.reason, _suppressed(row)
            )
    for made in run.made:  # a dry run stored nothing: its plans stand for the releases
        if not made.demo and date_from <= made.result.date <= date_to:
            found[(made.result.type, made.result.date)] = made.result
    for (stats_type, day), item in sorted(found.items(), key=lambda pair: (pair[0][1], pair[0][0])):
        if isinstance(item, Withheld):
            plan.withheld.append(item)
        elif (stats_type, day) in queued:
            plan.already += 1
        elif strip and stats_type in FREE_TEXT_KEYS:
            plan.withheld.append(
                Withheld(stats_type, day, item.analyses, 0, "keyed by free text (labels stripped)")
            )
        else:
            payload = strip_labels(item.payload) if strip else item.payload
            plan.release.append(Outgoing(stats_type, day, item.analyses, payload, item.suppressed))
    return plan


def _json(response: requests.Response) -> Any:
    """The global hub's answer, decoded like any JSON the hub did not write (a hostile or broken
    hub's deep nesting or duplicate keys raise ``JsonTextError``, a ``ValueError``)."""
    return jsontext.decode(response.content, max_chars=64 * 1024 * 1024)


def _stored_indexes(response: requests.Response, size: int) -> set[int]:
    """Which records of a batch the global hub stored (201: all; 207: all but the refused)."""
    if response.status_code == 201:
        return set(range(size))
    if response.status_code == 207:
        try:
            refused = {int(i) for i in _json(response).get("refused", [])}
        except (ValueError, TypeError, AttributeError):
            return set()
        return set(range(size)) - refused
    return set()


def _describe(response: requests.Response) -> str:
    try:
        return f"HTTP {response.status_code}: {str(_json(response).get('message', ''))[:300]}"
    except (ValueError, AttributeError):
        return f"HTTP {response.status_code}"


def _failure(exc: requests.RequestException, server: str) -> str:
    """What failed and where: the exception class and the URL (never a header: the token is one)."""
    url = getattr(exc.request, "url", None) or server
    return f"{exc.__class__.__name__} at {url}"


def _withdraw(day: date) -> None:
    """Delete every type's aggregate of ``day`` on the global hub; never send that day again."""
    remote = _remote()
    failed = []
    for stats_type in TYPE_NAMES:
        try:
            response = remote.delete_analysis(aggregate_anr(stats_type, day))
            ok = response.status_code in (204, 404)
        except requests.RequestException:
            ok = False
        if not ok:
            failed.append(stats_type)
            continue
        store.mark_withdrawn(stats_type, day)
        release_store.withdraw(day, [stats_type])  # both faces release the same cells
        db.session.commit()
    record_job("push", not failed)
    if failed:
        raise click.ClickException(f"could not withdraw {day} ({', '.join(failed)}): run it again")
    click.echo(
        f"withdrawn {day}: every type deleted on the global hub and taken from the public faces, "
        "never released again"
    )


@command("stats_push")
@click.option("--date-from", type=DAY, help="First day (default: window before the last final day).")
@click.option(
    "--date-to", type=DAY, help="Last day (default and latest: FEDERATION_DELAY_DAYS before today)."
)
@click.option("--dry-run", is_flag=True, help="Print exactly what would leave the hub; send nothing.")
@click.option(
    "--withdraw",
    "withdraw_day",
    type=DAY,
    help="Delete this released day on the global hub (every type); it is never sent again.",
)
@with_appcontext
def stats_push(date_from, date_to, dry_run: bool, withdraw_day) -> None:
    """Release each final day once: de-identified aggregates of sharing clients' released cells."""
    cfg = current_app.config
    if withdraw_day:
        _withdraw(withdraw_day.date())
        return
    final = last_final_day(clock.today(), cfg["FEDERATION_DELAY_DAYS"])
    day_to = min(date_to.date(), final) if date_to else final
    day_from = date_from.date() if date_from else day_to - timedelta(days=cfg["FEDERATION_WINDOW_DAYS"])
    if day_from > day_to:
        raise click.ClickException(f"--date-from is after --date-to (days up to {final} are final)")
    plan = plan_push(day_from, day_to, dry_run=dry_run)
    echo_privacy(plan.run, withheld=False)
    for item in plan.withheld:
        click.echo(f"withheld {item.type} {item.date}: {item.reason}")
    suppressed = plan.suppressed
    counts = f"suppressed_k {suppressed['k']}, suppressed_dominance {suppressed['dominance']}"
    if dry_run:
        for item in plan.release:
            click.echo(json.dumps(item.payload, sort_keys=True, ensure_ascii=False))
        settings = dp_mode.dp_settings()
        if settings is not None:
            for made in plan.run.dp.made if plan.run.dp else []:
                click.echo(f"would release {made.label}: {plural(made.organisations, 'organisation')}")
            for line in dp_mode.expected_lines(settings):
                click.echo(line)
        click.echo(
            f"dry run: would release {len(plan.release)}; already released {plan.already}, "
            f"withheld {len(plan.withheld)}, {counts}"
        )
        return

    remote = _remote()
    for item in plan.release:  # fixed before sending: a retry re-sends these very bytes
        store.add_release(item.type, item.date, item.payload, item.digest, item.analyses)
    db.session.commit()
    outbox = store.pending()
    sent = failed = 0
    size = max(1, cfg["FEDERATION_BATCH_SIZE"])
    batches = [outbox[i : i + size] for i in range(0, len(outbox), size)]
    for number, batch in enumerate(batches, 1):
        try:
            response = remote.post_stats([row.payload for row in batch])
            stored, reason = _stored_indexes(response, len(batch)), _describe(response)
        except requests.RequestException as exc:
            stored, reason = set(), _failure(exc, cfg["REMOTE_STATS_SERVER"])
        for index in stored:
            store.mark_delivered(batch[index])
        db.session.commit()  # what was delivered stays recorded even if a later batch fails
        sent += len(stored)
        failed += len(batch) - len(stored)
        status = "ok" if len(stored) == len(batch) else f"failed {len(batch) - len(stored)} ({reason})"
        click.echo(f"batch {number}/{len(batches)}: {len(stored)} sent, {status}")
    click.echo(
        f"summary: sent {sent}, released {len(plan.release)}, already {plan.already}, "
        f"withheld {len(plan.withheld)}, {counts}, failed {failed}"
    )
    record_job("push", failed == 0 and not (plan.run.dp and plan.run.dp.refused))
    refuse_loudly(plan.run)
    if failed:
        raise click.ClickException(
            f"{plural(failed, 'aggregate')} not delivered to {cfg['REMOTE_STATS_SERVER']}; the next run retries them"
        )


@command("stats_pull")
@with_appcontext
def stats_pull() -> None:
    """Fetch the community's day series (with their weights) from the global hub; replaces the last pull.

    By day, so the dashboard can rebuild any window and period exactly as it computes its own."""
    cfg = current_app.config
    remote = _remote()
    period = community.PULL_PERIOD
    params = {
        "aggregation_period": period,
        "date_from": (clock.today() - timedelta(days=cfg["FEDERATION_PULL_DAYS"])).isoformat(),
        "date_to": clock.today().isoformat(),
    }
    try:
        listing = remote.session.get(f"{remote.base_url}/stats/processed/list", timeout=remote.timeout)
        listing.raise_for_status()
        offered = {item["name"] for item in _json(listing)}
        series = []
        for name in (name for name in community.PULLED if name in offered):
            response = remote.processed({**params, "processor": name})
            if response.status_code != 200:
                raise click.ClickException(f"processor {name}: {_describe(response)}")
            body = _json(response)
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
        f"pulled {plural(len(series), 'community series', 'community series')} "
        f"(by {period}, last {cfg['FEDERATION_PULL_DAYS']} days)"
    )


def register(app: Flask) -> None:
    app.cli.add_command(stats_push)
    app.cli.add_command(stats_pull)
