"""Web layer: the public dashboard pages and their chart JSON."""

from flask import Flask


def register(app: Flask) -> None:
    """Dashboard blueprints are registered here."""
