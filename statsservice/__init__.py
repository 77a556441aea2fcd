"""statsservice: a federated stats hub for MONARC risk-analysis platforms.

Importing the package imports no web framework: Flask comes in only when ``create_app`` runs, so
``statsservice.domain`` (and anything else that needs no HTTP) can be used without it. The layers
and what may import what: ``docs/architecture.md``.
"""

from statsservice.app import create_app, migrations_dir
from statsservice.version import __version__

__all__ = ["__version__", "create_app", "migrations_dir"]
