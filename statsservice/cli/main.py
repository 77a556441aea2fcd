"""The ``statsservice`` command: Flask's command line bound to the app factory, so an installed hub
needs neither ``--app`` nor ``FLASK_APP`` (``statsservice db upgrade``, ``statsservice run``...)."""

from __future__ import annotations

from flask.cli import FlaskGroup

from statsservice.app import create_app

cli = FlaskGroup(
    name="statsservice",
    create_app=create_app,
    help="Operate a statsservice hub: every `flask --app statsservice` command, without --app.",
)


def main() -> None:
    cli.main(prog_name="statsservice")
