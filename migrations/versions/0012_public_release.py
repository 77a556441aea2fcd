"""public faces release each day once: public_release, public_label, public_area_day

Revision ID: 0012
Revises: 0011

The public faces (JSON routes, pages, map, whole-hub answers, counts) read only fixed releases
(SPEC §7, issue 27). ``rollup_day`` keeps its shape but its ``local`` rows become this hub's
public releases instead of live sums: the live rows are deleted here and the next
``stats_release`` writes the released ones. Days already pushed keep exactly what was pushed:
each outbox payload becomes the public release of its day (``summed`` false until
``stats_release`` writes its sums), so the push minus the public face is zero for them too.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _top() -> str:
    shares = [f"COALESCE(MAX(c.{s}) / NULLIF(SUM(c.{s}), 0.0), 0.0)" for s in ("s1", "s2", "s3")]
    greatest = "GREATEST" if op.get_bind().dialect.name == "postgresql" else "MAX"
    return f"{greatest}({', '.join(shares)})"


def upgrade():
    op.create_table(
        "public_release",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("organisations", sa.Integer(), nullable=False),
        sa.Column("analyses", sa.Integer(), nullable=False),
        sa.Column("payload", JSON_TYPE, nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("summed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("suppressed_k", sa.Integer(), nullable=False),
        sa.Column("suppressed_dominance", sa.Integer(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("type", "date", name="uq_public_release_type_date"),
    )
    op.create_table(
        "public_label",
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("labels", JSON_TYPE, nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("type", "key"),
    )
    op.create_table(
        "public_area_day",
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("n", sa.Float(), nullable=False),
        sa.Column("s1", sa.Float(), nullable=False),
        sa.Column("s2", sa.Float(), nullable=False),
        sa.Column("s3", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["rollup_key.id"]),
        sa.PrimaryKeyConstraint("key_id", "date", "latitude", "longitude"),
    )
    op.create_index("ix_public_area_day_date", "public_area_day", ["date"], unique=False)
    # live sums of this hub's clients are no longer public: the releases take their place
    op.execute("DELETE FROM rollup_day WHERE local = true")
    # what was pushed is what the public face shows for that day; organisations counted now
    op.execute(
        "INSERT INTO public_release (type, date, status, organisations, analyses, payload, digest, demo, "
        "summed, reason, suppressed_k, suppressed_dominance, released_at) "
        "SELECT d.type, d.date, 'released', "
        "(SELECT COUNT(DISTINCT s.client_id) FROM stats s JOIN client c ON c.id = s.client_id "
        " WHERE s.type = d.type AND s.date = d.date AND c.local = true AND c.is_sharing_enabled = true "
        " AND c.is_demo = false), "
        "d.analyses, d.payload, d.digest, false, false, '', 0, 0, COALESCE(d.delivered_at, CURRENT_TIMESTAMP) "
        "FROM federation_delivery d WHERE d.status IN ('pending', 'delivered') AND d.payload IS NOT NULL"
    )


def downgrade():
    """Back to live sums: ``rollup_day``'s local rows recomputed from ``client_day``."""
    op.drop_index("ix_public_area_day_date", table_name="public_area_day")
    op.drop_table("public_area_day")
    op.drop_table("public_label")
    op.drop_table("public_release")
    op.execute("DELETE FROM rollup_day WHERE local = true")
    op.execute(
        "INSERT INTO rollup_day (key_id, date, local, entries, n, s1, s2, s3, clients, top) "
        "SELECT c.key_id, c.date, true, SUM(c.entries), SUM(c.n), SUM(c.s1), SUM(c.s2), SUM(c.s3), "
        f"COUNT(*), {_top()} FROM client_day c JOIN client cl ON cl.id = c.client_id "
        "WHERE cl.local = true GROUP BY c.key_id, c.date"
    )
