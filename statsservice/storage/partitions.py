"""Monthly partitions of ``stats`` on PostgreSQL (declarative range partitioning on ``date``).

Retention then drops a month's table instead of deleting its rows one by one (no dead tuples,
no vacuum, the space is back at once), and a query over a window reads only its months. A
partition is created the first time a record of its month is stored; SQLite keeps one plain
table and everything here is a no-op there.

Creating or dropping a partition takes an exclusive lock on ``stats`` until the transaction ends:
a new month's partition is therefore created in a transaction of its own (milliseconds), unless
the caller's transaction already holds a lock on ``stats`` (it would wait on itself), in which
case it is created in the caller's transaction. An advisory lock serialises the creators so two
uploads of a new month never race on the same name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from sqlalchemy import Connection, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from statsservice.extensions import db
from statsservice.storage.models import Stats

PARENT = "stats"
#: a partition's name: stats_y2026m11 holds November 2026
NAME = re.compile(r"^stats_y(\d{4})m(\d{2})$")
#: pg_advisory_xact_lock key of partition creation (any constant unique to this purpose)
CREATE_LOCK = 0x5747_0001

_MISSING = text(
    "SELECT name FROM unnest(CAST(:names AS text[])) AS name WHERE to_regclass(name) IS NULL "
    "AND EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(:parent))"
)
#: whether this transaction holds a lock that creating a partition would wait for: any lock on
#: ``stats``, or a write lock on ``client`` (the partition's foreign key locks the table it
#: references against writes)
_WOULD_WAIT = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() AND ("
    "relation = to_regclass(:parent) OR (relation = to_regclass('client') "
    "AND mode NOT IN ('AccessShareLock', 'RowShareLock'))))"
)
#: how long a partition's own transaction waits for its locks before the caller's takes over
LOCK_TIMEOUT = "5s"
#: partitions this process saw exist, per database: an upload of a month already seen asks the
#: catalog nothing (it did twice per upload). A partition dropped by another process (the purge
#: drops months wholly before the retention cutoff) makes an insert into it fail: ``forget``
#: empties this and the upload's retry asks again.
_seen: dict[str, set[str]] = {}
_PARTITIONS = text(
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = to_regclass(:parent)"
)


def name_of(month: date) -> str:
    return f"{PARENT}_y{month.year:04d}m{month.month:02d}"


def is_partition(name: str) -> bool:
    """Whether a table is one of the month partitions (migrations and schema checks skip them:
    they are data, not schema)."""
    return NAME.match(name) is not None


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name`` hook: autogenerate and schema comparisons leave partitions out."""
    return not (type_ == "table" and name is not None and is_partition(name))


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def this_and_next_month(day: date) -> list[date]:
    """The months whose partitions the nightly purge makes ahead, so the first upload of a month
    finds its partition and takes no table lock."""
    first = day.replace(day=1)
    return [first, _next_month(first)]


def create_sql(month: date, parent: str = PARENT) -> str:
    first = month.replace(day=1)
    return (
        f"CREATE TABLE IF NOT EXISTS {name_of(first)} PARTITION OF {parent} "
        f"FOR VALUES FROM ('{first.isoformat()}') TO ('{_next_month(first).isoformat()}')"
    )


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def ensure(days: Iterable[date], session: Session | None = None) -> None:
    """Make sure the partitions of the months of ``days`` exist before records of them are stored
    (through ``session``, the app's by default)."""
    session = session or db.session()
    if session.get_bind().dialect.name != "postgresql":
        return
    months = sorted({day.replace(day=1) for day in days})
    if not months:  # an upload whose records were all refused
        return
    seen = _seen.setdefault(str(session.get_bind().url), set())
    names = [name_of(m) for m in months]
    if seen.issuperset(names):
        return
    missing = session.scalars(_MISSING, {"names": names, "parent": PARENT}).all()
    seen.update(name for name in names if name not in missing)
    if not missing:
        return
    wanted = [m for m in months if name_of(m) in missing]
    if not session.scalar(_WOULD_WAIT, {"parent": PARENT}):
        try:
            with db.engine.begin() as conn:
                conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                _create(conn, wanted)
            return
        except OperationalError:  # a lock of the caller's the check did not foresee
            pass
    _create(session.connection(), wanted)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: object, _instances: object) -> None:
    """Records added through the ORM (scripts, tests) find their month's partition too; uploads
    store with one INSERT statement and call ``ensure`` themselves."""
    days = {obj.date for obj in session.new if isinstance(obj, Stats)}
    if days:
        ensure(days, session)


def _create(conn: Connection, months: list[date]) -> None:
    """Create the partitions (they are remembered once their transaction commits: the next
    upload of the month finds them in the catalog)."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CREATE_LOCK})
    for month in months:
        conn.execute(text(create_sql(month)))


def forget() -> None:
    """Forget which partitions exist (an insert found one missing: ask the catalog again)."""
    _seen.clear()


def existing() -> dict[date, str]:
    """The month partitions of ``stats``, by first day of the month (none on SQLite)."""
    if not _postgres():
        return {}
    out = {}
    for name in db.session.scalars(_PARTITIONS, {"parent": PARENT}):
        found = NAME.match(name)
        if found is not None:
            out[date(int(found[1]), int(found[2]), 1)] = name
    return out


def drop_before(cutoff: date) -> int:
    """Drop the partitions whose whole month lies before ``cutoff``; the records they held, counted.
    The caller's transaction holds the exclusive lock on ``stats`` until it commits."""
    removed = 0
    for month, name in sorted(existing().items()):
        if _next_month(month) <= cutoff:
            removed += db.session.scalar(text(f"SELECT count(*) FROM {name}")) or 0
            db.session.execute(text(f"DROP TABLE {name}"))
            forget()
    return removed


__all__ = [
    "create_sql",
    "drop_before",
    "ensure",
    "existing",
    "forget",
    "include_name",
    "is_partition",
    "name_of",
    "this_and_next_month",
]
