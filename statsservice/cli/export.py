"""``flask stats_export``: the whole history as Parquet or CSV files in Hive layout
(``DIR/type=threat/date=2026-01-05/part-0.parquet``), for data lakes that outgrow one PostgreSQL.

Records are streamed from the database in (type, date) order, so each partition is written once,
in bounded row groups; nothing is held beyond one row group. Files are written into a hidden
staging folder inside ``DIR`` and moved into place only when the export is complete.
"""

from __future__ import annotations

import csv
import shutil
import sys
import tempfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
import pyarrow as pa
import pyarrow.parquet as pq
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import Select, func, select

from statsservice.cli.options import DAY
from statsservice.domain.export import DATE, FLOAT, INT, RECORD_COLUMNS, STRING, TABLES, Column
from statsservice.domain.registry import TYPE_NAMES
from statsservice.extensions import db
from statsservice.observability.cli import command
from statsservice.storage.models import Client, Stats
from statsservice.text import plural

ROW_GROUP = 50_000  # rows buffered per file before they are written
FETCH = 500  # records fetched from the database at a time
PARTITIONINGS = {"type": ("type",), "type,date": ("type", "date"), "type,month": ("type", "month")}
ARROW_TYPES = {STRING: pa.string(), INT: pa.int64(), FLOAT: pa.float64(), DATE: pa.date32()}


def _cast(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == FLOAT:
        return float(value)
    if kind == INT:
        return int(value)
    return value


class PartitionFile:
    """One partition's ``part-0`` file, written in row groups."""

    def __init__(self, path: Path, columns: Sequence[Column], fmt: str):
        self.path, self.columns, self.fmt = path, tuple(columns), fmt
        self.buffer: list[tuple] = []
        self.rows = 0
        self._writer: Any = None
        self._handle: Any = None
        path.parent.mkdir(parents=True, exist_ok=True)

    def add(self, row: tuple) -> None:
        self.buffer.append(row)
        if len(self.buffer) >= ROW_GROUP:
            self.flush()

    def flush(self) -> None:
        if self.fmt == "parquet":
            self._flush_parquet()
        else:
            self._flush_csv()
        self.rows += len(self.buffer)
        self.buffer = []

    def _flush_parquet(self) -> None:
        schema = pa.schema([pa.field(c.name, ARROW_TYPES[c.kind], c.nullable) for c in self.columns])
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, schema, compression="zstd")
        values = list(zip(*self.buffer, strict=True)) if self.buffer else [()] * len(self.columns)
        arrays = [
            pa.array([_cast(c.kind, v) for v in column], type=ARROW_TYPES[c.kind])
            for c, column in zip(self.columns, values, strict=True)
        ]
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=schema))

    def _flush_csv(self) -> None:
        if self._handle is None:
            self._handle = self.path.open("w", newline="", encoding="utf-8")
            self._csv = csv.writer(self._handle)
            self._csv.writerow([c.name for c in self.columns])
        for row in self.buffer:
            self._csv.writerow(
                ["" if v is None else v.isoformat() if isinstance(v, date) else v for v in row]
            )

    def close(self) -> None:
        self.flush()
        if self._writer is not None:
            self._writer.close()
        if self._handle is not None:
            self._handle.close()


def _partition(keys: Sequence[str], stats_type: str, day: date) -> tuple[str, ...]:
    values = {"type": stats_type, "date": day.isoformat(), "month": day.strftime("%Y-%m")}
    return tuple(f"{key}={values[key]}" for key in keys)


def _query(types: Sequence[str], date_from: date | None, date_to: date | None) -> tuple[Select, Select]:
    """The records to export in partition order (streamed), and how many there are."""
    query = select(
        Stats.type,
        Stats.date,
        Client.uuid.label("client_uuid"),
        Stats.anr,
        Stats.uuid.label("record_uuid"),
        Stats.n,
        Stats.data,
    ).join(Client, Client.id == Stats.client_id)
    count = select(func.count()).select_from(Stats)
    conditions = [Stats.type.in_(list(types))]
    if date_from:
        conditions.append(Stats.date >= date_from)
    if date_to:
        conditions.append(Stats.date <= date_to)
    query = query.where(*conditions).order_by(Stats.type, Stats.date, Stats.id)
    return query.execution_options(yield_per=FETCH), count.where(*conditions)


