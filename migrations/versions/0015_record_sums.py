"""stats rows hold their own sums per key: a selection of analyses is summed from them

Revision ID: 0015
Revises: 0014

A Front Office asks its series with ``anrs`` (its user's analyses); those answers exploded the
selected records' JSON at every request. Each record now carries its own sums per key in its row
(``storage.record_sums``: key ids, weights when they differ from the record's, and the sums of
``n × m1..m3`` in hundredths or as floats), written by the statement that writes the record. The
records already stored are exploded here once, in batches.

``client_day`` loses its two foreign keys: an upload writes a few hundred of its rows, and the
per-row checks of the client and the key cost more than the rows (measured on 5-record uploads:
7 → 2.5 ms of statement time); a deleted client's rows are deleted with its records. Its primary
key becomes (client, key, day): a Front Office's series over all its analyses reads each asked
key's range of days instead of every key of the client's days.
"""

import orjson
import sqlalchemy as sa
from alembic import op
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BATCH = 1000


def _columns() -> list[sa.Column]:
    ints = postgresql.ARRAY(sa.Integer())
    small = postgresql.ARRAY(sa.SmallInteger())
    floats = postgresql.ARRAY(sa.Float())
    sqlite = op.get_bind().dialect.name != "postgresql"

    def kind(array: sa.types.TypeEngine) -> sa.types.TypeEngine:
        return sa.JSON() if sqlite else array

    return [
        sa.Column("sum_keys", kind(ints), nullable=True),
        sa.Column("sum_n", kind(floats), nullable=True),
        *(sa.Column(f"sum_q{i}", kind(small), nullable=True) for i in (1, 2, 3)),
        *(sa.Column(f"sum_f{i}", kind(floats), nullable=True) for i in (1, 2, 3)),
    ]


def _backfill() -> None:
    """Explode every stored record once, as an upload now does, and write its sums."""
    from statsservice.domain.registry import REGISTRY
    from statsservice.domain.sums import kept_sums, record_sums
    from statsservice.storage.record_sums import COLUMNS, encode

    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    ids = {
        (t, (k1, k2, k3, k4)): i
        for i, t, k1, k2, k3, k4 in bind.execute(text("SELECT id, type, k1, k2, k3, k4 FROM rollup_key"))
    }
    casts = {"sum_keys": "integer[]", "sum_n": "float8[]"}
    casts.update({f"sum_q{i}": "smallint[]" for i in (1, 2, 3)})
    casts.update({f"sum_f{i}": "float8[]" for i in (1, 2, 3)})
    if postgres:
        assign = ", ".join(f"{name} = CAST(:{name} AS {casts[name]})" for name in COLUMNS)
    else:
        assign = ", ".join(f"{name} = :{name}" for name in COLUMNS)
    update = text(f"UPDATE stats SET {assign} WHERE id = :id AND date = :date")
    last = -1
    while True:
        rows = bind.execute(
            text("SELECT id, date, type, data, n FROM stats WHERE id > :last ORDER BY id LIMIT :batch"),
            {"last": last, "batch": BATCH},
        ).all()
        if not rows:
            break
        updates = []
        for record_id, day, stats_type, data, n in rows:
            if isinstance(data, str | bytes):
                data = orjson.loads(data)
            kind = REGISTRY[stats_type]
            sums = kept_sums(record_sums(kind, [(data, n)]), kind.record_sums_match)
            missing = [(stats_type, key) for key in sums if (stats_type, key) not in ids]
            for t, key in missing:  # keys a record holds are in the dictionary already; just in case
                bind.execute(
                    text(
                        "INSERT INTO rollup_key (type, k1, k2, k3, k4) VALUES (:t, :k1, :k2, :k3, :k4) "
                        "ON CONFLICT DO NOTHING"
                    ),
                    {"t": t, "k1": key[0], "k2": key[1], "k3": key[2], "k4": key[3]},
                )
                ids[(t, key)] = bind.scalar(
                    text(
                        "SELECT id FROM rollup_key WHERE type = :t AND k1 = :k1 AND k2 = :k2 "
                        "AND k3 = :k3 AND k4 = :k4"
                    ),
                    {"t": t, "k1": key[0], "k2": key[1], "k3": key[2], "k4": key[3]},
                )
            values = encode(sums, ids, stats_type, n)
            if not postgres:
                values = {k: None if v is None else orjson.dumps(v).decode() for k, v in values.items()}
            updates.append({"id": record_id, "date": day, **values})
        bind.execute(update, updates)
        last = rows[-1][0]


def _client_day(foreign_keys: bool) -> sa.Table:
    """``client_day`` as SQLite rebuilds it: before this revision (foreign keys, primary key
    (client, day, key)) or after it."""
    keys = []
    if foreign_keys:
        keys = [
            sa.ForeignKeyConstraint(["client_id"], ["client.id"], ondelete="CASCADE"),
            sa.ForeignKeyConstraint(["key_id"], ["rollup_key.id"]),
        ]
    return sa.Table(
        "client_day",
        sa.MetaData(),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("n", sa.Float(), nullable=False),
        sa.Column("s1", sa.Float(), nullable=False),
        sa.Column("s2", sa.Float(), nullable=False),
        sa.Column("s3", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            *(("client_id", "date", "key_id") if foreign_keys else ("client_id", "key_id", "date")),
            name="client_day_pkey",
        ),
        sa.Index("ix_client_day_date_key", "date", "key_id"),
        *keys,
    )


def _client_day_keys(present: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        if present:
            op.execute(
                "ALTER TABLE client_day ADD CONSTRAINT client_day_client_id_fkey FOREIGN KEY (client_id) "
                "REFERENCES client (id) ON DELETE CASCADE"
            )
            op.execute(
                "ALTER TABLE client_day ADD CONSTRAINT client_day_key_id_fkey FOREIGN KEY (key_id) "
                "REFERENCES rollup_key (id)"
            )
        else:
            op.execute("ALTER TABLE client_day DROP CONSTRAINT client_day_client_id_fkey")
            op.execute("ALTER TABLE client_day DROP CONSTRAINT client_day_key_id_fkey")
        columns = "client_id, date, key_id" if present else "client_id, key_id, date"
        op.execute("ALTER TABLE client_day DROP CONSTRAINT client_day_pkey")
        op.execute(f"ALTER TABLE client_day ADD CONSTRAINT client_day_pkey PRIMARY KEY ({columns})")
        return
    with op.batch_alter_table("client_day", copy_from=_client_day(present), recreate="always"):
        pass


def upgrade():
    _client_day_keys(False)
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        for column in _columns():
            op.add_column("stats", column)
    else:
        with op.batch_alter_table("stats") as batch:
            for column in _columns():
                batch.add_column(column)
    _backfill()
    if postgres:
        op.execute("ALTER TABLE stats ALTER COLUMN sum_keys SET NOT NULL")
    else:
        with op.batch_alter_table("stats") as batch:
            batch.alter_column("sum_keys", existing_type=sa.JSON(), nullable=False)


def downgrade():
    _client_day_keys(True)
    names = [column.name for column in _columns()]
    if op.get_bind().dialect.name == "postgresql":
        for name in names:
            op.drop_column("stats", name)
        return
    with op.batch_alter_table("stats") as batch:
        for name in names:
            batch.drop_column(name)
