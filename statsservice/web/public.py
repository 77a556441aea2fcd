"""Public, read-only JSON (SPEC §6): chart data per stats type, the map, community series and
``/about.json``. Answers carry an ETag and may be cached for a few minutes."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Blueprint, Response, current_app, request, url_for

from statsservice import clock
from statsservice.domain.federation.privacy import DpSettings, sentence, short
from statsservice.domain.release import coarsen, coarsen_weights
from statsservice.errors import ApiError
from statsservice.storage import dashboard, ledger
from statsservice.storage.federation import community_series
from statsservice.version import __version__
from statsservice.web import community, schemas, series
from statsservice.web.caching import conditional

bp = Blueprint("public_stats", __name__)


def cached_json(payload: Any) -> Response:
    """A JSON answer, cacheable and revalidated (``caching.conditional``)."""
    body = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return conditional(current_app.response_class(body, mimetype="application/json"))


def _series_view(kind: str):
    def view() -> Response:
        params = schemas.PublicStatsQuery().load_args(request.args)
        return cached_json(schemas.SeriesSchema().dump(series.compute(kind, params)))

    view.__name__ = f"{kind}_json"
    view.__doc__ = f"Chart data of the {series.KINDS[kind].type} records (public, no client identity)."
    return view


for _kind in series.KINDS:
    bp.add_url_rule(f"/stats/{_kind}.json", view_func=_series_view(_kind), methods=["GET"])


@bp.get("/stats/map.json")
def map_json() -> Response:
    """Areas of at least k organisations, each with its top released threat and vulnerability."""
    params = schemas.WindowQuery().load_args(request.args)
    data = series.markers(params)
    return cached_json(schemas.MapSchema().dump(data))


@bp.get("/stats/community.json")
def community_json() -> Response:
    """The community's figures for a chart, over the same window and period as the chart's own,
    rebuilt from the day series ``stats_pull`` stored (what a local hub sets beside its data)."""
    params = schemas.CommunityQuery().load_args(request.args)
    name = params["processor"]
    if name not in community.SOURCES:
        accepted = ", ".join(sorted(community.SOURCES))
        raise ApiError(400, "invalid query parameters", {"processor": [f"accepted: {accepted}"]})
    row = community_series(community.SOURCES[name], community.PULL_PERIOD)
    if row is None:
        raise ApiError(
            404,
            f"no community series for {name}",
            {"processor": ["not pulled from the global hub (statsservice stats_pull)"]},
        )
    date_from, date_to = series.chosen_window(params)
    try:
        data, days, analyses = community.rebuild(name, row.data, date_from, date_to, params["period"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ApiError(
            404, f"the pulled community series for {name} cannot be read", {"processor": ["pull again"]}
        ) from None
    answer = {
        "type": row.type,
        "processor": name,
        "period": params["period"],
        "date_from": date_from,
        "date_to": date_to,
        "days": days,
        "analyses": analyses,
        "fetched_at": row.fetched_at,
        "data": coarsen_weights(data, series.min_clients()),  # as the local chart beside it
    }
    return cached_json(schemas.CommunitySchema().dump(answer))


def about_data() -> dict[str, Any]:
    """The hub and its released data, every count coarsened (docs/PRIVACY.md)."""
    summary = dashboard.summary()
    k = series.min_clients()
    count = series.public_count
    return {
        "name": current_app.config.get("INSTANCE_NAME", "statsservice"),
        "version": __version__,
        "mode": current_app.config["MODE"],
        "counts": {
            "clients": coarsen(summary.clients, k),
            "organisations": count(summary.organisations, summary.hubs, k),
            "analyses": count(summary.analyses, summary.hub_analyses, k),
            "records": count(summary.records, summary.hub_records, k),
            "by_type": {t: count(own, theirs, k) for t, (own, theirs) in summary.by_type.items()},
        },
        "min_organisations": k,
        "release_delay_days": current_app.config["FEDERATION_DELAY_DAYS"],
        "first_date": summary.first_date,
        "last_date": summary.last_date,
        "community_series": sorted(dashboard.community_processors()),
        "privacy": privacy_data(),
        "links": {
            "dashboard": url_for("dashboard.current"),
            "api": "/api/v1/",
            "openapi": "/api/v1/openapi.json",
            "about": url_for("public_stats.about_json"),
        },
    }


def privacy_data() -> dict[str, Any]:
    """How the released figures are protected, in numbers and in one sentence: this hub's yearly
    budget in DP mode (the ε its ledger spent), or on a global hub which hub aggregates are DP
    releases and at what budget."""
    cfg = current_app.config
    if cfg["MODE"] == "global":
        exact, budgets = ledger.declared()
        releases = sum(b.releases for b in budgets)
        text = None
        if budgets:
            text = (
                f"{releases} of the {exact + releases} hub aggregates are differential-privacy releases ("
                + "; ".join(
                    f"ε = {short(b.epsilon)} per organisation and year, δ = {b.delta:g}, by {b.period}: "
                    f"{b.releases} from {b.hubs} {'hub' if b.hubs == 1 else 'hubs'}"
                    for b in budgets
                )
                + "); the others are exact."
            )
        return {
            "mode": "global",
            "sentence": text,
            "exact_releases": exact,
            "dp_releases": releases,
            "budgets": budgets,
        }
    settings = DpSettings.from_config(cfg)
    if settings is None:
        return {"mode": "exact", "sentence": None}
    # the newest year with DP releases (in early January, last year's), else this one
    year = max(ledger.years(), default=clock.today().year)
    rows = ledger.entries(year)
    spent = rows[-1].epsilon if rows else 0.0  # OpenDP's composition of the year, as of its last release
    since = ledger.exact_since(year)
    return {
        "mode": "dp",
        "sentence": sentence(year, spent, settings, since=since),
        "year": year,
        "epsilon_budget": settings.year_epsilon,
        "epsilon_spent": spent,
        "delta": settings.delta,
        "period": settings.period,
        "top": settings.top,
        "releases": sum(1 for row in rows if row.mechanism == ledger.RELEASE),
        "exact_before": since,
    }


@bp.get("/about.json")
def about_json() -> Response:
    """Version, mode and counts of this hub."""
    schemas.QuerySchema().load_args(request.args)
    return cached_json(schemas.AboutSchema().dump(about_data()))