def export(
    staging: Path, fmt: str, keys: Sequence[str], types: Sequence[str], date_from, date_to, bar
) -> dict:
    """Write the selected records under ``staging``; return counts."""
    query, _count = _query(types, date_from, date_to)
    dropped = {key for key in keys if key in ("type", "date")}  # Hive keeps these in the path only
    current: PartitionFile | None = None
    current_key: tuple[str, ...] | None = None
    records = rows = files = pending = 0
    for record in db.session.execute(query):
        key = _partition(keys, record.type, record.date)
        if key != current_key:
            if current is not None:
                current.close()
                rows += current.rows
            table = TABLES[record.type]
            columns = [c for c in RECORD_COLUMNS if c.name not in dropped] + list(table.columns)
            current = PartitionFile(
                staging.joinpath(*key, f"part-0.{'parquet' if fmt == 'parquet' else 'csv'}"), columns, fmt
            )
            current_key, files = key, files + 1
        head = {**record._mapping, "record_n": record.n}
        prefix = tuple(head[c.name] for c in RECORD_COLUMNS if c.name not in dropped)
        for row in TABLES[record.type].rows(record.data, record.n):
            current.add(prefix + tuple(row))
        records += 1
        pending += 1
        if pending >= FETCH:
            bar.update(pending)
            pending = 0
    if current is not None:
        current.close()
        rows += current.rows
    bar.update(pending)
    return {"records": records, "rows": rows, "files": files}


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


@command("stats_export")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder.")
@click.option(
    "--partition-by",
    default="type,date",
    show_default=True,
    help="Hive partitions: 'type', 'type,date' (one folder per day) or 'type,month'.",
)
@click.option(
    "--type", "types", multiple=True, type=click.Choice(TYPE_NAMES), help="Only these types (repeat)."
)
@click.option("--date-from", type=DAY, help="First day (default: the oldest).")
@click.option("--date-to", type=DAY, help="Last day (default: the newest).")
@click.option(
    "--replace", is_flag=True, help="Replace the folders of the exported types from a previous export."
)
@with_appcontext
def stats_export(fmt: str, out: Path, partition_by: str, types, date_from, date_to, replace: bool) -> None:
    """Export stats records as flat Parquet or CSV tables (one column per field) in Hive layout."""
    spec = ",".join(part.strip() for part in partition_by.split(","))
    if spec not in PARTITIONINGS:
        raise click.ClickException(
            f"--partition-by must be one of {', '.join(PARTITIONINGS)} (each type has its own columns), not {partition_by!r}"
        )
    day_from, day_to = _day(date_from), _day(date_to)
    if day_from and day_to and day_from > day_to:
        raise click.ClickException("--date-from is after --date-to")
    types = tuple(dict.fromkeys(types)) or TYPE_NAMES
    out = out.expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"cannot create {out}: {exc.strerror}") from None
    existing = [out / f"type={t}" for t in types if (out / f"type={t}").exists()]
    if existing and not replace:
        raise click.ClickException(
            f"{out} already holds an export of {existing[0].name}; use --replace to replace it"
        )

    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    try:
        total = db.session.scalar(_query(types, day_from, day_to)[1]) or 0
        with click.progressbar(length=total, label="exporting records", file=sys.stderr) as bar:
            counts = export(staging, fmt, PARTITIONINGS[spec], types, day_from, day_to, bar)
        for old in existing:
            shutil.rmtree(old)
        for folder in sorted(staging.iterdir()):
            folder.rename(out / folder.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    click.echo(
        f"exported {plural(counts['records'], 'record')} as {plural(counts['rows'], 'row')} in {plural(counts['files'], fmt + ' file')} "
        f"under {out} (partitioned by {spec})"
    )


def register(app: Flask) -> None:
    app.cli.add_command(stats_export)
