"""`flask db upgrade` on an empty database gives exactly the schema of the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from statsservice.extensions import db
from statsservice.storage.partitions import include_name


def test_migrations_match_models(app):
    with db.engine.connect() as conn:
        opts = {"compare_type": True, "include_name": include_name}
        context = MigrationContext.configure(conn, opts=opts)
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ; run `flask db migrate`: {diff}"


def test_tables_present(app):
    names = set(inspect(db.engine).get_table_names())
    assert {
        "client",
        "stats",
        "rollup_key",
        "client_day",
        "rollup_day",
        "client_label",
        "alembic_version",
    } <= names
