"""Languages of the dashboard (Flask-Babel): ``?lang=`` (the in-page switch, kept in links) wins,
else the browser's Accept-Language picks English or French.

Knowledge-base labels travel as ``label1``..``label4``; ``DASHBOARD_LABEL_FIELDS`` (settings) maps a
page language to the label to show first (the others are fallbacks, in order). Its default follows
the project's payload generator, which puts English in label1 and French in label2.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, request
from flask_babel import Babel, get_locale, refresh

LANGUAGES = ("en", "fr")
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LABEL_FIELDS = ("label1", "label2", "label3", "label4")


def requested_language() -> str | None:
    """The language asked for in the query string, if it is one the dashboard speaks."""
    lang = request.args.get("lang", "")
    return lang if lang in LANGUAGES else None


def select_locale() -> str:
    return requested_language() or request.accept_languages.best_match(LANGUAGES) or LANGUAGES[0]


def language() -> str:
    return str(get_locale() or LANGUAGES[0])


def label_order() -> list[str]:
    """Label fields to try for the current language, the preferred one first."""
    preferred = current_app.config["DASHBOARD_LABEL_FIELDS"].get(language())
    return [preferred, *(f for f in LABEL_FIELDS if f != preferred)] if preferred else list(LABEL_FIELDS)


def init(app: Flask) -> None:
    Babel(
        app,
        locale_selector=select_locale,
        default_locale=LANGUAGES[0],
        default_translation_directories=str(TRANSLATIONS),
    )
    # Flask-Babel caches the locale in ``g``: forget it per request, in case one application
    # context serves several requests (tests, or code that pushes its own context)
    app.before_request(refresh)
    app.jinja_env.globals["current_language"] = language
    app.url_defaults(keep_language)


def keep_language(endpoint: str | None, values: dict) -> None:
    """Links between dashboard pages keep an explicit ``?lang=`` (a shared link stays in French)."""
    lang = requested_language() if request else None
    if lang and endpoint and endpoint.startswith("dashboard.") and endpoint != "dashboard.static":
        values.setdefault("lang", lang)
