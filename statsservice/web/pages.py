"""The dashboard's HTML pages. They are rendered on the server; their charts fetch the public
JSON routes with a small script per page (no inline script: the CSP allows only 'self')."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import NotFound

from statsservice import clock
from statsservice.domain.federation.privacy import short
from statsservice.errors import error_response
from statsservice.storage import dashboard, release
from statsservice.version import __version__
from statsservice.web import community, i18n, public, schemas
from statsservice.web.caching import conditional

bp = Blueprint(
    "dashboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/dashboard",
)

#: (endpoint, menu label) in menu order
PAGES = (
    ("dashboard.current", _l("Current")),
    ("dashboard.evolution", _l("Evolution")),
    ("dashboard.cartography", _l("Cartography")),
    ("dashboard.compliance", _l("Compliance")),
    ("dashboard.map", _l("Map")),
    ("dashboard.weather", _l("Weather")),
    ("dashboard.about", _l("About")),
)


#: the window every page opens with, so two pages never contradict each other by default
DEFAULT_WINDOW = "90"


def js_strings() -> dict[str, str]:
    """Texts the chart scripts show, in the page's language."""
    return {
        "loading": _("Loading…"),
        "error": _("The data could not be loaded."),
        "noData": _("No data for this selection yet."),
        "suppressed": _("No data to show: fewer than %(k)s organisations in this selection, or none yet."),
        "noMarkers": _(
            "No area on the map: no %(k)s organisations with coordinates in one area share data in this window."
        ),
        "organisations": _("organisations"),
        "organisation": _("organisation"),
        "hubs": _("hubs"),
        "hub": _("hub"),
        "analyses": _("analyses"),
        "analysis": _("analysis"),
        "asOf": _("as of"),
        "areaOnMap": _("area on the map"),
        "areasOnMap": _("areas on the map"),
        "atLeastInArea": _("at least %(k)s organisations in it"),
        "atLeastInEachArea": _("at least %(k)s organisations in each"),
        "fewerThan": _("fewer than %(k)s"),
        "window": _("Window"),
        "hubName": _("Hub"),
        "generatedAt": _("Generated on"),
        "source": _("Source"),
        "probabilityScale": _("Probability (MONARC threat scale)"),
        "occurrenceScale": _("Occurrence (risks where it appears, per analysis)"),
        "maxRiskScale": _("Max risk (MONARC risk value)"),
        "risksPerAnalysis": _("Risks per analysis"),
        "compliancePercent": _("Compliance (0–100 %)"),
        "threat": _("Threat"),
        "vulnerability": _("Vulnerability"),
        "level": _("Level"),
        "period": _("Period"),
        "referential": _("Referential"),
        "category": _("Category"),
        "threatMaxRisk": _("Top threat: max risk"),
        "vulnerabilityMaxRisk": _("Top vulnerability: max risk"),
        "riskValue": _("Risk value (impact × likelihood)"),
        "zoneLow": _("Low risk zone (risk value up to %(low)s)"),
        "zoneMedium": _("Medium risk zone (%(low)s to %(high)s)"),
        "zoneHigh": _("High risk zone (above %(high)s)"),
        "cellCount": _("risks per analysis in this cell"),
        "blankCell": _("Blank cell: no risks, or fewer than %(k)s organisations"),
        "communityMissing": _("The community has no data for this window and period."),
        "communityNote": _(
            "Community: the global hub's data over the same window and period, computed the same way."
        ),
        "difference": _("difference"),
        "previous": _("vs the previous period"),
        "kpiHigh": _("High risks per analysis"),
        "kpiAnalyses": _("Analyses"),
        "kpiOrganisations": _("Organisations"),
        "kpiTopThreat": _("Top threat (probability)"),
        "openEvolution": _("Click a bar to see its evolution."),
        "customRange": _("Custom range"),
        "from": _("From"),
        "to": _("To"),
        "day": _("Day"),
        "week": _("Week"),
        "month": _("Month"),
        "quarter": _("Quarter"),
        "year": _("Year"),
        "probability": _("Probability"),
        "occurrence": _("Occurrence"),
        "maxRisk": _("Max risk"),
        "current": _("Current"),
        "residual": _("Residual"),
        "target": _("Target"),
        "informational": _("Information risks"),
        "operational": _("Operational risks"),
        "Low risks": _("Low risks"),
        "Medium risks": _("Medium risks"),
        "High risks": _("High risks"),
        "community": _("community"),
        "us": _("this hub"),
        "impact": _("Impact"),
        "likelihood": _("Likelihood"),
        "probabilityAxis": _("Probability"),
        "risks": _("Risks"),
        "topThreat": _("Top threat"),
        "topVulnerability": _("Top vulnerability"),
        "label": _("Label"),
        "value": _("Value"),
        "areas": _("Areas"),
        "latitude": _("Latitude"),
        "longitude": _("Longitude"),
    }


