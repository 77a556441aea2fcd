"""rollup_day: per-day sums of rollups for whole-hub processed queries, kept fresh by triggers

Revision ID: 0004
Revises: 0003

``rollup_day`` holds, per (type, day, local or not, key), the rollup rows summed over every
analysis; processed queries over the whole hub read it instead of every analysis's rows.
Triggers on ``stats`` mark each day they touch in ``rollup_day_stale`` (whatever deletes or
rewrites records: uploads, deletes, purges, cascades); readers rebuild marked days first.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

POSTGRESQL_UP = [
    """
    CREATE FUNCTION rollup_day_mark_new() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO rollup_day_stale (type, date) SELECT DISTINCT type, date FROM new_stats;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION rollup_day_mark_old() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO rollup_day_stale (type, date) SELECT DISTINCT type, date FROM old_stats;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION rollup_day_mark_both() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO rollup_day_stale (type, date)
            SELECT type, date FROM new_stats UNION SELECT type, date FROM old_stats;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION rollup_day_mark_client() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO rollup_day_stale (type, date)
            SELECT DISTINCT type, date FROM stats WHERE client_id = NEW.id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER stats_rollup_day_insert AFTER INSERT ON stats
        REFERENCING NEW TABLE AS new_stats
        FOR EACH STATEMENT EXECUTE FUNCTION rollup_day_mark_new()
    """,
    """
    CREATE TRIGGER stats_rollup_day_update AFTER UPDATE ON stats
        REFERENCING OLD TABLE AS old_stats NEW TABLE AS new_stats
        FOR EACH STATEMENT EXECUTE FUNCTION rollup_day_mark_both()
    """,
    """
    CREATE TRIGGER stats_rollup_day_delete AFTER DELETE ON stats
        REFERENCING OLD TABLE AS old_stats
        FOR EACH STATEMENT EXECUTE FUNCTION rollup_day_mark_old()
    """,
    """
    CREATE TRIGGER client_rollup_day_local AFTER UPDATE OF local ON client
        FOR EACH ROW WHEN (OLD.local IS DISTINCT FROM NEW.local)
        EXECUTE FUNCTION rollup_day_mark_client()
    """,
]
POSTGRESQL_DOWN = [
    "DROP TRIGGER IF EXISTS client_rollup_day_local ON client",
    "DROP TRIGGER IF EXISTS stats_rollup_day_delete ON stats",
    "DROP TRIGGER IF EXISTS stats_rollup_day_update ON stats",
    "DROP TRIGGER IF EXISTS stats_rollup_day_insert ON stats",
    "DROP FUNCTION IF EXISTS rollup_day_mark_client()",
    "DROP FUNCTION IF EXISTS rollup_day_mark_both()",
    "DROP FUNCTION IF EXISTS rollup_day_mark_old()",
    "DROP FUNCTION IF EXISTS rollup_day_mark_new()",
]

# SQLite has a single writer, so a day already marked needs no second mark (readers rebuild
# and unmark in one write transaction): this keeps bulk loads from piling up marks.
_MARK = """INSERT INTO rollup_day_stale (type, date) SELECT {row}.type, {row}.date
        WHERE NOT EXISTS (SELECT 1 FROM rollup_day_stale WHERE type = {row}.type AND date = {row}.date);"""
SQLITE_UP = [
    f"CREATE TRIGGER stats_rollup_day_insert AFTER INSERT ON stats BEGIN {_MARK.format(row='NEW')} END",
    f"""CREATE TRIGGER stats_rollup_day_update AFTER UPDATE ON stats BEGIN
        {_MARK.format(row="OLD")} {_MARK.format(row="NEW")} END""",
    f"CREATE TRIGGER stats_rollup_day_delete AFTER DELETE ON stats BEGIN {_MARK.format(row='OLD')} END",
    """CREATE TRIGGER client_rollup_day_local AFTER UPDATE OF local ON client
        WHEN OLD.local IS NOT NEW.local BEGIN
        INSERT INTO rollup_day_stale (type, date) SELECT DISTINCT type, date FROM stats WHERE client_id = NEW.id;
        END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS client_rollup_day_local",
    "DROP TRIGGER IF EXISTS stats_rollup_day_delete",
    "DROP TRIGGER IF EXISTS stats_rollup_day_update",
    "DROP TRIGGER IF EXISTS stats_rollup_day_insert",
]


def _statements(up: bool) -> list[str]:
    if op.get_bind().dialect.name == "postgresql":
        return POSTGRESQL_UP if up else POSTGRESQL_DOWN
    return SQLITE_UP if up else SQLITE_DOWN


def upgrade():
    op.create_table(
        "rollup_day",
        sa.Column("id", BigId, nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("local", sa.Boolean(), nullable=False),
        sa.Column("k1", sa.String(length=255), nullable=False),
        sa.Column("k2", sa.String(length=255), nullable=False),
        sa.Column("k3", sa.String(length=255), nullable=False),
        sa.Column("k4", sa.String(length=255), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("n", sa.Float(), nullable=False),
        sa.Column("s1", sa.Float(), nullable=False),
        sa.Column("s2", sa.Float(), nullable=False),
        sa.Column("s3", sa.Float(), nullable=False),
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
    with op.batch_alter_table("rollup_day_stale", schema=None) as batch_op:
        batch_op.create_index("ix_rollup_day_stale_type_date", ["type", "date"], unique=False)
    for statement in _statements(up=True):
        op.execute(statement)
    # every day already stored is built on first read
    op.execute("INSERT INTO rollup_day_stale (type, date) SELECT DISTINCT type, date FROM stats")


def downgrade():
    for statement in _statements(up=False):
        op.execute(statement)
    with op.batch_alter_table("rollup_day_stale", schema=None) as batch_op:
        batch_op.drop_index("ix_rollup_day_stale_type_date")
    op.drop_table("rollup_day_stale")
    op.drop_table("rollup_day")
