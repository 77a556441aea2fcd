"""differential privacy on a yearly budget: dp_ledger, hub_privacy, public_release.period

Revision ID: 0014
Revises: 0013

DP mode (``FEDERATION_DP``, issue 25) releases a few indicators per period instead of every day,
under one budget per organisation and year: ``dp_ledger`` records each release and what it spent
(OpenDP's measurements, rebuilt to compose the year), ``public_release.period`` tells a period's
release (``month``, ``week``) from a day's (``day``, every row so far), and ``hub_privacy`` keeps,
on a global hub, the budget a hub declared for its DP aggregates.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade():
    with op.batch_alter_table("public_release") as batch:
        batch.add_column(sa.Column("period", sa.String(length=8), server_default="day", nullable=False))
    op.create_table(
        "dp_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("mechanism", sa.String(length=16), nullable=False),
        sa.Column("rho", sa.Float(), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("delta", sa.Float(), nullable=False),
        sa.Column("specs", JSON_TYPE, nullable=False),
        sa.Column("detail", JSON_TYPE, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dp_ledger_year", "dp_ledger", ["year"], unique=False)
    op.create_table(
        "hub_privacy",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("anr", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("delta", sa.Float(), nullable=False),
        sa.Column("noise", JSON_TYPE, nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("client_id", "anr"),
    )


def downgrade():
    """Back to exact releases only: DP releases (periods) and the ledger are dropped."""
    op.drop_table("hub_privacy")
    op.drop_index("ix_dp_ledger_year", table_name="dp_ledger")
    op.drop_table("dp_ledger")
    op.execute("DELETE FROM public_release WHERE period <> 'day'")
    with op.batch_alter_table("public_release") as batch:
        batch.drop_column("period")
