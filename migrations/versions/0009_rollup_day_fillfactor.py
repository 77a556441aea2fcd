"""rollup_day: free room in each page (fillfactor 70) for its in-place updates

Revision ID: 0009
Revises: 0008

Every upload of a day updates that day's ``rollup_day`` rows in place. On PostgreSQL an update
that changes no indexed column is a heap-only (HOT) update when the page has room for the new
version, and the dead version is pruned by later reads of that page without waiting for the
vacuum: the table keeps its size through a night of uploads. Existing pages get the room at
their next rewrite (``VACUUM FULL``); new pages at once. SQLite has no such setting.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE rollup_day SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE rollup_day RESET (fillfactor)")
