"""rollup: drop ix_rollup_type_date, an index no query uses

Revision ID: 0005
Revises: 0004

Every query on ``rollup`` reaches it through ``stats`` (``ix_rollup_stats``): per-analysis processed
queries, the ``rollup_day`` rebuild, replacing a record's rows. The (type, date, k1) index was never
scanned in the plans of ``make bench`` (docs/PERFORMANCE.md) yet was written for every rollup row
(about 44 per record) at ingest, and was the largest index of the table after its primary key.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("rollup", schema=None) as batch_op:
        batch_op.drop_index("ix_rollup_type_date")


def downgrade():
    with op.batch_alter_table("rollup", schema=None) as batch_op:
        batch_op.create_index("ix_rollup_type_date", ["type", "date", "k1"], unique=False)
