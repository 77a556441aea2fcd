"""The cyber weather's public faces: ``/stats/weather.json``, the Atom feed ``/stats/weather.atom``,
the page ``/weather`` and the monthly bulletins. They only read what ``stats_weather`` stored
(``storage/weather_store.py``) and put it into words, in the page's language."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from flask import Response, current_app, request, url_for
from flask_babel import force_locale, format_decimal
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound

from statsservice.domain.weather.states import STATES
from statsservice.errors import ApiError
from statsservice.storage import weather_store
from statsservice.web import i18n, schemas
from statsservice.web.caching import conditional
from statsservice.web.pages import bp as pages_bp
from statsservice.web.pages import render
from statsservice.web.public import bp as public_bp
from statsservice.web.public import cached_json

ATOM = "http://www.w3.org/2005/Atom"
#: warnings the feed carries (newest first), bulletins are all there
FEED_WARNINGS = 50
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
PERCENT_METRICS = ("share", "current")


# --- words ---------------------------------------------------------------------------------


def metric_name(metric: str) -> str:
    return {
        "share": _("share of analyses"),
        "count": _("occurrence"),
        "averageRate": _("probability"),
        "maxRisk": _("max risk"),
        "value": _("risks per analysis"),
        "total": _("risks per analysis in the heat map"),
        "current": _("compliance"),
    }.get(metric, metric)


def category_name(category: str) -> str:
    return {
        "threats": _("Threats"),
        "vulnerabilities": _("Vulnerabilities"),
        "risks": _("Risks"),
        "compliance": _("Compliance"),
    }.get(category, category)


def state_name(state: str | None) -> str:
    return {"calm": _("calm"), "worrying": _("worrying"), "serious": _("serious")}.get(
        state or "", _("not enough data")
    )


def kind_name(kind: str) -> str:
    return {"informational": _("information risks"), "operational": _("operational risks")}.get(kind, kind)


def level_name(level: str) -> str:
    return {
        "Low risks": _("Low risks"),
        "Medium risks": _("Medium risks"),
        "High risks": _("High risks"),
    }.get(level, level)


def label_of(entry: dict[str, Any]) -> str:
    """What a reader calls a series' subject, in the page's language."""
    kind = entry["type"]
    if kind in ("threat", "vulnerability", "compliance"):
        labels = entry.get("labels") or {}
        for field in i18n.label_order():
            if labels.get(field):
                return labels[field]
        return entry["key"][:8]
    parts = entry["key"].split("/")
    if kind == "risk" and len(parts) == 3:
        return f"{level_name(parts[2])} ({kind_name(parts[1])})"
    if kind == "cartography" and len(parts) == 2:
        return _("Heat map (%(kind)s)", kind=kind_name(parts[1]))
    return entry["key"]


def value_text(metric: str, value: float) -> str:
    if metric in PERCENT_METRICS:
        return f"{format_decimal(round(value * 100), format='#,##0')} %"
    return format_decimal(value, format="#,##0.##")


def sentence(warning: dict[str, Any]) -> str:
    """ "Phishing: share of analyses up from 41 % to 58 % in 6 weeks"."""
    values = {
        "label": label_of(warning),
        "metric": metric_name(warning["metric"]),
        "before": value_text(warning["metric"], warning["from"]),
        "after": value_text(warning["metric"], warning["to"]),
        "weeks": warning["weeks"],
    }
    if warning["direction"] == "rising":
        return _("%(label)s: %(metric)s up from %(before)s to %(after)s in %(weeks)s weeks", **values)
    return _("%(label)s: %(metric)s down from %(before)s to %(after)s in %(weeks)s weeks", **values)


def slug(entry: dict[str, Any]) -> str:
    """The anchor of a series on the page (its permalink)."""
    return "s-" + re.sub(r"[^A-Za-z0-9]+", "-", entry["id"]).strip("-")


def group_of(entry: dict[str, Any]) -> str:
    if entry["type"] in ("threat", "vulnerability"):
        return f"{entry['type']}-{entry['metric']}"
    return entry["category"]


def groups() -> list[tuple[str, str]]:
    """(group, name) of the page's chart selector, in order."""
    out = []
    for kind, noun in (("threat", _("Threats")), ("vulnerability", _("Vulnerabilities"))):
        for metric in ("share", "count", "averageRate", "maxRisk"):
            out.append((f"{kind}-{metric}", f"{noun}: {metric_name(metric)}"))
    out.append(("risks", _("Risks")))
    out.append(("compliance", _("Compliance")))
    return out


