"""stats partitioned by month on PostgreSQL; its uuid unique together with the date

Revision ID: 0011
Revises: 0010

Retention drops a month's partition instead of deleting its rows (``storage.partitions``). A
partitioned table's primary and unique keys must hold the partition key: the primary key becomes
(id, date) and the uuid's unique key (uuid, date) — on SQLite too, so both databases have the
schema of the models (uuids are random: two records never share one). The records are copied
into the partitioned table, each month's partition created first; ids and uuids are kept.

``replacements`` counts the uploads that replaced a record: the upsert tells an insert from a
replacement by it (``xmax``, which told them apart before, cannot be read from a partitioned
table).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

from statsservice.storage.partitions import create_sql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: names for SQLite's unnamed constraints, so a batch operation can address them
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
#: the columns before this revision (both shapes of the table have them)
COLUMNS = "id, uuid, client_id, anr, type, date, data, n, created_at, updated_at"
REPLACEMENTS = sa.Column("replacements", sa.Integer(), nullable=False, server_default="0")
#: what every shape of the table has besides its primary key and uuid unique key
COMMON = (
    "ALTER TABLE stats ADD CONSTRAINT uq_stats_client_anr_type_date UNIQUE (client_id, anr, type, date)",
    "ALTER TABLE stats ADD CONSTRAINT stats_client_id_fkey FOREIGN KEY (client_id) "
    "REFERENCES client (id) ON DELETE CASCADE",
    "CREATE INDEX ix_stats_anr ON stats (anr)",
    "CREATE INDEX ix_stats_client_type_date ON stats (client_id, type, date)",
    "CREATE INDEX ix_stats_type_date ON stats (type, date)",
)


def _rebuild(new_table: str, keys: tuple[str, ...]) -> None:
    """Copy ``stats`` into ``new_table`` (created by the caller), put it in its place with the
    sequence of its ids, then add ``keys`` and the common constraints and indexes (built once,
    after the copy)."""
    bind = op.get_bind()
    sequence = bind.scalar(text("SELECT pg_get_serial_sequence('stats', 'id')"))
    op.execute(f"INSERT INTO {new_table} ({COLUMNS}) SELECT {COLUMNS} FROM stats")
    if sequence:
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {new_table}.id")
    op.execute("DROP TABLE stats")
    op.execute(f"ALTER TABLE {new_table} RENAME TO stats")
    for statement in (*keys, *COMMON):
        op.execute(statement)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        with op.batch_alter_table("stats", naming_convention=NAMING) as batch:
            batch.drop_constraint("uq_stats_uuid", type_="unique")
            batch.create_unique_constraint("uq_stats_uuid_date", ["uuid", "date"])
            batch.add_column(REPLACEMENTS)
        return
    op.execute(
        "CREATE TABLE stats_partitioned (LIKE stats INCLUDING DEFAULTS INCLUDING STORAGE "
        "INCLUDING COMPRESSION) PARTITION BY RANGE (date)"
    )
    op.add_column("stats_partitioned", REPLACEMENTS)
    months = bind.scalars(text("SELECT DISTINCT CAST(date_trunc('month', date) AS date) FROM stats")).all()
    for month in months:
        op.execute(create_sql(month, "stats_partitioned"))
    _rebuild(
        "stats_partitioned",
        (
            "ALTER TABLE stats ADD CONSTRAINT stats_pkey PRIMARY KEY (id, date)",
            "ALTER TABLE stats ADD CONSTRAINT uq_stats_uuid_date UNIQUE (uuid, date)",
        ),
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        with op.batch_alter_table("stats") as batch:
            batch.drop_constraint("uq_stats_uuid_date", type_="unique")
            batch.create_unique_constraint("stats_uuid_key", ["uuid"])
            batch.drop_column("replacements")
        return
    op.execute(
        "CREATE TABLE stats_plain (LIKE stats INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMPRESSION)"
    )
    op.drop_column("stats_plain", "replacements")
    _rebuild(
        "stats_plain",
        (
            "ALTER TABLE stats ADD CONSTRAINT stats_pkey PRIMARY KEY (id)",
            "ALTER TABLE stats ADD CONSTRAINT stats_uuid_key UNIQUE (uuid)",
        ),
    )