def comparable() -> dict[str, str]:
    """The charts' processors the pulled community series can be compared with (name: source)."""
    pulled = dashboard.community_processors()
    return {
        name: source
        for name, source in community.SOURCES.items()
        if pulled.get(source) == community.PULL_PERIOD
    }


def page_config(**extra: Any) -> dict[str, Any]:
    """Everything a page script needs, embedded as a JSON data block (never executed)."""
    return {
        "language": i18n.language(),
        "labelFields": i18n.label_order(),
        "mode": current_app.config["MODE"],
        "strings": js_strings(),
        "periods": list(schemas.PERIODS),
        "community": comparable() if current_app.config["MODE"] == "local" else {},
        # "today" is the hub's (UTC) day: windows and export dates follow the server, not the browser
        "today": clock.today().isoformat(),
        "hub": current_app.config.get("INSTANCE_NAME", "statsservice"),
        "defaultWindow": DEFAULT_WINDOW,
        "minOrganisations": current_app.config.get("FEDERATION_MIN_CLIENTS", 3),
        "riskThresholds": current_app.config["DASHBOARD_RISK_THRESHOLDS"],
        "urls": {
            "threats": url_for("public_stats.threats_json"),
            "vulnerabilities": url_for("public_stats.vulnerabilities_json"),
            "risks": url_for("public_stats.risks_json"),
            "cartography": url_for("public_stats.cartography_json"),
            "compliance": url_for("public_stats.compliance_json"),
            "map": url_for("public_stats.map_json"),
            "community": url_for("public_stats.community_json"),
            "evolution": url_for("dashboard.evolution"),
            "world": url_for("dashboard.static", filename="vendor/world-atlas/countries-110m.json"),
        },
        **extra,
    }


def render(
    template: str,
    script: str | None,
    *,
    needs: str | None = None,
    has_data: bool | None = None,
    **context: Any,
) -> str:
    """Render a page; ``needs`` names the stats type whose absence shows the empty state."""
    if has_data is None:
        has_data = release.has_released(needs) if needs else True
    return render_template(
        f"dashboard/{template}",
        pages=PAGES,
        script=script,
        has_data=has_data,
        community_word=current_app.config["MODE"] == "global",
        page_config=page_config(),
        instance_name=current_app.config.get("INSTANCE_NAME", "statsservice"),
        version=__version__,
        languages=i18n.LANGUAGES,
        **context,
    )


def language_links() -> list[tuple[str, str, bool]]:
    """(language, URL of this page in it, current?) for the in-page switch; other parameters kept."""
    args = {key: value for key, value in request.args.items() if key != "lang"}
    current = i18n.language()
    return [
        (lang, f"{request.path}?{urlencode({**args, 'lang': lang})}", lang == current)
        for lang in i18n.LANGUAGES
    ]