# --- the document, in words ----------------------------------------------------------------

EMPTY = {"as_of": None, "period": "week", "month": None, "states": [], "warnings": [], "series": []}


def worded(document: dict[str, Any] | None) -> dict[str, Any]:
    """The stored document with labels and sentences in the request's language."""
    if not document:
        return {**EMPTY, "status": "empty"}
    out = {**document, "status": "ready"}
    out["series"] = [
        {**entry, "label": label_of(entry), "anchor": slug(entry)} for entry in document["series"]
    ]
    anchors = {entry["id"]: entry["anchor"] for entry in out["series"]}
    out["warnings"] = [
        {
            **w,
            "label": label_of(w),
            "text": sentence(w),
            "anchor": anchors.get(w["series"], ""),
            "group": group_of(w),
        }
        for w in document["warnings"]
    ]
    return out


def _language() -> str:
    lang = request.args.get("lang")
    return lang if lang in i18n.LANGUAGES else i18n.language()


# --- JSON ----------------------------------------------------------------------------------


@public_bp.get("/stats/weather.json")
def weather_json() -> Response:
    """The cyber weather: category states, warnings, and every series with its history, forecast
    (80 % and 95 % intervals) and backtest, as ``stats_weather`` last computed them."""
    params = schemas.WeatherQuery().load_args(request.args)
    with force_locale(params["lang"] or _language()):
        document = worded(weather_store.report())
    wanted = {name: params[name] for name in ("type", "key", "metric") if params.get(name)}
    if wanted:
        document["series"] = [e for e in document["series"] if all(e[k] == v for k, v in wanted.items())]
        document["warnings"] = [w for w in document["warnings"] if all(w[k] == v for k, v in wanted.items())]
        if not document["series"] and document["status"] == "ready":
            raise ApiError(404, "no such weather series", {name: ["no series matches"] for name in wanted})
    return cached_json(schemas.WeatherSchema().dump(document))


# --- Atom ----------------------------------------------------------------------------------


def _entry_id(key: str) -> str:
    hub = current_app.config.get("INSTANCE_NAME", "statsservice")
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'statsservice:{hub}:weather:{key}')}"


def _stamp(day: str) -> str:
    """An entry's date: midnight UTC after the last day its data covers."""
    moment = datetime.combine(date.fromisoformat(day) + timedelta(days=1), datetime.min.time())
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def bulletin_title(bulletin: dict[str, Any]) -> str:
    states = ", ".join(f"{category_name(s['category'])} {state_name(s['state'])}" for s in bulletin["states"])
    return _("Cyber weather bulletin %(month)s: %(states)s", month=bulletin["month"], states=states)


def feed_entries() -> list[dict[str, str]]:
    """The feed's entries, newest first: one per warning raised, one per monthly bulletin."""
    entries = []
    for row in weather_store.warnings()[:FEED_WARNINGS]:
        raised_end = (date.fromisoformat(row["raised"]) + timedelta(days=6)).isoformat()
        link = (
            url_for("dashboard.weather", _external=True, group=group_of(row))
            + f"#card-{slug({'id': row['series']})}"
        )
        entries.append(
            {
                "id": _entry_id(f"warning:{row['id']}"),
                "title": sentence(row),
                "updated": _stamp(raised_end),
                "link": link,
                "summary": sentence(row),
            }
        )
    for bulletin in weather_store.bulletins():
        link = url_for("dashboard.bulletin", month=bulletin["month"], _external=True)
        entries.append(
            {
                "id": _entry_id(f"bulletin:{bulletin['month']}"),
                "title": bulletin_title(bulletin),
                "updated": _stamp(bulletin["as_of"]),
                "link": link,
                "summary": bulletin_title(bulletin),
            }
        )
    entries.sort(key=lambda e: (e["updated"], e["id"]), reverse=True)
    return entries


