"""Command-line interface, exposed through ``flask --app statsservice <command>``."""

from flask import Flask


def register(app: Flask) -> None:
    from statsservice.cli import clients, demo, export, federation, maintenance

    clients.register(app)
    federation.register(app)
    demo.register(app)
    maintenance.register(app)
    export.register(app)
