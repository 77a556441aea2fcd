"""per-day sums kept at write: rollup_key, client_day and a narrow rollup_day; rollup dropped

Revision ID: 0008
Revises: 0007

Each record used to be copied into ~40 ``rollup`` rows (four strings, the analysis and the client
repeated on each), and ``rollup_day`` was rebuilt by the next read of a day that triggers had
marked stale. Now a record is stored once: ``client_day`` holds one client's records of a day
summed per key (an integer from the ``rollup_key`` dictionary), ``rollup_day`` those summed over
every client; both are written by the upload, in its transaction. The data is carried over: the
new tables are computed from the old ``rollup`` rows, in SQL.
"""

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EMPTY = "k1 = '' AND k2 = '' AND k3 = '' AND k4 = ''"


def _rev0004():
    """The trigger statements of revision 0004 (dropped here, restored by the downgrade)."""
    path = Path(__file__).with_name("0004_rollup_day.py")
    spec = importlib.util.spec_from_file_location("statsservice_migration_0004", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _top() -> str:
    shares = [f"COALESCE(MAX(c.{s}) / NULLIF(SUM(c.{s}), 0.0), 0.0)" for s in ("s1", "s2", "s3")]
    greatest = "GREATEST" if op.get_bind().dialect.name == "postgresql" else "MAX"
    return f"{greatest}({', '.join(shares)})"


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _rev0004().POSTGRESQL_DOWN if postgres else _rev0004().SQLITE_DOWN:
        op.execute(statement)

    op.create_table(
        "rollup_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("k1", sa.String(length=255), nullable=False),
        sa.Column("k2", sa.String(length=255), nullable=False),
        sa.Column("k3", sa.String(length=255), nullable=False),
        sa.Column("k4", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("type", "k1", "k2", "k3", "k4", name="uq_rollup_key"),
    )
    op.execute(
        "INSERT INTO rollup_key (type, k1, k2, k3, k4) "
        "SELECT type, k1, k2, k3, k4 FROM rollup GROUP BY type, k1, k2, k3, k4 "
        "UNION SELECT type, '', '', '', '' FROM stats GROUP BY type"
    )
    op.create_table(
        "client_day",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("n", sa.Float(), nullable=False),
        sa.Column("s1", sa.Float(), nullable=False),
        sa.Column("s2", sa.Float(), nullable=False),
        sa.Column("s3", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["key_id"], ["rollup_key.id"]),
        sa.PrimaryKeyConstraint("client_id", "date", "key_id"),
    )
    op.execute(
        "INSERT INTO client_day (client_id, date, key_id, entries, n, s1, s2, s3) "
        "SELECT s.client_id, s.date, k.id, COUNT(*), SUM(r.n), SUM(r.n * r.m1), SUM(r.n * r.m2), "
        "SUM(r.n * r.m3) FROM rollup r JOIN stats s ON s.id = r.stats_id "
        "JOIN rollup_key k ON k.type = s.type AND k.k1 = r.k1 AND k.k2 = r.k2 AND k.k3 = r.k3 "
        "AND k.k4 = r.k4 GROUP BY s.client_id, s.date, k.id"
    )
    op.execute(
        "INSERT INTO client_day (client_id, date, key_id, entries, n, s1, s2, s3) "
        "SELECT s.client_id, s.date, k.id, COUNT(*), SUM(s.n), 0.0, 0.0, 0.0 FROM stats s "
        f"JOIN rollup_key k ON k.type = s.type AND k.{EMPTY.replace(' AND k', ' AND k.k')} "
        "GROUP BY s.client_id, s.date, k.id"
    )
    op.create_index("ix_client_day_date_key", "client_day", ["date", "key_id"], unique=False)

    op.drop_table("rollup_day_stale")
    op.drop_table("rollup_day")
    op.drop_table("rollup")
    op.create_table(
        "rollup_day",
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("local", sa.Boolean(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("n", sa.Float(), nullable=False),
        sa.Column("s1", sa.Float(), nullable=False),
        sa.Column("s2", sa.Float(), nullable=False),
        sa.Column("s3", sa.Float(), nullable=False),
        sa.Column("clients", sa.Integer(), nullable=False),
        sa.Column("top", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["rollup_key.id"]),
        sa.PrimaryKeyConstraint("key_id", "date", "local"),
    )
    op.execute(
        "INSERT INTO rollup_day (key_id, date, local, entries, n, s1, s2, s3, clients, top) "
        "SELECT c.key_id, c.date, cl.local, SUM(c.entries), SUM(c.n), SUM(c.s1), SUM(c.s2), SUM(c.s3), "
        f"COUNT(*), {_top()} FROM client_day c JOIN client cl ON cl.id = c.client_id "
        "GROUP BY c.key_id, c.date, cl.local"
    )


def downgrade():
    """Back to per-record rollups: rebuilt from the records with the stats types of this code,
    every day marked stale (rebuilt by the next read, as revision 0004 does)."""
    from statsservice.domain.registry import REGISTRY

    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_table("rollup_day")
    op.drop_index("ix_client_day_date_key", table_name="client_day")
    op.drop_table("client_day")
    op.drop_table("rollup_key")
    rollup = op.create_table(
        "rollup",
        sa.Column("id", BigId, nullable=False),
        sa.Column("stats_id", BigId, nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("anr", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        *(sa.Column(k, sa.String(length=255), nullable=False) for k in ("k1", "k2", "k3", "k4")),
        *(sa.Column(m, sa.Float(), nullable=False) for m in ("m1", "m2", "m3", "n")),
        sa.ForeignKeyConstraint(["stats_id"], ["stats.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rollup_stats", "rollup", ["stats_id"], unique=False)
    op.create_table(
        "rollup_day",
        sa.Column("id", BigId, nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("local", sa.Boolean(), nullable=False),
        *(sa.Column(k, sa.String(length=255), nullable=False) for k in ("k1", "k2", "k3", "k4")),
        sa.Column("entries", sa.Integer(), nullable=False),
        *(sa.Column(s, sa.Float(), nullable=False) for s in ("n", "s1", "s2", "s3")),
        sa.Column("clients", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("top", sa.Float(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("type", "date", "local", "k1", "k2", "k3", "k4", name="uq_rollup_day_key"),
    )
    op.create_table(
        "rollup_day_stale",
        sa.Column("id", BigId, nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rollup_day_stale_type_date", "rollup_day_stale", ["type", "date"], unique=False)
    bind = op.get_bind()
    stats = sa.table(
        "stats", *(sa.column(c) for c in ("id", "client_id", "anr", "type", "date", "n")), sa.column("data", sa.JSON)
    )
    rows = []
    for record in bind.execute(sa.select(stats)):
        for r in REGISTRY[record.type].explode(record.data, record.n):
            base = {"stats_id": record.id, "client_id": record.client_id, "anr": record.anr}
            base |= {"type": record.type, "date": record.date, "k1": r.k1, "k2": r.k2, "k3": r.k3}
            rows.append(base | {"k4": r.k4, "m1": r.m1, "m2": r.m2, "m3": r.m3, "n": r.n})
    if rows:
        op.bulk_insert(rollup, rows)
    op.execute("INSERT INTO rollup_day_stale (type, date) SELECT DISTINCT type, date FROM stats")
    for statement in _rev0004().POSTGRESQL_UP if postgres else _rev0004().SQLITE_UP:
        op.execute(statement)
