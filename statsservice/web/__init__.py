"""Web layer: the public dashboard pages (English and French) and their chart JSON."""

from flask import Flask


def register(app: Flask) -> None:
    """Languages, the public JSON routes and the HTML pages."""
    from statsservice.storage import replica
    from statsservice.web import i18n, pages, public, weather  # noqa: F401 - weather adds its routes

    i18n.init(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(pages.bp)
    # the public JSON and the pages only read: the read replica serves them when there is one
    replica.route_reads(app, (public.bp.name, pages.bp.name))
    pages.register_errors(app)
    app.jinja_env.globals["language_links"] = pages.language_links
    # a global, so the macros imported by the page templates see it too
    app.jinja_env.globals["default_window"] = pages.DEFAULT_WINDOW
