"""stats.data compressed with lz4 on PostgreSQL (where the server has it)

Revision ID: 0010
Revises: 0009

Measured on generator records (7 kB of JSON each on average, `docs/PERFORMANCE.md`): lz4 writes
a record's JSONB a third faster than the default pglz and stores it smaller (pglz gives up on
values whose first kilobyte does not compress). Records written before keep pglz until they are
replaced; both are read alike. A server built without lz4 keeps pglz; SQLite has no such setting.
"""

from alembic import op
from sqlalchemy import text

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

HAS_LZ4 = """SELECT 1 FROM pg_settings
             WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and bind.execute(text(HAS_LZ4)).first():
        op.execute("ALTER TABLE stats ALTER COLUMN data SET COMPRESSION lz4")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE stats ALTER COLUMN data SET COMPRESSION default")