@public_bp.get("/stats/weather.atom")
def weather_atom() -> Response:
    """An Atom feed: one entry per new warning and one per monthly bulletin (stable ids)."""
    params = schemas.WeatherFeedQuery().load_args(request.args)
    with force_locale(params["lang"] or _language()):
        entries = feed_entries()
        ET.register_namespace("", ATOM)
        root = ET.Element(f"{{{ATOM}}}feed")
        hub = current_app.config.get("INSTANCE_NAME", "statsservice")
        _add(root, "id", _entry_id("feed"))
        _add(root, "title", _("Cyber weather · %(hub)s", hub=hub))
        _add(root, "updated", entries[0]["updated"] if entries else "1970-01-01T00:00:00Z")
        _add(root, "link", rel="self", href=url_for("public_stats.weather_atom", _external=True))
        _add(root, "link", rel="alternate", href=url_for("dashboard.weather", _external=True))
        author = _add(root, "author")
        _add(author, "name", hub)
        for item in entries:
            entry = _add(root, "entry")
            _add(entry, "id", item["id"])
            _add(entry, "title", item["title"])
            _add(entry, "updated", item["updated"])
            _add(entry, "link", rel="alternate", href=item["link"])
            _add(entry, "summary", item["summary"])
    body = ET.tostring(root, encoding="unicode", xml_declaration=True)
    return conditional(current_app.response_class(body, mimetype="application/atom+xml"))


# --- pages ---------------------------------------------------------------------------------


def accuracy_text(entry: dict[str, Any]) -> str:
    """The measured accuracy under a chart (never a forecast without it)."""
    test = entry.get("backtest")
    if not test:
        return _(
            "Not enough data: %(weeks)s weeks of history in a row, at least %(needed)s needed for a forecast.",
            weeks=entry.get("weeks", 0),
            needed=current_app.config["WEATHER_MIN_HISTORY_WEEKS"],
        )

    def number(value: float | None) -> str:
        return "—" if value is None else format_decimal(value, format="0.00")

    values = {
        "model": test["model"],
        "mase": number(test["mase"]),
        "naive": number(test["naive_mase"]),
        "c80": value_text("share", test["coverage80"]),
        "c95": value_text("share", test["coverage95"]),
        "origins": test["origins"],
        "horizon": test["horizon"],
    }
    if not test["beats_naive"]:
        return _(
            "Naive forecast (next weeks as the last one): no model beat it on this series. MASE %(mase)s; "
            "the 80 %% interval held %(c80)s of the time, the 95 %% interval %(c95)s "
            "(backtest: %(origins)s origins, 1 to %(horizon)s weeks ahead).",
            **values,
        )
    return _(
        "Model %(model)s: MASE %(mase)s (naive: %(naive)s); the 80 %% interval held %(c80)s of the time, "
        "the 95 %% interval %(c95)s (backtest: %(origins)s origins, 1 to %(horizon)s weeks ahead).",
        **values,
    )


@pages_bp.get("/weather")
def weather() -> str:
    document = worded(weather_store.report())
    for entry in document["series"]:
        entry["accuracy"] = accuracy_text(entry)
        entry["group"] = group_of(entry)
    return render(
        "weather.html",
        "weather.js",
        has_data=document["status"] == "ready",
        weather=document,
        groups=groups(),
        bulletins=[b["month"] for b in weather_store.bulletins()],
        category_name=category_name,
        state_name=state_name,
        metric_name=metric_name,
        states=STATES,
    )


@pages_bp.get("/weather/bulletin/<month>")
def bulletin(month: str) -> str:
    found = weather_store.bulletin(month) if MONTH.match(month) else None
    if found is None:
        raise NotFound(f"no weather bulletin for {month[:7]}")
    worded_warnings = [{**w, "text": sentence(w)} for w in found["warnings"]]
    movers = [
        {
            **m,
            "label": label_of(m),
            "metric_text": metric_name(m["metric"]),
            "before": value_text(m["metric"], m["from"]),
            "after": value_text(m["metric"], m["to"]),
        }
        for m in found["movers"]
    ]
    return render(
        "bulletin.html",
        None,
        bulletin=found,
        warnings=worded_warnings,
        movers=movers,
        category_name=category_name,
        state_name=state_name,
        months=[b["month"] for b in weather_store.bulletins()],
    )
