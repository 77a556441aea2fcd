"""Database models. Schema changes go through ``migrations/`` (tests compare the two)."""

from __future__ import annotations

import uuid as uuid_mod
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

from statsservice.clock import utcnow
from statsservice.extensions import db

JSONType = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements only INTEGER keys


class NumberArray(TypeDecorator):
    """A list of numbers: a native array on PostgreSQL (summed there with ``unnest``), a JSON list
    on SQLite. PostgreSQL gets it as the array's text (``{1,2.5}``, Python's shortest exact float
    text, read back as the same float8): psycopg dumps a list element by element in Python, which
    cost an upload of five records 2 ms."""

    impl = JSON
    cache_ok = True

    def __init__(self, item: type[TypeEngine]):
        super().__init__()
        self.item = item

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(self.item))
        return dialect.type_descriptor(JSON())

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "postgresql":
            return super().bind_processor(dialect)

        def text(value: list | None) -> str | None:  # not the array's own processor: a text
            return None if value is None else "{" + ",".join(map(repr, value)) + "}"

        return text


KeyArray = NumberArray(Integer)
ScaledArray = NumberArray(SmallInteger)
FloatArray = NumberArray(Float)

ROLE_USER = 1
ROLE_ADMIN = 2


def new_uuid() -> str:
    return str(uuid_mod.uuid4())


class Client(db.Model):
    """A MONARC instance (or, on a global hub, another hub) allowed to use the API."""

    __tablename__ = "client"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    role: Mapped[int] = mapped_column(Integer, default=ROLE_USER)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    is_sharing_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: demo data (``stats_demo``): on this hub's dashboard and map, never pushed upward
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    local: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    stats: Mapped[list[Stats]] = relationship(
        back_populates="client", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN


class Stats(db.Model):
    """One snapshot: a client's analysis (anr), of one type, on one day.

    ``n`` is the weight: 1 for a record uploaded by a MONARC instance, the number of
    analyses behind it for a federation aggregate (SPEC §7).
    """

    __tablename__ = "stats"
    # on PostgreSQL the table is partitioned by month (``storage.partitions``, migration 0011): its
    # unique keys hold ``date``, the partition key, and its primary key is (id, date)
    __table_args__ = (
        UniqueConstraint("client_id", "anr", "type", "date", name="uq_stats_client_anr_type_date"),
        UniqueConstraint("uuid", "date", name="uq_stats_uuid_date"),
        Index("ix_stats_type_date", "type", "date"),
        Index("ix_stats_client_type_date", "client_id", "type", "date"),
        Index("ix_stats_anr", "anr"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), default=new_uuid)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    anr: Mapped[str] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(32))
    date: Mapped[date] = mapped_column(Date)
    data: Mapped[object] = mapped_column(JSONType)
    n: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    #: times an upload replaced the record: the upsert tells a replacement by it (0: just inserted)
    replacements: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: the record's own sums per key, written with it (``storage.record_sums``): what a selection
    #: of analyses is summed from. ``sum_keys``: ``rollup_key`` ids, ascending; per key its weight
    #: (``sum_n``, None when every key weighs the record's ``n``) and its sums of ``n × m1..m3``,
    #: each either in hundredths (``sum_q*``, when exact in a smallint) or as floats (``sum_f*``),
    #: or neither when all zero
    sum_keys: Mapped[list[int]] = mapped_column(KeyArray)
    sum_n: Mapped[list[float] | None] = mapped_column(FloatArray, nullable=True)
    sum_q1: Mapped[list[int] | None] = mapped_column(ScaledArray, nullable=True)
    sum_q2: Mapped[list[int] | None] = mapped_column(ScaledArray, nullable=True)
    sum_q3: Mapped[list[int] | None] = mapped_column(ScaledArray, nullable=True)
    sum_f1: Mapped[list[float] | None] = mapped_column(FloatArray, nullable=True)
    sum_f2: Mapped[list[float] | None] = mapped_column(FloatArray, nullable=True)
    sum_f3: Mapped[list[float] | None] = mapped_column(FloatArray, nullable=True)

    client: Mapped[Client] = relationship(back_populates="stats")


