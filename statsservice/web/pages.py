"""The dashboard's HTML pages. They are rendered on the server; their charts fetch the public
JSON routes with a small script per page (no inline script: the CSP allows only 'self')."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from statsservice import __version__
from statsservice.storage import dashboard
from statsservice.web import i18n, public, schemas

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
    ("dashboard.about", _l("About")),
)


def js_strings() -> dict[str, str]:
    """Texts the chart scripts show, in the page's language."""
    return {
        "loading": _("Loading…"),
        "error": _("The data could not be loaded."),
        "noData": _("No data for this selection yet."),
        "noMarkers": _(
            "No client with map coordinates has data in this window. "
            "An operator sets a client's coordinates with: flask --app statsservice client_coordinates_set --uuid UUID --latitude LAT --longitude LON"
        ),
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
        "clients": _("Clients"),
        "latitude": _("Latitude"),
        "longitude": _("Longitude"),
    }


def page_config(**extra: Any) -> dict[str, Any]:
    """Everything a page script needs, embedded as a JSON data block (never executed)."""
    return {
        "language": i18n.language(),
        "labelFields": i18n.label_order(),
        "mode": current_app.config["MODE"],
        "strings": js_strings(),
        "periods": list(schemas.PERIODS),
        "community": dashboard.community_processors() if current_app.config["MODE"] == "local" else {},
        "urls": {
            "threats": url_for("public_stats.threats_json"),
            "vulnerabilities": url_for("public_stats.vulnerabilities_json"),
            "risks": url_for("public_stats.risks_json"),
            "cartography": url_for("public_stats.cartography_json"),
            "compliance": url_for("public_stats.compliance_json"),
            "map": url_for("public_stats.map_json"),
            "community": url_for("public_stats.community_json"),
            "world": url_for("dashboard.static", filename="vendor/world-atlas/countries-110m.json"),
        },
        **extra,
    }


def render(template: str, script: str | None, *, needs: str | None = None, **context: Any) -> str:
    """Render a page; ``needs`` names the stats type whose absence shows the empty state."""
    has_data = dashboard.has_records(needs) if needs else True
    return render_template(
        f"dashboard/{template}",
        pages=PAGES,
        script=script,
        has_data=has_data,
        community_word=current_app.config["MODE"] == "global",
        page_config=page_config(),
        instance_name=current_app.config.get("INSTANCE_NAME", "statsservice"),
        version=__version__,
        **context,
    )


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
    return render("map.html", "map.js", needs="threat")


@bp.get("/about")
def about() -> str:
    return render("about.html", None, about=public.about_data())
