"""Command-line interface: the ``statsservice`` command (``cli.main``) and ``flask --app statsservice``.
Every command is declared with ``observability.cli.command`` so its runs are logged (``LOG_CLI_RUNS``)."""

from flask import Flask


def register(app: Flask) -> None:
    from statsservice.cli import clients, demo, dp, export, federation, maintenance, release, weather

    clients.register(app)
    release.register(app)
    dp.register(app)
    federation.register(app)
    demo.register(app)
    maintenance.register(app)
    export.register(app)
    weather.register(app)
