"""Lets ``flask <command>`` run from the checkout without ``--app`` (Flask looks for ``wsgi.py``),
so ``flask client_list`` works as operators type it. Installed hubs use the ``statsservice``
command; gunicorn takes ``statsservice:create_app()``."""

from statsservice import create_app

__all__ = ["create_app"]