class RollupKey(db.Model):
    """The dictionary of element keys: one row per (type, k1..k4) ever stored, so the per-day sums
    carry a narrow integer instead of four strings. Rows are never deleted (ids stay valid); the
    key with every part empty stands for the records themselves."""

    __tablename__ = "rollup_key"
    __table_args__ = (UniqueConstraint("type", "k1", "k2", "k3", "k4", name="uq_rollup_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    k1: Mapped[str] = mapped_column(String(255), default="")
    k2: Mapped[str] = mapped_column(String(255), default="")
    k3: Mapped[str] = mapped_column(String(255), default="")
    k4: Mapped[str] = mapped_column(String(255), default="")


class ClientDay(db.Model):
    """One client's records of a day summed per element key: what exploding each of them gives
    (``StatsType.explode``), added up over the client's analyses. Written at upload, in the upload's
    transaction (``statsservice.storage.sums``); the per-client level the release rules need
    (organisations behind a key, the share of the largest one), the push and the map.

    ``entries`` rows were summed (for the records key: records), ``n`` is their total weight and
    ``s1..s3`` the sums of ``n × m1..m3``.
    """

    __tablename__ = "client_day"
    #: primary key (client, key, day) (migration 0013; it was (client, day, key)): a Front Office's
    #: series reads each asked key's range of days, where it read every key of every type of the
    #: client's days (50,000 rows for 1,300 at M, 8.6 → under 1 ms); the days across clients are
    #: read through the second index (releases, pushes, the map)
    __table_args__ = (
        PrimaryKeyConstraint("client_id", "key_id", "date", name="client_day_pkey"),
        Index("ix_client_day_date_key", "date", "key_id"),
    )

    #: no foreign keys (migration 0013): each upload writes a few hundred rows, and checking the
    #: client and the key of each row cost more than writing it (7 → 2.5 ms per Front Office
    #: request, measured); the ids come from the dictionary, whose rows are never deleted, and a
    #: client's rows go with its records (``storage.clients.delete_client``)
    client_id: Mapped[int] = mapped_column(Integer)
    date: Mapped[date] = mapped_column(Date)
    key_id: Mapped[int] = mapped_column(Integer)
    entries: Mapped[int] = mapped_column(Integer)
    n: Mapped[float] = mapped_column(Float)
    s1: Mapped[float] = mapped_column(Float)
    s2: Mapped[float] = mapped_column(Float)
    s3: Mapped[float] = mapped_column(Float)


class ClientLabel(db.Model):
    """The labels one client last uploaded for a knowledge-base item (threat, vulnerability,
    referential, category). Per client, so nobody renames an object for everyone; whole-hub
    answers use the labels most clients use. Deleted with their client."""

    __tablename__ = "client_label"
    __table_args__ = (
        UniqueConstraint("client_id", "type", "key", name="uq_client_label_client_type_key"),
        Index("ix_client_label_type_key", "type", "key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(255))
    labels: Mapped[object] = mapped_column(JSONType)


class FederationDelivery(db.Model):
    """The release of one (type, day) to the global hub: an outbox row.

    A day is released once (SPEC §7): its ``payload`` is fixed when first planned and only that
    payload is ever sent, retried while ``status`` is ``pending``; then ``delivered`` (or
    ``withdrawn`` by an operator). ``digest`` is the SHA-256 of the payload.
    """

    __tablename__ = "federation_delivery"
    __table_args__ = (UniqueConstraint("type", "date", name="uq_federation_delivery_type_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    date: Mapped[date] = mapped_column(Date)
    digest: Mapped[str] = mapped_column(String(64))
    analyses: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    payload: Mapped[object | None] = mapped_column(JSONType, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class CommunitySeries(db.Model):
    """A processed series fetched from the global hub by ``stats_pull`` (read-only, replaced)."""

    __tablename__ = "community_series"
    __table_args__ = (UniqueConstraint("processor", "period", name="uq_community_series_processor_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    processor: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[object] = mapped_column(JSONType)
    fetched_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class JobStatus(db.Model):
    """Outcome of the last run of a scheduled command (push, pull, purge), for /metrics.

    Kept in the database because cron runs them in short-lived processes and any app node may be
    the one Prometheus scrapes.
    """

    __tablename__ = "job_status"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    last_run_at: Mapped[datetime] = mapped_column(DateTime)
    last_ok: Mapped[bool] = mapped_column(Boolean)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive failed runs


class RollupDay(db.Model):
    """The public day sums: what every whole-hub answer and public face reads (SPEC §7).

    One row per (key, day, ``local``). ``local`` rows are this hub's public releases
    (``PublicRelease``), written once when the day is released, exploded from the release's
    payload. Other rows are the aggregates other hubs released (a global hub's hub clients),
    ``client_day`` summed over those hubs at their upload: they were released by their hub.
    ``clients`` is the number of organisations (hubs) behind the row and ``top`` the largest share
    one of them holds (0 for a release: its cells passed the rules when it was made).
    """

    __tablename__ = "rollup_day"

    key_id: Mapped[int] = mapped_column(ForeignKey("rollup_key.id"), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    local: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    entries: Mapped[int] = mapped_column(Integer)
    n: Mapped[float] = mapped_column(Float)
    s1: Mapped[float] = mapped_column(Float)
    s2: Mapped[float] = mapped_column(Float)
    s3: Mapped[float] = mapped_column(Float)
    #: distinct organisations (clients) behind the key that day
    clients: Mapped[int] = mapped_column(Integer)
    #: the largest share one organisation holds of any of ``s1..s3`` (dominance rule)
    top: Mapped[float] = mapped_column(Float)


class PublicRelease(db.Model):
    """This hub's release of one (type, day): made once, when the day is
    ``FEDERATION_DELAY_DAYS`` old, from the sharing organisations' data (SPEC §7).

    ``payload`` is the aggregate record exactly as the push sends it (``stats_push`` copies it to
    the outbox); the public faces read its sums (``rollup_day`` rows with ``local``), its labels
    (``public_label``) and its map areas (``public_area_day``). Nothing public is computed from
    live data, so later uploads, deletions and opt-outs change nothing of a released day.

    ``status``: ``released``; ``withheld`` (too few organisations: looked at again while the day
    is within ``FEDERATION_WINDOW_DAYS``); ``withdrawn`` by an operator (never released again).
    ``period``: ``day`` for an exact release; in DP mode (``FEDERATION_DP``) ``month`` or ``week``:
    the release of a whole period, dated by its first day, its noise fixed here (docs/PRIVACY.md).
    ``demo``: made of demo clients only (shown on this hub, never pushed). ``summed``: its sums
    are in ``rollup_day`` (a release carried over from the outbox by migration 0012 is summed by
    the next ``stats_release``).
    """

    __tablename__ = "public_release"
    __table_args__ = (UniqueConstraint("type", "date", name="uq_public_release_type_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(8), default="day", server_default="day")
    organisations: Mapped[int] = mapped_column(Integer, default=0)
    analyses: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[object | None] = mapped_column(JSONType, nullable=True)
    digest: Mapped[str] = mapped_column(String(64), default="")
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    summed: Mapped[bool] = mapped_column(Boolean, default=True)
    reason: Mapped[str] = mapped_column(String(255), default="")
    #: cells left out by k and by dominance (the push reports them)
    suppressed_k: Mapped[int] = mapped_column(Integer, default=0)
    suppressed_dominance: Mapped[int] = mapped_column(Integer, default=0)
    released_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PublicLabel(db.Model):
    """The labels a release carried for a knowledge-base item (the ones at least k organisations
    use): what public answers name objects with. The newest release wins."""

    __tablename__ = "public_label"

    type: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    labels: Mapped[object] = mapped_column(JSONType)
    date: Mapped[date] = mapped_column(Date)


class PublicAreaDay(db.Model):
    """The map's release: per area (coordinates rounded to 0.1°) of at least k organisations and
    per day, the cells of its organisations that pass the release rules, fixed with the day's
    release. The map sums these over its window: never live data, never a suppressed day."""

    __tablename__ = "public_area_day"
    __table_args__ = (Index("ix_public_area_day_date", "date"),)

    key_id: Mapped[int] = mapped_column(ForeignKey("rollup_key.id"), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    latitude: Mapped[float] = mapped_column(Float, primary_key=True)
    longitude: Mapped[float] = mapped_column(Float, primary_key=True)
    n: Mapped[float] = mapped_column(Float)
    s1: Mapped[float] = mapped_column(Float)
    s2: Mapped[float] = mapped_column(Float)
    s3: Mapped[float] = mapped_column(Float)


class Weather(db.Model):
    """The computed cyber weather (``stats_weather``): what its public faces read, and nothing
    else writes. ``kind``: ``report`` (key ``latest``: the whole weather document of the last
    run), ``warning`` (one row per warning ever raised, key its id: the feed's entries) and
    ``bulletin`` (key ``YYYY-MM``, written once). ``as_of``: the last day the row's data covers."""

    __tablename__ = "weather"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_weather_kind_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(255))
    as_of: Mapped[date] = mapped_column(Date)
    data: Mapped[object] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class DpLedger(db.Model):
    """Every differential-privacy release of this hub, and what it spent (``FEDERATION_DP``).

    One row per measurement set drawn: a (type, period) release, or a type's choice of objects for
    a year (``mechanism`` ``release`` or ``selection``). ``specs`` are the OpenDP measurements'
    parameters: the year's privacy loss is OpenDP's composition of every row of the year, rebuilt
    from them (``domain.federation.privacy``). Rows are never updated nor deleted: a re-planned
    release is a new row that spends again. ``epsilon`` is the year's ε once the row was drawn.
    """

    __tablename__ = "dp_ledger"
    __table_args__ = (Index("ix_dp_ledger_year", "year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(8))
    date: Mapped[date] = mapped_column(Date)
    date_to: Mapped[date] = mapped_column(Date)
    mechanism: Mapped[str] = mapped_column(String(16))
    rho: Mapped[float] = mapped_column(Float)
    epsilon: Mapped[float] = mapped_column(Float)
    delta: Mapped[float] = mapped_column(Float)
    specs: Mapped[object] = mapped_column(JSONType)
    detail: Mapped[object] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class HubPrivacy(db.Model):
    """On a global hub: the differential privacy a hub declared for one of its aggregates (the
    ``dp`` block of a DP release: its period, its yearly budget and noise). An aggregate without one
    is exact. Deleted with the aggregate (a withdrawal) or with the hub client."""

    __tablename__ = "hub_privacy"

    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), primary_key=True)
    anr: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    date: Mapped[date] = mapped_column(Date)
    period: Mapped[str] = mapped_column(String(8))
    date_to: Mapped[date] = mapped_column(Date)
    year: Mapped[int] = mapped_column(Integer)
    epsilon: Mapped[float] = mapped_column(Float)
    delta: Mapped[float] = mapped_column(Float)
    noise: Mapped[object] = mapped_column(JSONType)