def wants_json() -> bool:
    """API clients keep JSON errors: /api/, /stats/ and .json paths, and any client that does not
    name text/html in its Accept (curl's */* included) or prefers JSON to it."""
    path = request.path
    if path.startswith("/api/") or path.endswith(".json") or path.startswith("/stats/"):
        return True
    accept = request.accept_mimetypes
    html = max((q for value, q in accept if value == "text/html"), default=0)
    return html == 0 or accept["application/json"] > html


def not_found(exc: NotFound) -> Response | tuple[str, int]:
    """A page in the dashboard's style for a browser; the usual JSON error for everything else."""
    if wants_json():
        return error_response(404, exc.description or "not found")
    return render("404.html", None, has_data=False), 404


@bp.after_request
def _cacheable(response: Response) -> Response:
    """Pages change only with released data (and the language, which the browser may choose)."""
    if request.method in ("GET", "HEAD") and response.mimetype == "text/html":
        response.vary.add("Accept-Language")
        return conditional(response)
    return response


def register_errors(app: Flask) -> None:
    """More specific than the API's HTTPException handler, so only 404s are concerned."""
    app.register_error_handler(NotFound, not_found)


@bp.get("/")
def current() -> str:
    return render("current.html", "current.js", needs="risk")


@bp.get("/evolution")
def evolution() -> str:
    return render("evolution.html", "evolution.js", needs="risk")


@bp.get("/cartography")
def cartography() -> str:
    return render("cartography.html", "cartography.js", needs="cartography")


@bp.get("/compliance")
def compliance() -> str:
    return render("compliance.html", "compliance.js", needs="compliance")


@bp.get("/map", endpoint="map")
def map_page() -> str:
    return render(
        "map.html", "map.js", needs="threat", min_organisations=current_app.config["FEDERATION_MIN_CLIENTS"]
    )


def type_names() -> dict[str, str]:
    """Record types as a reader says them, in the page's language."""
    return {
        "risk": _("Risks"),
        "threat": _("Threats"),
        "vulnerability": _("Vulnerabilities"),
        "cartography": _("Cartography"),
        "compliance": _("Compliance"),
    }


def privacy_sentences(privacy: dict[str, Any]) -> list[str]:
    """How the released figures are protected, in the page's language (nothing in exact mode, as
    before DP mode existed)."""
    if privacy["mode"] == "dp":
        out = [
            _(
                "Each organisation's %(year)s contribution is protected at ε = %(spent)s of %(budget)s "
                "(δ = %(delta)s, differential privacy).",
                year=privacy["year"],
                spent=short(privacy["epsilon_spent"]),
                budget=short(privacy["epsilon_budget"]),
                delta=f"{privacy['delta']:g}",
            )
        ]
        if privacy.get("exact_before"):
            out.append(
                _(
                    "Days of %(year)s before %(date)s were released exactly.",
                    year=privacy["year"],
                    date=privacy["exact_before"],
                )
            )
        return out
    if privacy["mode"] == "global" and privacy.get("budgets"):
        periods = {"month": _("by month"), "week": _("by week")}
        out = [
            _(
                "%(dp)s of the %(total)s hub aggregates are differential-privacy releases; the others are exact.",
                dp=privacy["dp_releases"],
                total=privacy["dp_releases"] + privacy["exact_releases"],
            )
        ]
        for budget in privacy["budgets"]:
            out.append(
                _(
                    "ε = %(epsilon)s per organisation and year (δ = %(delta)s), %(period)s: %(releases)s releases "
                    "from %(hubs)s hubs, %(first)s to %(last)s.",
                    epsilon=short(budget.epsilon),
                    delta=f"{budget.delta:g}",
                    period=periods.get(budget.period, budget.period),
                    releases=budget.releases,
                    hubs=budget.hubs,
                    first=budget.first_date.isoformat(),
                    last=budget.last_date.isoformat(),
                )
            )
        return out
    return []


@bp.get("/about")
def about() -> str:
    data = public.about_data()
    return render(
        "about.html", None, about=data, type_names=type_names(), privacy=privacy_sentences(data["privacy"])
    )
