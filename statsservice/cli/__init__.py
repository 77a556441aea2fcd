"""Command-line interface, exposed through ``flask --app statsservice <command>``."""

from flask import Flask


def register(app: Flask) -> None:
    from statsservice.cli import clients, federation

    clients.register(app)
    federation.register(app)
