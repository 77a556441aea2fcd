"""privacy: per-organisation counts in rollup_day, labels per client, a release-once outbox

Revision ID: 0006
Revises: 0005

``rollup_day`` gains ``clients`` (distinct organisations behind a key on a day) and ``top`` (the
largest share one organisation holds of the key's sums), so whole-hub answers can suppress cells
below k or dominated by one organisation; every existing day is marked stale and rebuilt on
first read. Labels become per client (``client_label``, deleted with their client): the shared
``label`` table, where the last writer won, is dropped — labels come back with the next uploads.
``federation_delivery`` becomes an outbox: the payload of a day is fixed when it is first
released and only that payload is ever sent (``status``: pending, delivered, withdrawn).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade():
    with op.batch_alter_table("rollup_day", schema=None) as batch_op:
        batch_op.add_column(sa.Column("clients", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("top", sa.Float(), nullable=False, server_default="0"))
    op.execute("INSERT INTO rollup_day_stale (type, date) SELECT DISTINCT type, date FROM rollup_day")

    op.create_table(
        "client_label",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("labels", JSONType, nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id", "type", "key", name="uq_client_label_client_type_key"),
    )
    with op.batch_alter_table("client_label", schema=None) as batch_op:
        batch_op.create_index("ix_client_label_type_key", ["type", "key"], unique=False)
    op.drop_table("label")

    with op.batch_alter_table("federation_delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="delivered"))
        batch_op.add_column(sa.Column("payload", JSONType, nullable=True))
        batch_op.alter_column("delivered_at", existing_type=sa.DateTime(), nullable=True)


def downgrade():
    op.execute("DELETE FROM federation_delivery WHERE delivered_at IS NULL")
    with op.batch_alter_table("federation_delivery", schema=None) as batch_op:
        batch_op.alter_column("delivered_at", existing_type=sa.DateTime(), nullable=False)
        batch_op.drop_column("payload")
        batch_op.drop_column("status")
    op.create_table(
        "label",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("labels", JSONType, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("type", "key", name="uq_label_type_key"),
    )
    op.drop_table("client_label")
    with op.batch_alter_table("rollup_day", schema=None) as batch_op:
        batch_op.drop_column("top")
        batch_op.drop_column("clients")
